/**
 * `sum`: a stored file's SHA-256 for a client that holds a file of the same size. The server
 * hashes only a file of exactly the size asked about, within its file size limit, through the
 * confined root; a bounded number at once, one per user, and never the same version twice.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { mkdir, mkdtemp, open, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { deriveCredentials } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { ErrorCode } from '../../src/errors.js';
import { FilesClient } from '../../src/files/client.js';
import { FileSums } from '../../src/files/sums.js';
import type { TcpService } from '../../src/runtime/tcp.js';
import { codeOf } from '../codes.js';
import { fakeServer, loginToFake } from './fake-server.js';
import { serveFilesForTest } from './serve.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('sum against the file service', () => {
  let base: string;
  let store: UserStore;
  let service: TcpService;
  let home: string;
  let client: FilesClient;
  const bytes = randomBytes(200_000);

  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'sockit-files-sum-'));
    store = await openUserStore(path.join(base, 'users.db'));
    await store.add('ann', await deriveCredentials('correct horse', { iterations: 4096 }));
    service = await serveFilesForTest(path.join(base, 'root'), store, { maxFileSize: 300_000 });
    home = path.join(base, 'root', 'ann');
    client = await FilesClient.login({
      host: '127.0.0.1',
      port: service.address.port,
      user: 'ann',
      password: 'correct horse',
      stallTimeoutMs: 1200,
    });
    await mkdir(path.join(home, 'd'), { recursive: true });
    await writeFile(path.join(home, 'd', 'f.bin'), bytes);
  });
  afterEach(() => vi.restoreAllMocks());
  afterAll(async () => {
    client?.close();
    await service?.close();
    await store?.close();
    await rm(base, { recursive: true, force: true });
  });

  it('gives the SHA-256 of a file of the size asked about, with its entry', async () => {
    const answer = await client.sum('d/f.bin', bytes.length);
    expect(answer.sha256).toBe(sha(bytes));
    expect(answer.entry).toMatchObject({ path: 'd/f.bin', type: 'file', size: bytes.length });
    expect(answer.entry.mtime).toBe((await client.stat('d/f.bin')).mtime);
  });

  it('hashes nothing for another size, a folder, or a file above the size limit', async () => {
    const hashed = vi.spyOn(FileSums.prototype, 'sha256');
    const other = await client.sum('d/f.bin', bytes.length - 1);
    expect(other).toEqual({ entry: expect.objectContaining({ size: bytes.length }) });
    expect(await client.sum('d', 0)).toEqual({ entry: expect.objectContaining({ type: 'dir' }) });
    const big = randomBytes(300_001);
    await writeFile(path.join(home, 'big.bin'), big);
    expect(await client.sum('big.bin', big.length)).toEqual({
      entry: expect.objectContaining({ size: big.length }),
    });
    expect(hashed).not.toHaveBeenCalled();
  });

  it('is confined like every request: missing, outside the home, through a link', async () => {
    expect(await codeOf(client.sum('nothing.bin', 1))).toBe(ErrorCode.NOT_FOUND);
    expect(await codeOf(client.sum('../users.db', 1))).toBe(ErrorCode.PATH_DENIED);
    await symlink(path.join(base, 'users.db'), path.join(home, 'link.db'));
    expect(await codeOf(client.sum('link.db', 1))).toBe(ErrorCode.PATH_DENIED);
    // The connection goes on after each refusal.
    expect((await client.sum('d/f.bin', bytes.length)).sha256).toBe(sha(bytes));
  });

  it('says it is at work while a sum takes longer than the client stall timeout', async () => {
    const real = FileSums.prototype.sha256;
    vi.spyOn(FileSums.prototype, 'sha256').mockImplementation(async function (this: FileSums, ...args) {
      await new Promise((r) => setTimeout(r, 2600));
      return real.apply(this, args);
    });
    const seen: number[] = [];
    const answer = await client.sum('d/f.bin', bytes.length, { progress: (n) => seen.push(n) });
    expect(answer.sha256).toBe(sha(bytes));
    expect(seen.length).toBeGreaterThanOrEqual(1);
  });
});

describe('sum against other servers', () => {
  it('refuses before asking a server of protocol version 1 (ERR_UNSUPPORTED)', async () => {
    const asked: string[] = [];
    const old = await fakeServer((request) => {
      asked.push(String(request.op));
    });
    try {
      const c = await loginToFake(old);
      expect(await codeOf(c.sum('a', 1))).toBe(ErrorCode.UNSUPPORTED);
      c.close();
      expect(asked).toEqual([]);
    } finally {
      await old.close();
    }
  });

  it('refuses an answer about another path, or a sum of a file of another size', async () => {
    const hostile = await fakeServer(
      (request, peer) => {
        if (request.path === 'a')
          peer.send({
            ok: true,
            entry: { path: '.bashrc', type: 'file', size: 1, mtime: 0 },
            sha256: sha(Buffer.from('x')),
          });
        else
          peer.send({
            ok: true,
            entry: { path: 'b', type: 'file', size: 2, mtime: 0 },
            sha256: sha(Buffer.from('x')),
          });
      },
      { version: 2 },
    );
    try {
      const login = () => loginToFake(hostile);
      const c = await login();
      expect(await codeOf(c.sum('a', 1))).toBe(ErrorCode.BAD_REQUEST);
      c.close();
      const d = await login();
      expect(await codeOf(d.sum('b', 1))).toBe(ErrorCode.BAD_REPLY);
      d.close();
    } finally {
      await hostile.close();
    }
  });
});

/** A file handle whose reads wait until `open()` is called, counting them. */
function gatedHandle(bytes: Buffer, info: Partial<BigIntStats> = {}) {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const handle = {
    reads: 0,
    open: () => release(),
    read: async (buffer: Buffer, offset: number, length: number, position: number) => {
      handle.reads++;
      await gate;
      const n = bytes.copy(buffer, offset, position, Math.min(bytes.length, position + length));
      return { bytesRead: n, buffer };
    },
    stat: async () => stats,
  };
  const stats = { dev: 1n, ino: 2n, size: BigInt(bytes.length), mtimeNs: 3n, ctimeNs: 4n, ...info };
  return { handle, stats: stats as unknown as BigIntStats, as: handle as never };
}

describe('FileSums', () => {
  it('hashes one version of a file once, and again once it changed', async () => {
    const sums = new FileSums();
    const bytes = randomBytes(3_000_000);
    const first = gatedHandle(bytes);
    first.handle.open();
    expect(await sums.sha256('ann', first.as, first.stats)).toBe(sha(bytes));
    expect(first.handle.reads).toBe(3);
    const again = gatedHandle(bytes);
    again.handle.open();
    expect(await sums.sha256('ann', again.as, again.stats)).toBe(sha(bytes));
    expect(again.handle.reads).toBe(0);
    const changed = gatedHandle(bytes, { ctimeNs: 5n });
    changed.handle.open();
    expect(await sums.sha256('ann', changed.as, changed.stats)).toBe(sha(bytes));
    expect(changed.handle.reads).toBe(3);
  });

  it('gives no sum of a file that changed while it was read', async () => {
    const sums = new FileSums();
    const f = gatedHandle(Buffer.from('abc'));
    f.handle.stat = async () => ({ ...(f.stats as object), mtimeNs: 99n }) as never;
    f.handle.open();
    expect(await sums.sha256('ann', f.as, f.stats)).toBeUndefined();
  });

  it('runs at most maxAtOnce sums, one per user, the others in the order they came', async () => {
    const sums = new FileSums({ maxAtOnce: 2 });
    const a1 = gatedHandle(Buffer.from('a1'), { ino: 11n });
    const a2 = gatedHandle(Buffer.from('a2'), { ino: 12n });
    const b = gatedHandle(Buffer.from('b'), { ino: 13n });
    const c = gatedHandle(Buffer.from('c'), { ino: 14n });
    const done: string[] = [];
    const run = (user: string, f: ReturnType<typeof gatedHandle>, name: string) =>
      sums.sha256(user, f.as, f.stats).then(() => done.push(name));
    const all = [run('ann', a1, 'a1'), run('ann', a2, 'a2'), run('bob', b, 'b'), run('cat', c, 'c')];
    await new Promise((r) => setTimeout(r, 20));
    // ann's second waits for her first; bob takes the other slot; cat waits for a free one.
    expect(sums.running).toBe(2);
    expect([a1.handle.reads, a2.handle.reads, b.handle.reads, c.handle.reads]).toEqual([1, 0, 1, 0]);
    a1.handle.open();
    await new Promise((r) => setTimeout(r, 20));
    // a1's slot goes to a2 (first in line, ann now free), not to cat.
    expect([a2.handle.reads, c.handle.reads]).toEqual([1, 0]);
    b.handle.open();
    await new Promise((r) => setTimeout(r, 20));
    expect(c.handle.reads).toBe(1);
    a2.handle.open();
    c.handle.open();
    await Promise.all(all);
    expect(done).toEqual(['a1', 'b', 'a2', 'c']);
    expect(sums.running).toBe(0);
  });

  it('stops waiting and stops hashing when aborted', async () => {
    const sums = new FileSums({ maxAtOnce: 1 });
    const busy = gatedHandle(randomBytes(3_000_000), { ino: 21n });
    const queued = gatedHandle(Buffer.from('queued'), { ino: 22n });
    const running = new AbortController();
    const waiting = new AbortController();
    const first = sums.sha256('ann', busy.as, busy.stats, { signal: running.signal });
    const second = sums.sha256('bob', queued.as, queued.stats, { signal: waiting.signal });
    await new Promise((r) => setTimeout(r, 20));
    waiting.abort();
    expect(await codeOf(second)).toBe(ErrorCode.ABORTED);
    expect(queued.handle.reads).toBe(0);
    running.abort();
    busy.handle.open();
    // The read under way ends; no further read starts, and the slot is free again.
    expect(await codeOf(first)).toBe(ErrorCode.ABORTED);
    expect(busy.handle.reads).toBe(1);
    const after = gatedHandle(Buffer.from('after'), { ino: 23n });
    after.handle.open();
    expect(await sums.sha256('cat', after.as, after.stats)).toBe(sha(Buffer.from('after')));
    expect(sums.running).toBe(0);
  });
});

describe('sum on a real file through FileSums', () => {
  it('matches the SHA-256 of the bytes on disk', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sockit-sums-'));
    try {
      const bytes = randomBytes(2_500_000);
      await writeFile(path.join(dir, 'f'), bytes);
      const handle = await open(path.join(dir, 'f'));
      try {
        expect(await new FileSums().sha256('ann', handle, await handle.stat({ bigint: true }))).toBe(
          sha(bytes),
        );
      } finally {
        await handle.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
