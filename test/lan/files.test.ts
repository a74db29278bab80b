/**
 * LAN file transfer over real TCP on loopback: files and folders offered and fetched intact,
 * links inside a folder never followed, nothing overwritten; offers served only to their
 * recipient's address and only for what was offered; hostile senders (names that leave the
 * folder, a stream that stalls, more bytes than announced) leave nothing behind.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildDirHeader } from '../../src/lan/attachments.js';
import { FileOffers, fetchAttachment, type OfferedFile } from '../../src/lan/files.js';
import { FileType } from '../../src/lan/ipmsg.js';
import { codeOf } from '../codes.js';

let dir = '';
let server: net.Server;
let port = 0;
const offers = new FileOffers({ requestTimeoutMs: 2000 });
let n = 0;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-lan-files-'));
  server = net.createServer((socket) => offers.handle(socket, 'utf-8'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
function tree(root: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(path.join(root, rel)).sort()) {
    const full = path.join(root, rel, name);
    const st = statSync(full);
    out[path.join(rel, name)] = st.isDirectory() ? 'dir' : sha(full);
    if (st.isDirectory()) Object.assign(out, tree(root, path.join(rel, name)));
  }
  return out;
}

/** A fresh destination folder. */
const dest = () => {
  const d = path.join(dir, `dest-${++n}`);
  mkdirSync(d);
  return d;
};

/** Offers `paths` to 127.0.0.1 (or `to`) under a new message number. */
async function offer(
  paths: string[],
  to = '127.0.0.1',
): Promise<{ files: OfferedFile[]; messageNo: string }> {
  const files = await offers.prepare(paths);
  const number = 1_700_000_000 + ++n;
  offers.add(number, to, files, 'utf-8');
  return { files, messageNo: String(number) };
}

const fetchOpts = (messageNo: string) => ({
  user: 'me',
  host: 'here',
  packetNo: 1,
  messageNo,
  charset: 'utf-8' as const,
});

describe('LAN file transfer', () => {
  it('fetches a file and a folder intact, links in the folder not followed, never over a name', async () => {
    const src = path.join(dir, 'src', 'album');
    mkdirSync(path.join(src, 'a', 'b'), { recursive: true });
    mkdirSync(path.join(src, 'empty'));
    writeFileSync(path.join(src, 'big.bin'), randomBytes(3 * 1024 * 1024 + 5));
    writeFileSync(path.join(src, 'a', 'b', 'deep: one.txt'), 'deep');
    symlinkSync('/etc/hostname', path.join(src, 'a', 'outside-link'));
    const single = path.join(dir, 'src', 'single.txt');
    writeFileSync(single, 'one file');
    const { files, messageNo } = await offer([src, single]);
    const to = dest();
    const from = { address: '127.0.0.1', port };
    const [folder, file] = files as [OfferedFile, OfferedFile];
    expect(await fetchAttachment(from, folder, to, fetchOpts(messageNo))).toMatchObject({ name: 'album' });
    expect(await fetchAttachment(from, file, to, fetchOpts(messageNo))).toEqual({
      name: 'single.txt',
      bytes: 8,
    });
    const { 'a/outside-link': _link, ...withoutLink } = tree(src);
    expect(tree(path.join(to, 'album'))).toEqual(withoutLink);
    // Again: new names, the first ones untouched.
    writeFileSync(path.join(to, 'single.txt'), 'changed here');
    expect(await fetchAttachment(from, file, to, fetchOpts(messageNo))).toMatchObject({
      name: 'single (1).txt',
    });
    expect(await fetchAttachment(from, folder, to, fetchOpts(messageNo))).toMatchObject({
      name: 'album (1)',
    });
    expect(readFileSync(path.join(to, 'single.txt'), 'utf8')).toBe('changed here');
    expect(readdirSync(to).sort()).toEqual(['album', 'album (1)', 'single (1).txt', 'single.txt']);
  });

  it('serves an offer only to its recipient, only what was offered, never a link swapped in', async () => {
    const file = path.join(dir, 'secret-ish.txt');
    writeFileSync(file, 'for 10.9.9.9 only');
    const elsewhere = await offer([file], '10.9.9.9');
    const from = { address: '127.0.0.1', port };
    const to = dest();
    const [f] = elsewhere.files as [OfferedFile];
    expect(await codeOf(fetchAttachment(from, f, to, fetchOpts(elsewhere.messageNo)))).toBe(
      'ERR_CONNECTION_CLOSED',
    );
    const mine = await offer([file]);
    const [g] = mine.files as [OfferedFile];
    expect(await codeOf(fetchAttachment(from, { ...g, id: g.id + 1 }, to, fetchOpts(mine.messageNo)))).toBe(
      'ERR_CONNECTION_CLOSED',
    );
    expect(await codeOf(fetchAttachment(from, g, to, fetchOpts('123')))).toBe('ERR_CONNECTION_CLOSED');
    // A file asked for as a folder.
    expect(
      await codeOf(fetchAttachment(from, { ...g, attr: FileType.DIR }, to, fetchOpts(mine.messageNo))),
    ).toBe('ERR_CONNECTION_CLOSED');
    // The offered file replaced by a link to another file after the offer.
    unlinkSync(file);
    symlinkSync('/etc/passwd', file);
    expect(await codeOf(fetchAttachment(from, g, to, fetchOpts(mine.messageNo)))).toBe(
      'ERR_CONNECTION_CLOSED',
    );
    expect(readdirSync(to)).toEqual([]); // no part file left behind
  });
});

describe('LAN file transfer: what was offered, and nothing else', () => {
  it('serves neither a folder nor a file whose path now leads elsewhere, nor waits on a FIFO', async () => {
    const base = path.join(dir, 'swap');
    mkdirSync(path.join(base, 'shared', 'docs'), { recursive: true });
    writeFileSync(path.join(base, 'shared', 'docs', 'note.txt'), 'the note');
    mkdirSync(path.join(base, 'folder'));
    writeFileSync(path.join(base, 'folder', 'a.txt'), 'a');
    const { files, messageNo } = await offer([
      path.join(base, 'folder'),
      path.join(base, 'shared', 'docs', 'note.txt'),
    ]);
    const [folder, note] = files as [OfferedFile, OfferedFile];
    // The folder swapped for a link to /etc; the file's folder swapped for another.
    renameSync(path.join(base, 'folder'), path.join(base, 'folder.real'));
    symlinkSync('/etc', path.join(base, 'folder'));
    renameSync(path.join(base, 'shared', 'docs'), path.join(base, 'shared', 'docs.real'));
    mkdirSync(path.join(base, 'shared', 'docs'));
    writeFileSync(path.join(base, 'shared', 'docs', 'note.txt'), 'another file at the same path');
    const from = { address: '127.0.0.1', port };
    const to = dest();
    expect(await codeOf(fetchAttachment(from, folder, to, fetchOpts(messageNo)))).toBe(
      'ERR_CONNECTION_CLOSED',
    );
    expect(await codeOf(fetchAttachment(from, note, to, fetchOpts(messageNo)))).toBe('ERR_CONNECTION_CLOSED');
    // A FIFO where the file was: refused at once, the server not stuck on it.
    const fifoFile = path.join(base, 'fifo-to-be.txt');
    writeFileSync(fifoFile, 'x');
    const third = await offer([fifoFile]);
    unlinkSync(fifoFile);
    execFileSync('mkfifo', [fifoFile]);
    expect(
      await codeOf(fetchAttachment(from, third.files[0] as OfferedFile, to, fetchOpts(third.messageNo))),
    ).toBe('ERR_CONNECTION_CLOSED');
    expect(readdirSync(to)).toEqual([]);
    // And the server still serves what is as offered.
    const fine = path.join(base, 'fine.txt');
    writeFileSync(fine, 'fine');
    const ok = await offer([fine]);
    expect(
      await fetchAttachment(from, ok.files[0] as OfferedFile, to, fetchOpts(ok.messageNo)),
    ).toMatchObject({
      name: 'fine.txt',
    });
  });

  it('refuses more than maxBytes', async () => {
    const big = path.join(dir, 'big-one.bin');
    writeFileSync(big, randomBytes(100_000));
    const { files, messageNo } = await offer([big]);
    const to = dest();
    const from = { address: '127.0.0.1', port };
    expect(
      await codeOf(
        fetchAttachment(from, files[0] as OfferedFile, to, { ...fetchOpts(messageNo), maxBytes: 1000 }),
      ),
    ).toBe('ERR_FILE_TOO_LARGE');
    expect(readdirSync(to)).toEqual([]);
  });
});

describe('LAN file transfer from a hostile sender', () => {
  let fake: net.Server;
  let answer: (socket: net.Socket) => void = (s) => s.end();
  let fakePort = 0;

  beforeAll(async () => {
    fake = net.createServer((socket) => {
      socket.once('data', () => answer(socket));
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    fakePort = (fake.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => fake.close(resolve));
  });
  afterEach(() => {
    answer = (s) => s.end();
  });

  const folder = { id: 1, name: 'gift', size: 0, mtime: 0, attr: FileType.DIR };
  const header = (name: string, size: number, attr: number) =>
    buildDirHeader({ name, size, attr, mtime: 0 }, 'utf-8');

  it('refuses folder streams that would leave the folder, and leaves nothing behind', async () => {
    const streams = [
      Buffer.concat([
        header('gift', 0, FileType.DIR),
        header('..', 0, FileType.DIR),
        header('x', 1, FileType.REGULAR),
        Buffer.from('x'),
      ]),
      Buffer.concat([
        header('gift', 0, FileType.DIR),
        header('.', 0, FileType.RETPARENT),
        header('.', 0, FileType.RETPARENT),
      ]),
      Buffer.concat([
        header('gift', 0, FileType.DIR),
        header('../../escape.txt', 1, FileType.REGULAR),
        Buffer.from('x'),
      ]),
      Buffer.concat([
        header('gift', 0, FileType.DIR),
        header('a', 1, FileType.REGULAR),
        Buffer.from('x'),
        header('a', 1, FileType.REGULAR),
        Buffer.from('y'),
      ]),
    ];
    for (const stream of streams) {
      answer = (socket) => socket.end(stream);
      const to = dest();
      await expect(
        fetchAttachment({ address: '127.0.0.1', port: fakePort }, folder, to, fetchOpts('1')),
      ).rejects.toThrow();
      expect(readdirSync(to)).toEqual([]);
    }
    expect(readdirSync(dir).some((name) => name.includes('escape'))).toBe(false);
  });

  it('gives up on a sender that stalls, and keeps no more than the size announced', async () => {
    answer = (socket) => socket.write(Buffer.alloc(10)); // then nothing
    const to = dest();
    const file = { id: 2, name: 'slow.bin', size: 1000, mtime: 0, attr: FileType.REGULAR };
    expect(
      await codeOf(
        fetchAttachment({ address: '127.0.0.1', port: fakePort }, file, to, {
          ...fetchOpts('1'),
          stallMs: 300,
        }),
      ),
    ).toBe('ERR_IDLE_TIMEOUT');
    expect(readdirSync(to)).toEqual([]);
    answer = (socket) => socket.end(Buffer.alloc(5000, 1));
    const saved = await fetchAttachment({ address: '127.0.0.1', port: fakePort }, file, to, fetchOpts('1'));
    expect(saved).toEqual({ name: 'slow.bin', bytes: 1000 });
    expect(statSync(path.join(to, 'slow.bin')).size).toBe(1000);
  });
});
