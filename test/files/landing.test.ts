/**
 * Eager puts land behind the reading: once a small file's bytes are read, the server reads
 * the next request while that file syncs, and names and answers the files in order. What
 * an attack run found in that: a later file refused for want of room an earlier overwrite
 * was about to free; a chained file refused at its check with its own reason when the
 * file before it was refused while landing (the rest of a refused batch is ERR_ABORTED); a
 * connection its peer had cut going on with thousands of buffered requests, no longer
 * counted against any limit; a stopping server storing a file whose answer it never sent.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveCredentials } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { ErrorCode } from '../../src/errors.js';
import { Channel } from '../../src/runtime/channel.js';
import type { TcpService } from '../../src/runtime/tcp.js';
import { sendEagerPut as put, scramLogin } from './raw-login.js';
import { serveFilesForTest, TEST_ITERATIONS } from './serve.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const KiB = 1024;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('eager puts landing behind the reading', () => {
  let base: string;
  let store: UserStore;
  let service: TcpService;

  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'sockit-files-landing-'));
    store = await openUserStore(path.join(base, 'users.db'));
    const credentials = await deriveCredentials('correct horse', { iterations: TEST_ITERATIONS });
    await store.add('ann', credentials);
    await store.add('cat', credentials, { quotaBytes: 1024 * KiB });
    service = await serveFilesForTest(path.join(base, 'root'), store);
  });
  afterAll(async () => {
    await service?.close();
    await store?.close();
    await rm(base, { recursive: true, force: true });
  });

  async function raw(user: string, to: TcpService = service): Promise<Channel> {
    const socket = net.connect(to.address.port, '127.0.0.1');
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const channel = new Channel(socket);
    await scramLogin(channel, user);
    return channel;
  }

  it('checks the quota again once earlier files have landed: an overwrite that frees room counts', async () => {
    const cat = await raw('cat');
    const big = randomBytes(900 * KiB);
    put(cat, 'x.bin', big);
    expect((await cat.receive()).header).toMatchObject({ ok: true });
    // x shrinks to one byte, then y takes the room: as one at a time, both fit in 1 MiB.
    const y = randomBytes(900 * KiB);
    put(cat, 'x.bin', Buffer.from('1'), { overwrite: true });
    put(cat, 'y.bin', y, { chained: true });
    expect((await cat.receive()).header).toMatchObject({ ok: true });
    expect((await cat.receive()).header).toMatchObject({ ok: true, sha256: sha(y) });
    // Over the quota for real: still refused.
    put(cat, 'z.bin', randomBytes(200 * KiB));
    expect((await cat.receive()).header).toMatchObject({ ok: false, code: ErrorCode.QUOTA_EXCEEDED });
    cat.socket.destroy();
    expect((await store.get('cat'))?.usageBytes).toBe(1 + 900 * KiB);
  });

  it('refuses with ERR_ABORTED a chained file checked while the file before it was refused in landing', async () => {
    const ann = await raw('ann');
    await mkdir(path.join(base, 'root', 'ann', 'abort'), { recursive: true });
    await writeFile(path.join(base, 'root', 'ann', 'abort', 'old.bin'), 'here before');
    const data = randomBytes(10 * KiB);
    // The first is refused only once its bytes are in (a wrong hash); the second would be
    // refused at its check for its own reason (it exists), the third after the busy name.
    put(ann, 'abort/new.bin', data, {}, sha(Buffer.from('other bytes')));
    put(ann, 'abort/old.bin', data, { chained: true });
    put(ann, 'abort/old.bin', data, { chained: true, overwrite: true });
    put(ann, 'abort/new.bin', data, { chained: true });
    expect((await ann.receive()).header).toMatchObject({ ok: false, code: ErrorCode.INTEGRITY });
    for (let i = 0; i < 3; i++)
      expect((await ann.receive()).header).toMatchObject({ ok: false, code: ErrorCode.ABORTED });
    // One name: an overwrite refused in landing, then the same name chained without overwrite.
    put(ann, 'abort/old.bin', data, { overwrite: true }, sha(Buffer.from('other bytes')));
    put(ann, 'abort/old.bin', data, { chained: true });
    expect((await ann.receive()).header).toMatchObject({ ok: false, code: ErrorCode.INTEGRITY });
    expect((await ann.receive()).header).toMatchObject({ ok: false, code: ErrorCode.ABORTED });
    ann.socket.destroy();
    expect((await readdir(path.join(base, 'root', 'ann', 'abort'))).sort()).toEqual(['old.bin']);
    expect(await readFile(path.join(base, 'root', 'ann', 'abort', 'old.bin'), 'utf8')).toBe('here before');
  });

  it('takes no new request from a connection its peer has cut, however many are buffered', async () => {
    const ann = await raw('ann');
    await mkdir(path.join(base, 'root', 'ann', 'cut'));
    // 20,000 one-byte files, answers never read, then a reset: without the check the server
    // went on storing them for seconds, the connection no longer counted anywhere.
    const N = 20_000;
    ann.socket.pause();
    for (let i = 0; i < N; i++) put(ann, `cut/${i}`, Buffer.from([i & 0xff]), { chained: i > 0 });
    await sleep(200);
    const stored = async (): Promise<number> => (await readdir(path.join(base, 'root', 'ann', 'cut'))).length;
    const atCut = await stored();
    (ann.socket as net.Socket).resetAndDestroy();
    // Until the count has stayed put for half a second (at most 30 s).
    let last = -1;
    for (let i = 0; i < 60; i++) {
      const now = await stored();
      if (now === last) break;
      last = now;
      await sleep(500);
    }
    // The server holds ~1 MiB of requests read ahead (~4,900 of these puts): after the cut it
    // finishes the file it is on and the ones landing (8), and the few it took before it saw
    // the reset, not the rest.
    expect(last - atCut).toBeLessThan(500);
    expect(last).toBeLessThan(N);
    // What was stored is the batch's first files, each whole; no part is left.
    const names = (await readdir(path.join(base, 'root', 'ann', 'cut'))).map(Number).sort((a, b) => a - b);
    expect(names).toEqual(Array.from({ length: names.length }, (_, i) => i));
    const parts = await readdir(path.join(base, 'root', '.parts', 'ann')).catch(() => []);
    expect(parts.filter((n) => n.endsWith('.part'))).toEqual([]);
  });

  it('a stopping server answers every file it stores', async () => {
    const root = path.join(base, 'stop-root');
    const own = await serveFilesForTest(root, store);
    const ann = await raw('ann', own);
    const sent = Array.from({ length: 10 }, (_, i) => randomBytes(1 + ((i * 7919) % (100 * KiB))));
    for (let i = 0; i < 5; i++) put(ann, `f${i}`, sent[i] as Buffer, { chained: i > 0 });
    const answers: Record<string, unknown>[] = [];
    for (let i = 0; i < 5; i++) answers.push((await ann.receive()).header);
    // The connection waits for a request when the server begins to stop; the next ones come
    // right after: any the server stores, it answers.
    const closing = own.close();
    for (let i = 5; i < 10; i++) put(ann, `f${i}`, sent[i] as Buffer, { chained: true });
    try {
      for (;;) answers.push((await ann.receive()).header);
    } catch {
      // the server closed the connection: so does the client
      ann.socket.end();
    }
    await closing;
    // Every file on disk was answered ok, with its hash, in order; none answered is missing.
    const stored = new Set(await readdir(path.join(root, 'ann')));
    answers.forEach((answer, i) => {
      expect(answer).toMatchObject({ ok: true, sha256: sha(sent[i] as Buffer) });
      expect(stored.has(`f${i}`)).toBe(true);
    });
    expect(stored.size).toBe(answers.length);
  });

  it('a stopping server sees the close of a peer whose requests it had not read yet', async () => {
    const root = path.join(base, 'drain-root');
    // Ten minutes to drain: close() ends only because the connection does, not by the timer.
    const own = await serveFilesForTest(root, store, { drainTimeoutMs: 600_000 });
    const ann = await raw('ann', own);
    // ~4 MiB of requests, more than the server reads ahead (1 MiB): its socket is paused,
    // with the client's close behind what it has not read.
    const sent = Array.from({ length: 40 }, (_, i) => randomBytes(64 * KiB + i));
    for (const [i, data] of sent.entries()) put(ann, `f${i}`, data, { chained: i > 0 });
    const answers: Record<string, unknown>[] = [];
    const reading = (async () => {
      try {
        for (;;) answers.push((await ann.receive()).header);
      } catch {
        ann.socket.end();
      }
    })();
    await sleep(3);
    await own.close();
    await reading;
    expect(answers.length).toBeLessThan(sent.length);
    const stored = new Set(await readdir(path.join(root, 'ann')));
    expect(stored.size).toBe(answers.length);
  });
});
