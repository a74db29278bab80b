/**
 * What an attack run found once paths were walked synchronously and small files went in
 * batches: one connection's buffered requests starved the others; an overwrite racing a
 * removal counted the replaced file twice (a quota bypass); an upload landing while a walk
 * counted the usage could be missed by it (parallel uploads passed the quota); a failed eager upload left its part; a server could
 * list a file named as another's part; a full descriptor table cut connections.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deriveCredentials } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { ErrorCode } from '../../src/errors.js';
import { FilesClient } from '../../src/files/client.js';
import { planTree } from '../../src/files/download.js';
import { asRefusal } from '../../src/files/session-io.js';
import { UserFiles } from '../../src/files/storage.js';
import { Channel } from '../../src/runtime/channel.js';
import type { TcpService } from '../../src/runtime/tcp.js';
import { codeOf } from '../codes.js';
import { onDisk } from './on-disk.js';
import { scramLogin } from './raw-login.js';
import { serveFilesForTest, TEST_ITERATIONS } from './serve.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const KiB = 1024;

describe('file service under attack: batches and synchronous walks', () => {
  let base: string;
  let root: string;
  let store: UserStore;
  let service: TcpService;
  let port: number;

  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'sockit-batch-attack-'));
    root = path.join(base, 'root');
    store = await openUserStore(path.join(base, 'users.db'));
    const credentials = await deriveCredentials('correct horse', { iterations: TEST_ITERATIONS });
    for (const name of ['ann', 'bob']) await store.add(name, credentials);
    await store.add('cat', credentials, { quotaBytes: 1024 * KiB });
    await store.add('dan', credentials, { quotaBytes: 4 * 1024 * KiB });
    service = await serveFilesForTest(root, store);
    port = service.address.port;
  });
  afterAll(async () => {
    await service?.close();
    await store?.close();
    await rm(base, { recursive: true, force: true });
  });

  async function raw(user: string): Promise<Channel> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const channel = new Channel(socket);
    await scramLogin(channel, user);
    return channel;
  }
  const login = (user: string): Promise<FilesClient> =>
    FilesClient.login({ host: '127.0.0.1', port, user, password: 'correct horse' });

  it("answers another user between one connection's buffered requests", async () => {
    const deep = Array.from({ length: 200 }, () => 'd').join('/');
    const ann = await raw('ann');
    ann.send({ op: 'mkdir', path: deep, parents: true });
    expect((await ann.receive()).header.ok).toBe(true);
    const bob = await login('bob');
    // 300 stats of a path 200 folders deep, sent at once, never waited for one by one.
    const N = 300;
    for (let i = 0; i < N; i++) ann.send({ op: 'stat', path: deep });
    let answered = 0;
    const reading = (async () => {
      while (answered < N) {
        expect((await ann.receive()).header.ok).toBe(true);
        answered++;
      }
    })();
    while (answered === 0) await new Promise((resolve) => setImmediate(resolve));
    // The server has begun on them: bob's request comes behind all of ann's buffered ones.
    await bob.stat('.');
    const whenBobWasAnswered = answered;
    await reading;
    // Served in between, not after the whole burst (before: after all 300).
    expect(whenBobWasAnswered).toBeLessThan(N);
    bob.close();
    ann.socket.destroy();
  });

  it('counts an overwritten file once when it is removed while the upload runs', async () => {
    const cat = await login('cat');
    const first = randomBytes(900 * KiB);
    const file = path.join(base, 'f.bin');
    await writeFile(file, first);
    await cat.upload(file, 'f.bin');
    // An overwrite is checked, its bytes held back; meanwhile another connection removes it.
    const over = await raw('cat');
    const second = randomBytes(900 * KiB);
    over.send({ op: 'put', path: 'f.bin', size: second.length, overwrite: true });
    expect((await over.receive()).header).toMatchObject({ ok: true, offset: 0 });
    await cat.remove('f.bin');
    over.send({ op: 'put-from', offset: 0 });
    over.socket.write(second);
    over.send({ op: 'put-end', sha256: sha(second) });
    expect((await over.receive()).header).toMatchObject({ ok: true, sha256: sha(second) });
    // The stored usage is what the disk holds: the removed file counted off once.
    expect((await store.get('cat'))?.usageBytes).toBe(await onDisk(root, 'cat'));
    // So the quota still holds: another 900 KiB does not fit.
    await writeFile(file, randomBytes(900 * KiB));
    expect(await codeOf(cat.upload(file, 'g.bin'))).toBe(ErrorCode.QUOTA_EXCEEDED);
    cat.close();
    over.socket.destroy();
  });

  it('lands no upload while a walk counts the usage, which could miss it', async () => {
    await store.setUsage('dan', 0);
    const data = randomBytes(1024 * KiB);
    // C is checked while the usage is known, and holds its bytes back.
    const c = await raw('dan');
    c.send({ op: 'put', path: 'c.bin', size: data.length });
    expect((await c.receive()).header).toMatchObject({ ok: true, offset: 0 });
    // Then the usage is unknown, and A's check walks the home: held at its start here.
    await store.setUsage('dan', null);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let walking = false;
    const usage = UserFiles.prototype.usage;
    vi.spyOn(UserFiles.prototype, 'usage').mockImplementation(async function (this: UserFiles) {
      walking = true;
      await held;
      return usage.call(this);
    });
    const a = await raw('dan');
    a.send({ op: 'put', path: 'a.bin', size: data.length });
    const aOffer = a.receive();
    while (!walking) await new Promise((resolve) => setTimeout(resolve, 5));
    // C's bytes come now: it must wait for the walk before it lands.
    const events: string[] = [];
    c.send({ op: 'put-from', offset: 0 });
    c.socket.write(data);
    c.send({ op: 'put-end', sha256: sha(data) });
    const cDone = c.receive().then((m) => {
      events.push('c landed');
      return m.header;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    events.push('walk released');
    release();
    expect(await cDone).toMatchObject({ ok: true });
    expect(events).toEqual(['walk released', 'c landed']);
    expect((await aOffer).header).toMatchObject({ ok: true });
    vi.restoreAllMocks();
    c.socket.destroy();
    a.socket.destroy();
  });

  it('leaves no part behind a failed eager upload', async () => {
    const ann = await raw('ann');
    await mkdir(path.join(root, 'ann', 'e'), { recursive: true });
    const data = randomBytes(5000);
    ann.send({ op: 'put', path: 'e/x.bin', size: data.length, eager: true });
    ann.send({ op: 'put-from', offset: 0 });
    ann.socket.write(data);
    ann.send({ op: 'put-end', sha256: sha(randomBytes(10)) }); // a wrong hash
    expect((await ann.receive()).header).toMatchObject({ ok: false, code: ErrorCode.INTEGRITY });
    // Cut in the middle of its bytes.
    ann.send({ op: 'put', path: 'e/y.bin', size: data.length, eager: true });
    ann.send({ op: 'put-from', offset: 0 });
    ann.socket.write(data.subarray(0, 1000));
    await new Promise((resolve) => setTimeout(resolve, 100));
    ann.socket.destroy();
    const bob = await login('ann');
    await bob.stat('e'); // a request after the cut one: the server saw the cut by then
    bob.close();
    for (let i = 0; i < 100; i++) {
      const parts = await readdir(path.join(root, '.parts', 'ann'));
      if (parts.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await readdir(path.join(root, '.parts', 'ann'))).toEqual([]);
  });

  it('refuses a listing that names a file as where another is written while it downloads', () => {
    const file = (p: string) => ({ path: p, type: 'file' as const, size: 1, mtime: 0 });
    expect(() => planTree(path.join(base, 'dl'), [file('x.sockit-part'), file('x')])).toThrow(/sockit-part/);
    expect(planTree(path.join(base, 'dl'), [file('x.sockit-part')])).toHaveLength(1);
  });

  it('answers a full descriptor table with ERR_BUSY, the connection kept', () => {
    const err = Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
    expect(asRefusal(err)?.code).toBe(ErrorCode.BUSY);
  });

  it("refuses with a reason when the server's storage fails, rather than cutting the connection", () => {
    const refused = (code: string) => asRefusal(Object.assign(new Error(`${code}: failed`), { code }));
    expect(refused('EROFS')?.code).toBe(ErrorCode.IO);
    expect(refused('EROFS')?.message).toMatch(/read-only/);
    expect(refused('EIO')?.code).toBe(ErrorCode.IO);
    expect(refused('EFBIG')?.code).toBe(ErrorCode.FILE_TOO_LARGE);
    expect(refused('ETXTBSY')?.code).toBe(ErrorCode.BUSY);
    expect(refused('EBUSY')?.code).toBe(ErrorCode.BUSY);
    expect(refused('ESTALE')?.code).toBe(ErrorCode.IO);
    // A bug stays a bug: not dressed up as a refusal.
    expect(asRefusal(new TypeError('x is undefined'))).toBeUndefined();
  });
});
