/**
 * The file service end to end on loopback, once per account engine (SQLite, MariaDB,
 * PostgreSQL): log-in and its refusals, transfers with SHA-256, resume, atomic placement,
 * path confinement, limits.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveCredentials, ScramClient } from '../../src/auth/scram.js';
import { SecretKey } from '../../src/auth/secret-key.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { Throttle } from '../../src/auth/throttle.js';
import { ErrorCode } from '../../src/errors.js';
import { FilesClient, PART_SUFFIX } from '../../src/files/client.js';
import { throttleKey } from '../../src/files/session.js';
import { Channel } from '../../src/runtime/channel.js';
import type { TcpService } from '../../src/runtime/tcp.js';
import { codeOf } from '../codes.js';
import { createTestDatabase, DB_KINDS, type TestDatabase } from '../databases.js';
import { selfSignedCertificate } from '../tls.js';
import { serveFilesForTest } from './serve.js';

const ITERATIONS = 4096;
const SECRET = SecretKey.generate();
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function messageOf(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (err) {
    return `${(err as { code?: string }).code}: ${(err as Error).message}`;
  }
  return 'resolved';
}

/** Every file under `dir` with its bytes' hash: a snapshot to compare before and after. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out[path.relative(dir, p)] = sha(await readFile(p));
      else out[path.relative(dir, p)] = 'link';
    }
  };
  await walk(dir);
  return out;
}

describe.each(DB_KINDS)('file service with accounts in %s', (kind) => {
  let db: TestDatabase;
  let store: UserStore;
  let service: TcpService;
  let base: string;
  let root: string;
  let port: number;

  const login = (user = 'ann', password = 'correct horse'): Promise<FilesClient> =>
    FilesClient.login({ host: '127.0.0.1', port, user, password });

  /** A client that logs in as ann, starts uploading `path` of `size` bytes, sends `sent` and vanishes. */
  async function cutUpload(remote: string, size: number, sent: Buffer): Promise<void> {
    const socket = net.connect(port, '127.0.0.1');
    const channel = new Channel(socket);
    await channel.receive();
    const scram = new ScramClient('ann', 'correct horse');
    channel.send({ op: 'auth', mechanism: 'SCRAM-SHA-256', data: scram.first() });
    channel.send({
      op: 'auth-final',
      data: await scram.final(String((await channel.receive()).header.data)),
    });
    expect((await channel.receive()).header.ok).toBe(true);
    channel.send({ op: 'put', path: remote, size });
    expect((await channel.receive()).header).toMatchObject({ ok: true, offset: 0 });
    channel.send({ op: 'put-from', offset: 0 });
    await channel.sendBytes(sent);
    await new Promise((r) => setTimeout(r, 200));
    socket.destroy();
    await new Promise((r) => setTimeout(r, 200));
  }

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    store = await openUserStore(db.url);
    base = await mkdtemp(path.join(tmpdir(), 'sockit-files-'));
    root = path.join(base, 'root');
    await store.add('ann', await deriveCredentials('correct horse', { iterations: ITERATIONS }));
    await store.add('bob', await deriveCredentials('hunter2 hunter2', { iterations: ITERATIONS }), {
      quotaBytes: 1024 * 1024,
    });
    service = await serveFilesForTest(root, store, {
      allowRegister: true,
      maxFileSize: 64 * 1024 * 1024,
      secret: SECRET,
      // Tests of their own below cover the back-off; here, failed log-ins of one test must not
      // make the next one wait (every test connects from 127.0.0.1).
      throttle: new Throttle({ freeFailures: 1000 }),
      accountThrottle: new Throttle({ freeFailures: 1000 }),
    });
    port = service.address.port;
  });

  afterAll(async () => {
    await service?.close();
    await store?.close();
    await db?.drop();
    if (base) await rm(base, { recursive: true, force: true });
  });

  it('logs in with SCRAM-SHA-256 and lists an empty home', async () => {
    const client = await login();
    expect(client.user).toBe('ann');
    expect(await client.list()).toEqual([]);
    client.close();
  });

  it('gives a wrong password, an unknown user and a SQL-injection name the same refusal', async () => {
    const answers = await Promise.all([
      messageOf(login('ann', 'wrong password')),
      messageOf(login('nobody', 'correct horse')),
      messageOf(login("ann' OR '1'='1", 'x')),
      messageOf(login("x'; DROP TABLE users; --", 'x')),
    ]);
    expect(new Set(answers)).toEqual(new Set([`${ErrorCode.AUTH_FAILED}: invalid username or password`]));
    // The table is intact and ann still logs in.
    expect((await store.list()).map((u) => u.name)).toEqual(['ann', 'bob']);
    (await login()).close();
  });

  it('shows an unknown user the same kind of salt and count as a real one, stable per name', async () => {
    const probe = async (user: string): Promise<{ salt: string; iterations: string }> => {
      const socket = net.connect(port, '127.0.0.1');
      const channel = new Channel(socket);
      await channel.receive(); // hello
      const scram = new ScramClient(user, 'x');
      channel.send({ op: 'auth', mechanism: 'SCRAM-SHA-256', data: scram.first() });
      const { header } = await channel.receive();
      socket.destroy();
      const data = String(header.data);
      const salt = /s=([^,]+)/.exec(data)?.[1] ?? '';
      const iterations = /i=(\d+)/.exec(data)?.[1] ?? '';
      return { salt, iterations };
    };
    const ann = await probe('ann');
    const ghost1 = await probe('ghost');
    const ghost2 = await probe('ghost');
    const other = await probe('phantom');
    expect(ghost1).toEqual(ghost2);
    expect(other.salt).not.toBe(ghost1.salt);
    expect(ghost1.iterations).toBe(ann.iterations);
    expect(Buffer.from(ghost1.salt, 'base64').length).toBe(Buffer.from(ann.salt, 'base64').length);
  });

  it('refuses a captured log-in exchange replayed by a third party', async () => {
    // Capture: a real client's messages, over a raw channel.
    const socket = net.connect(port, '127.0.0.1');
    const channel = new Channel(socket);
    await channel.receive();
    const scram = new ScramClient('ann', 'correct horse');
    const clientFirst = scram.first();
    channel.send({ op: 'auth', mechanism: 'SCRAM-SHA-256', data: clientFirst });
    const cont = await channel.receive();
    const clientFinal = await scram.final(String(cont.header.data));
    channel.send({ op: 'auth-final', data: clientFinal });
    const done = await channel.receive();
    expect(done.header.ok).toBe(true);
    socket.destroy();
    // Replay both messages on a new connection: the server's nonce is new, the proof is stale.
    const thief = net.connect(port, '127.0.0.1');
    const replay = new Channel(thief);
    await replay.receive();
    replay.send({ op: 'auth', mechanism: 'SCRAM-SHA-256', data: clientFirst });
    const cont2 = await replay.receive();
    expect(cont2.header.data).not.toBe(cont.header.data);
    replay.send({ op: 'auth-final', data: clientFinal });
    const refused = await replay.receive();
    expect(refused.header).toMatchObject({ ok: false, code: ErrorCode.AUTH_FAILED });
    replay.send({ op: 'list' });
    const after = await replay.receive();
    expect(after.header).toMatchObject({ ok: false, code: ErrorCode.AUTH_FAILED });
    thief.destroy();
  });

  it('backs off failed log-ins per account and per address; a success clears only the account', async () => {
    const throttle = new Throttle({ baseMs: 1, maxMs: 2 });
    const accountThrottle = new Throttle({ baseMs: 1, maxMs: 2, freeFailures: 3 });
    const own = await serveFilesForTest(path.join(base, 'throttled'), store, {
      throttle,
      accountThrottle,
    });
    try {
      const attempt = (password: string): Promise<unknown> =>
        FilesClient.login({ host: '127.0.0.1', port: own.address.port, user: 'ann', password }).then((c) =>
          c.close(),
        );
      for (let i = 0; i < 3; i++) expect(await codeOf(attempt('wrong'))).toBe(ErrorCode.AUTH_FAILED);
      expect(accountThrottle.delayFor(throttleKey.user('ann'))).toBe(0); // three are free
      expect(await codeOf(attempt('wrong'))).toBe(ErrorCode.AUTH_FAILED);
      expect(accountThrottle.delayFor(throttleKey.user('ann'))).toBeGreaterThan(0);
      expect(throttle.delayFor(throttleKey.address('127.0.0.1'))).toBeGreaterThan(0);
      expect(await codeOf(attempt('correct horse'))).toBe('resolved');
      expect(accountThrottle.delayFor(throttleKey.user('ann'))).toBe(0);
      expect(throttle.delayFor(throttleKey.address('127.0.0.1'))).toBeGreaterThan(0);
    } finally {
      await own.close();
    }
  });

  it('refuses every request before log-in', async () => {
    const client = await FilesClient.connect({ host: '127.0.0.1', port });
    expect(await codeOf(client.list())).toBe(ErrorCode.AUTH_FAILED);
    client.close();
  });

  it('registers a new account whose password then logs in, and refuses a taken name', async () => {
    const client = await FilesClient.connect({ host: '127.0.0.1', port });
    await client.register('carol', 'carol password', ITERATIONS);
    expect(await codeOf(client.register('carol', 'other', ITERATIONS))).toBe(ErrorCode.USER_EXISTS);
    expect(await codeOf(client.register('../evil', 'x', ITERATIONS))).toBe(ErrorCode.BAD_USER_NAME);
    expect(await codeOf(client.register('weak', 'x', 1000))).toBe(ErrorCode.INVALID_ARGUMENT);
    client.close();
    const carol = await login('carol', 'carol password');
    expect(carol.user).toBe('carol');
    carol.close();
  });

  it('logs a machine in with the shared secret, and refuses a wrong one', async () => {
    const machine = await FilesClient.login({ host: '127.0.0.1', port, user: 'ann', secret: SECRET });
    expect(machine.user).toBe('ann');
    machine.close();
    const wrong = FilesClient.login({
      host: '127.0.0.1',
      port,
      user: 'ann',
      secret: SecretKey.generate(),
    });
    expect(await codeOf(wrong)).toBe(ErrorCode.AUTH_FAILED);
  });

  it('uploads and downloads byte-identical files, and refuses to replace without overwrite', async () => {
    const client = await login();
    const local = path.join(base, 'up.bin');
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    await writeFile(local, bytes);
    const up = await client.upload(local, 'up.bin');
    expect(up).toEqual({ size: bytes.length, sha256: sha(bytes), resumedFrom: 0 });
    expect(sha(await readFile(path.join(root, 'ann', 'up.bin')))).toBe(sha(bytes));
    expect(await codeOf(client.upload(local, 'up.bin'))).toBe(ErrorCode.EXISTS);
    const changed = randomBytes(1000);
    await writeFile(local, changed);
    await client.upload(local, 'up.bin', { overwrite: true });
    const dest = path.join(base, 'down.bin');
    const down = await client.download('up.bin', dest);
    expect(down.sha256).toBe(sha(changed));
    expect(await readFile(dest)).toEqual(changed);
    expect(existsSync(dest + PART_SUFFIX)).toBe(false);
    // Empty files too.
    await writeFile(local, Buffer.alloc(0));
    await client.upload(local, 'empty');
    expect(await codeOf(client.download('empty', dest))).toBe(ErrorCode.EXISTS);
    expect(await readFile(dest)).toEqual(changed);
    await client.download('empty', dest, { overwrite: true });
    expect((await stat(dest)).size).toBe(0);
    client.close();
  });

  it('resumes a cut upload from the part the server kept, never showing a half file', async () => {
    const bytes = randomBytes(8 * 1024 * 1024);
    const local = path.join(base, 'resume-up.bin');
    await writeFile(local, bytes);
    // A client that sends 5 of 8 MiB and vanishes.
    await cutUpload('resume-up.bin', bytes.length, bytes.subarray(0, 5 * 1024 * 1024));
    expect(existsSync(path.join(root, 'ann', 'resume-up.bin'))).toBe(false);
    const client = await login();
    expect((await client.list()).map((e) => e.path)).not.toContain('resume-up.bin');
    const result = await client.upload(local, 'resume-up.bin');
    expect(result.resumedFrom).toBeGreaterThan(0);
    expect(result.sha256).toBe(sha(bytes));
    expect(sha(await readFile(path.join(root, 'ann', 'resume-up.bin')))).toBe(sha(bytes));
    client.close();
  });

  it('restarts an upload whose kept part does not match the local file', async () => {
    const client = await login();
    const local = path.join(base, 'mismatch.bin');
    const first = randomBytes(2 * 1024 * 1024);
    await writeFile(local, first);
    // Leave a part of another file's bytes, of the same declared size.
    await cutUpload('mismatch.bin', first.length, randomBytes(1024 * 1024));
    const result = await client.upload(local, 'mismatch.bin');
    expect(result.resumedFrom).toBe(0);
    expect(sha(await readFile(path.join(root, 'ann', 'mismatch.bin')))).toBe(sha(first));
    client.close();
  });

  it('resumes a download from a matching part and restarts from a foreign one', async () => {
    const client = await login();
    const bytes = randomBytes(4 * 1024 * 1024 + 3);
    const local = path.join(base, 'src.bin');
    await writeFile(local, bytes);
    await client.upload(local, 'dl.bin');
    const dest = path.join(base, 'dl.bin');
    await writeFile(dest + PART_SUFFIX, bytes.subarray(0, 1_000_000));
    const resumed = await client.download('dl.bin', dest);
    expect(resumed.resumedFrom).toBe(1_000_000);
    expect(sha(await readFile(dest))).toBe(sha(bytes));
    await writeFile(dest + PART_SUFFIX, randomBytes(1_000_000));
    const restarted = await client.download('dl.bin', dest, { overwrite: true });
    expect(restarted.resumedFrom).toBe(0);
    expect(sha(await readFile(dest))).toBe(sha(bytes));
    client.close();
  });

  it('refuses path escapes in every request and changes nothing outside the home', async () => {
    const outside = path.join(base, 'outside');
    await mkdir(outside, { recursive: true });
    await writeFile(path.join(outside, 'secret.txt'), 'keep me');
    await mkdir(path.join(root, 'ann'), { recursive: true });
    await symlink(outside, path.join(root, 'ann', 'door'));
    await symlink(path.join(outside, 'secret.txt'), path.join(root, 'ann', 'door.txt'));
    const before = await snapshot(base);
    const client = await login();
    const local = path.join(base, 'payload.bin');
    await writeFile(local, 'payload');
    const hostile = [
      '../bob/x',
      '../../outside/secret.txt',
      '/etc/passwd',
      'a/../../x',
      'door/secret.txt',
      'door.txt',
      'door',
      'a\\..\\x',
      'x\u0000y',
    ];
    for (const p of hostile) {
      const codes = [
        await codeOf(client.list(p)),
        await codeOf(client.stat(p)),
        await codeOf(client.mkdir(p, true)),
        await codeOf(client.remove(p, true)),
        await codeOf(client.upload(local, p, { overwrite: true })),
        await codeOf(client.download(p, path.join(base, 'dl-escape'))),
      ];
      expect(codes, p).toEqual(Array(6).fill(ErrorCode.PATH_DENIED));
    }
    const after = await snapshot(base);
    // Nothing changed but the payload the test wrote itself.
    expect(after).toEqual({ ...before, 'payload.bin': sha(Buffer.from('payload')) });
    client.close();
    await rm(path.join(root, 'ann', 'door'));
    await rm(path.join(root, 'ann', 'door.txt'));
  });

  it("keeps users apart: bob does not see ann's files", async () => {
    const bob = await login('bob', 'hunter2 hunter2');
    expect(await bob.list()).toEqual([]);
    expect(await codeOf(bob.stat('up.bin'))).toBe(ErrorCode.NOT_FOUND);
    bob.close();
  });

  it('enforces the per-user quota and the largest file size', async () => {
    const bob = await login('bob', 'hunter2 hunter2');
    const local = path.join(base, 'quota.bin');
    await writeFile(local, randomBytes(700 * 1024));
    await bob.upload(local, 'one.bin');
    expect(await codeOf(bob.upload(local, 'two.bin'))).toBe(ErrorCode.QUOTA_EXCEEDED);
    await bob.remove('one.bin');
    await bob.upload(local, 'two.bin');
    bob.close();
    const ann = await login();
    const big = path.join(base, 'big.bin');
    await writeFile(big, Buffer.alloc(0));
    await import('node:fs/promises').then((fs) => fs.truncate(big, 64 * 1024 * 1024 + 1));
    expect(await codeOf(ann.upload(big, 'big.bin'))).toBe(ErrorCode.FILE_TOO_LARGE);
    ann.close();
  });

  it('lists a folder of 1,000 files (the listing travels as the body, not in the header)', async () => {
    const client = await login();
    const dir = path.join(root, 'ann', 'many');
    await mkdir(dir, { recursive: true });
    for (let i = 0; i < 1000; i++)
      await writeFile(path.join(dir, `photo-${String(i).padStart(4, '0')}.jpg`), 'x');
    const entries = await client.list('many');
    expect(entries).toHaveLength(1000);
    expect(entries[999]?.path).toBe('photo-0999.jpg');
    await client.remove('many', true);
    client.close();
  });

  it('answers disk errors with refusals and keeps the connection', async () => {
    const client = await login();
    const local = path.join(base, 'plain.txt');
    await writeFile(local, 'plain');
    await client.upload(local, 'plain.txt', { overwrite: true });
    expect(await codeOf(client.mkdir('plain.txt/sub'))).toBe(ErrorCode.NOT_FOUND);
    expect(await codeOf(client.stat('plain.txt/sub'))).toBe(ErrorCode.NOT_FOUND);
    // Refused before any byte is sent: the folder does not exist.
    expect(await codeOf(client.upload(local, 'no-such-folder/plain.txt'))).toBe(ErrorCode.NOT_FOUND);
    expect((await client.stat('plain.txt')).size).toBe(5);
    client.close();
  });

  it('closes a connection that sends a malformed request, after saying why', async () => {
    const socket = net.connect(port, '127.0.0.1');
    const channel = new Channel(socket);
    await channel.receive();
    channel.send({ op: 'list', path: 42 });
    // A peer that breaks the protocol gets ERR_BAD_REQUEST (ERR_INVALID_ARGUMENT is for a
    // well-formed request with a value the server cannot take).
    expect((await channel.receive()).header).toMatchObject({ ok: false, code: ErrorCode.BAD_REQUEST });
    expect(await codeOf(channel.receive())).toBe(ErrorCode.CONNECTION_CLOSED);
    socket.destroy();
  });

  it('answers requests out of order with ERR_BAD_REQUEST, and a broken upload exchange ends the connection', async () => {
    const socket = net.connect(port, '127.0.0.1');
    const channel = new Channel(socket);
    await channel.receive();
    const scram = new ScramClient('ann', 'correct horse');
    channel.send({ op: 'auth', mechanism: 'SCRAM-SHA-256', data: scram.first() });
    channel.send({
      op: 'auth-final',
      data: await scram.final(String((await channel.receive()).header.data)),
    });
    expect((await channel.receive()).header.ok).toBe(true);
    // A step of an upload with no upload under way: refused, the connection goes on.
    channel.send({ op: 'put-end', sha256: '0'.repeat(64) });
    expect((await channel.receive()).header).toMatchObject({ ok: false, code: ErrorCode.BAD_REQUEST });
    channel.send({ op: 'put', path: 'order.bin', size: 3 });
    expect((await channel.receive()).header).toMatchObject({ ok: true, offset: 0 });
    // Anything but put-from now: the stream is out of step and the server hangs up.
    channel.send({ op: 'list' });
    expect((await channel.receive()).header).toMatchObject({ ok: false, code: ErrorCode.BAD_REQUEST });
    expect(await codeOf(channel.receive())).toBe(ErrorCode.CONNECTION_CLOSED);
    socket.destroy();
  });

  it('closes a connection after three failed log-ins, with one refusal per attempt', async () => {
    const client = await FilesClient.connect({ host: '127.0.0.1', port });
    for (let i = 0; i < 3; i++)
      expect(await codeOf(client.login('ann', 'wrong'))).toBe(ErrorCode.AUTH_FAILED);
    // The fourth is refused and the server hangs up; nothing is left over for a later request.
    expect(await codeOf(client.login('ann', 'correct horse'))).toBe(ErrorCode.AUTH_FAILED);
    expect(await codeOf(client.list())).toBe(ErrorCode.CONNECTION_CLOSED);
    client.close();
  });

  it('counts uploads under way against the quota: two at once cannot both pass', async () => {
    const [one, two] = await Promise.all([login('bob', 'hunter2 hunter2'), login('bob', 'hunter2 hunter2')]);
    await one.remove('two.bin').catch(() => undefined);
    const a = path.join(base, 'quota-a.bin');
    const b = path.join(base, 'quota-b.bin');
    await writeFile(a, randomBytes(700 * 1024));
    await writeFile(b, randomBytes(700 * 1024));
    const results = await Promise.allSettled([one.upload(a, 'a.bin'), two.upload(b, 'b.bin')]);
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const r of refused) expect((r as PromiseRejectedResult).reason.code).toBe(ErrorCode.QUOTA_EXCEEDED);
    const stored = (await one.list()).filter((e) => e.type === 'file').reduce((n, e) => n + e.size, 0);
    expect(stored).toBeLessThanOrEqual(1024 * 1024);
    one.close();
    two.close();
  });

  it('makes, lists recursively and removes folders', async () => {
    const client = await login();
    await client.mkdir('docs/2026/nov', true);
    expect(await codeOf(client.mkdir('docs'))).toBe(ErrorCode.EXISTS);
    expect(await codeOf(client.mkdir('nope/deeper'))).toBe(ErrorCode.NOT_FOUND);
    const local = path.join(base, 'note.txt');
    await writeFile(local, 'hello');
    await client.upload(local, 'docs/2026/note.txt');
    const tree = await client.list('docs', true);
    expect(tree.map((e) => `${e.type}:${e.path}`)).toEqual([
      'dir:2026',
      'file:2026/note.txt',
      'dir:2026/nov',
    ]);
    expect(await codeOf(client.remove('docs'))).toBe(ErrorCode.EXISTS);
    await client.remove('docs', true);
    expect(await codeOf(client.stat('docs'))).toBe(ErrorCode.NOT_FOUND);
    client.close();
  });
});

describe('file service over TLS', () => {
  let dir: string;
  let store: UserStore;
  let service: TcpService;
  let cert: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-files-tls-'));
    const files = selfSignedCertificate(dir);
    cert = await readFile(files.cert);
    store = await openUserStore(path.join(dir, 'users.db'));
    await store.add('ann', await deriveCredentials('correct horse', { iterations: ITERATIONS }));
    service = await serveFilesForTest(path.join(dir, 'root'), store, {
      secret: SECRET,
      tls: { cert, key: await readFile(files.key) },
    });
  });

  afterAll(async () => {
    await service?.close();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('logs a machine in with the shared secret over TLS, the proof bound to the exporter value', async () => {
    const options = { host: '127.0.0.1', port: service.address.port, user: 'ann', tls: { ca: cert } };
    const machine = await FilesClient.login({ ...options, secret: SECRET });
    expect(machine.user).toBe('ann');
    machine.close();
  });

  it('logs in and transfers over TLS with the server certificate trusted', async () => {
    const client = await FilesClient.login({
      host: '127.0.0.1',
      port: service.address.port,
      user: 'ann',
      password: 'correct horse',
      tls: { ca: cert },
    });
    const local = path.join(dir, 'x.bin');
    const bytes = randomBytes(2 * 1024 * 1024);
    await writeFile(local, bytes);
    expect((await client.upload(local, 'x.bin')).sha256).toBe(sha(bytes));
    await client.download('x.bin', path.join(dir, 'y.bin'));
    expect(sha(await readFile(path.join(dir, 'y.bin')))).toBe(sha(bytes));
    client.close();
  });

  it('refuses a server whose certificate is not trusted, and a client that speaks plain TCP', async () => {
    const untrusted = FilesClient.login({
      host: '127.0.0.1',
      port: service.address.port,
      user: 'ann',
      password: 'correct horse',
      tls: {},
    });
    expect(await codeOf(untrusted)).toBe(ErrorCode.TLS_CERTIFICATE);
    const plain = FilesClient.connect({ host: '127.0.0.1', port: service.address.port, timeoutMs: 2000 });
    expect(await codeOf(plain)).toBe(ErrorCode.BAD_REPLY);
  });
});
