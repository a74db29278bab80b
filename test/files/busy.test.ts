/**
 * A client's stall timeout must not fail work that is merely long: while the server works on
 * a request before its answer (hashing the prefix a resume names, listing or removing a large
 * tree, checking or storing an upload) it says `{busy}` once a second to a client that asked
 * with `progress`, and the client stops its timer while it does its own hashing or syncing.
 * Each long phase is made longer than the stall timeout here by a delay put in its way.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { deriveCredentials } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { ErrorCode } from '../../src/errors.js';
import { FilesClient } from '../../src/files/client.js';
import { UserFiles } from '../../src/files/storage.js';
import { Channel } from '../../src/runtime/channel.js';
import { events, type TransferEndEvent } from '../../src/runtime/events.js';
import type { TcpService } from '../../src/runtime/tcp.js';
import { codeOf } from '../codes.js';
import { fakeServer, loginToFake } from './fake-server.js';
import { scramLogin } from './raw-login.js';
import { serveFilesForTest, TEST_ITERATIONS } from './serve.js';

/** Delay put before each prefix hash (both sides share the module here), in ms; 0: none. */
const slowHash = vi.hoisted(() => ({ ms: 0, calls: 0, sendChunkMs: 0 }));
vi.mock('../../src/files/transfer.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/files/transfer.js')>();
  return {
    ...real,
    // With sendChunkMs, a run of file bytes goes out in 64 KiB pieces that far apart: a run
    // that lasts seconds, for what may be sent beside it.
    sendRange: async (...args: Parameters<typeof real.sendRange>) => {
      if (slowHash.sendChunkMs === 0) return real.sendRange(...args);
      const [channel, file, from, to, hash, progress] = args;
      const buffer = Buffer.alloc(64 * 1024);
      for (let at = from; at < to; ) {
        const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, to - at), at);
        const chunk = Buffer.from(buffer.subarray(0, bytesRead));
        hash.update(chunk);
        channel.write(chunk);
        at += bytesRead;
        progress?.(at);
        await new Promise((r) => setTimeout(r, slowHash.sendChunkMs));
      }
    },
    hashPrefix: async (...args: Parameters<typeof real.hashPrefix>) => {
      if (slowHash.ms > 0) {
        slowHash.calls++;
        await new Promise((r) => setTimeout(r, slowHash.ms));
      }
      return real.hashPrefix(...args);
    },
  };
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** The stall timeout of the clients, and the delay that outlasts it by far. */
const STALL_MS = 1500;
const SLOW_MS = 3000;

/** Makes `method` of UserFiles wait SLOW_MS before it runs. */
function slowDown(method: 'list' | 'remove' | 'target' | 'place'): void {
  const real = UserFiles.prototype[method] as (...args: unknown[]) => Promise<unknown>;
  vi.spyOn(UserFiles.prototype, method).mockImplementation(async function (
    this: UserFiles,
    ...args: unknown[]
  ) {
    await sleep(SLOW_MS);
    return real.apply(this, args);
  } as never);
}

describe('long server work against a client stall timeout', () => {
  let base: string;
  let store: UserStore;
  let service: TcpService;
  let home: string;
  const clients: FilesClient[] = [];
  const big = randomBytes(3 * 1024 * 1024);

  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'sockit-files-busy-'));
    store = await openUserStore(path.join(base, 'users.db'));
    // A quota: the usage is counted and kept, as on a real server with quotas.
    await store.add('ann', await deriveCredentials('correct horse', { iterations: TEST_ITERATIONS }), {
      quotaBytes: 1024 * 1024 * 1024,
    });
    service = await serveFilesForTest(path.join(base, 'root'), store);
    home = path.join(base, 'root', 'ann');
    await login(); // makes the home
    await mkdir(path.join(home, 'tree', 'sub'), { recursive: true });
    for (let i = 0; i < 5; i++) await writeFile(path.join(home, 'tree', 'sub', `${i}.txt`), `file ${i}`);
    await writeFile(path.join(home, 'big.bin'), big);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    slowHash.ms = 0;
    slowHash.calls = 0;
    slowHash.sendChunkMs = 0;
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    await service?.close();
    await store?.close();
    await rm(base, { recursive: true, force: true });
  });

  async function login(): Promise<FilesClient> {
    const client = await FilesClient.login({
      host: '127.0.0.1',
      port: service.address.port,
      user: 'ann',
      password: 'correct horse',
      stallTimeoutMs: STALL_MS,
    });
    clients.push(client);
    return client;
  }

  async function raw(): Promise<Channel> {
    const socket = net.connect(service.address.port, '127.0.0.1');
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const channel = new Channel(socket);
    await scramLogin(channel, 'ann');
    return channel;
  }

  it('lists, removes, and checks and stores an upload, each longer than the stall timeout', async () => {
    for (const method of ['list', 'remove', 'target', 'place'] as const) slowDown(method);
    const local = path.join(base, 'up.bin');
    await writeFile(local, big);
    const [a, b, c] = await Promise.all([login(), login(), login()]);
    const [listed, , uploaded] = await Promise.all([
      a.list('tree', true),
      b.remove('tree/sub/0.txt'),
      c.upload(local, 'up.bin'),
    ]);
    expect(listed.map((e) => e.path)).toContain('sub/4.txt');
    expect(uploaded.sha256).toBe(sha(big));
    expect(await readFile(path.join(home, 'up.bin'))).toEqual(big);
    expect(existsSync(path.join(home, 'tree', 'sub', '0.txt'))).toBe(false);
  });

  it('resumes an upload whose kept part both sides hash for longer than the stall timeout', async () => {
    const local = path.join(base, 'resume-up.bin');
    await writeFile(local, big);
    // An upload cut after 1 MiB: the server keeps its part.
    const cut = await raw();
    cut.send({ op: 'put', path: 'resumed.bin', size: big.length });
    expect((await cut.receive()).header).toMatchObject({ ok: true, offset: 0 });
    cut.send({ op: 'put-from', offset: 0 });
    cut.write(big.subarray(0, 1024 * 1024));
    await cut.drain();
    await sleep(200);
    cut.socket.destroy();
    await sleep(200);

    slowHash.ms = SLOW_MS;
    const client = await login();
    const result = await client.upload(local, 'resumed.bin');
    expect(result.resumedFrom).toBe(1024 * 1024);
    // The server hashed its part, the client its own first bytes: both waited.
    expect(slowHash.calls).toBe(2);
    expect(await readFile(path.join(home, 'resumed.bin'))).toEqual(big);
  });

  it('resumes a download whose kept part both sides hash for longer than the stall timeout', async () => {
    const local = path.join(base, 'resume-down.bin');
    await writeFile(`${local}.sockit-part`, big.subarray(0, 1024 * 1024));
    slowHash.ms = SLOW_MS;
    const client = await login();
    const result = await client.download('big.bin', local);
    expect(result.resumedFrom).toBe(1024 * 1024);
    expect(slowHash.calls).toBe(2);
    expect(await readFile(local)).toEqual(big);
  });

  it('uploads small files in a batch while a count of the usage outlasts the stall timeout', async () => {
    // The usage unknown: the first check walks the home, slowly here.
    await store.setUsage('ann', null);
    const real = UserFiles.prototype.usage;
    vi.spyOn(UserFiles.prototype, 'usage').mockImplementation(async function (this: UserFiles) {
      await sleep(SLOW_MS);
      return real.apply(this);
    });
    const items = [];
    for (let i = 0; i < 3; i++) {
      const local = path.join(base, `small-${i}.txt`);
      await writeFile(local, `small ${i}`);
      items.push({ local, remote: `small-${i}.txt` });
    }
    const client = await login();
    await client.uploadFiles(items);
    expect(await readFile(path.join(home, 'small-2.txt'), 'utf8')).toBe('small 2');
  });

  it("keeps the server's idle timer from ending a connection while the client hashes its kept part", async () => {
    const idle = await serveFilesForTest(path.join(base, 'root'), store, { idleTimeoutMs: 2500 });
    try {
      const local = path.join(base, 'idle-down.bin');
      await writeFile(`${local}.sockit-part`, big.subarray(0, 1024 * 1024));
      const client = await FilesClient.login({
        host: '127.0.0.1',
        port: idle.address.port,
        user: 'ann',
        password: 'correct horse',
      });
      clients.push(client);
      // Both sides' hashes outlast the idle timeout: the server's is heard as {busy}.
      const real = slowHash.ms;
      slowHash.ms = SLOW_MS;
      const result = await client.download('big.bin', local).finally(() => {
        slowHash.ms = real;
      });
      expect(result.resumedFrom).toBe(1024 * 1024);
      expect(await readFile(local)).toEqual(big);
      // And the same for a caller's own work between operations, long enough to need the
      // keepalive more than once.
      await client.working(() => sleep(2 * SLOW_MS));
      expect((await client.stat('big.bin')).size).toBe(big.length);
    } finally {
      await idle.close();
    }
  });

  it('stops sending a download whose client has gone, not reading the rest of the file', async () => {
    const large = path.join(home, 'large.bin');
    await writeFile(large, Buffer.alloc(0));
    await truncate(large, 256 * 1024 * 1024);
    const ends: TransferEndEvent[] = [];
    const unsubscribe = events.transferEnd.subscribe((e) => {
      if (e.service === 'files' && e.direction === 'out') ends.push(e);
    });
    try {
      // As a client that asks to resume, with a prefix that does not match, and leaves at once.
      const channel = await raw();
      channel.send({
        op: 'get',
        path: 'large.bin',
        offset: 128 * 1024 * 1024,
        prefixSha256: 'ab'.repeat(32),
      });
      await sleep(20);
      channel.socket.destroy();
      await vi.waitFor(() => expect(ends).toHaveLength(1), { timeout: 20_000 });
      expect(ends[0]?.ok).toBe(false);
      // What the kernel's buffers took before the reset, far from the whole file.
      expect(ends[0]?.bytes).toBeLessThan(64 * 1024 * 1024);
    } finally {
      unsubscribe();
      await rm(large);
    }
  });

  it('says the client is at work beside an upload without a word inside its bytes', async () => {
    const local = path.join(base, 'beside.bin');
    await writeFile(local, big);
    // 48 pieces 60 ms apart: a run of ~3 s, with the caller's own work beside it.
    slowHash.sendChunkMs = 60;
    const client = await login();
    const [result] = await Promise.all([
      client.upload(local, 'beside.bin'),
      client.working(() => sleep(SLOW_MS)),
    ]);
    expect(result.sha256).toBe(sha(big));
    expect(await readFile(path.join(home, 'beside.bin'))).toEqual(big);
  });

  it('says busy only to a request that asked for it', async () => {
    slowDown('remove');
    await writeFile(path.join(home, 'quiet.txt'), 'q');
    await writeFile(path.join(home, 'loud.txt'), 'l');
    const channel = await raw();
    channel.send({ op: 'rm', path: 'quiet.txt' });
    expect((await channel.receive()).header).toEqual({ ok: true });
    channel.send({ op: 'rm', path: 'loud.txt', progress: true });
    const heard: unknown[] = [];
    for (;;) {
      const { header } = await channel.receive();
      heard.push(header);
      if (!('busy' in header)) break;
    }
    expect(heard.length).toBeGreaterThanOrEqual(3);
    expect(heard.slice(0, -1)).toEqual(heard.slice(0, -1).map(() => ({ ok: true, busy: 'removing' })));
    expect(heard.at(-1)).toEqual({ ok: true });
    channel.socket.destroy();
  });
});

describe('the default stall timeout', () => {
  it('is 60 s against a server that says when it is busy, none against an older one', async () => {
    for (const [version, expected] of [
      [4, 60_000],
      [3, 0],
    ] as const) {
      const server = await fakeServer(() => {}, { version });
      try {
        const c = await FilesClient.connect({ host: '127.0.0.1', port: server.port });
        expect(c.stallTimeoutMs).toBe(expected);
        c.close();
        const given = await FilesClient.connect({
          host: '127.0.0.1',
          port: server.port,
          stallTimeoutMs: 5000,
        });
        expect(given.stallTimeoutMs).toBe(5000);
        given.close();
      } finally {
        await server.close();
      }
    }
  });
});

describe('a busy answer from a hostile server', () => {
  it('is refused when it does not parse (ERR_BAD_REPLY)', async () => {
    const hostile = await fakeServer((request, peer) => {
      if (request.op === 'rm') peer.send({ ok: true, busy: 'x'.repeat(100) });
    });
    try {
      const client = await loginToFake(hostile);
      expect(await codeOf(client.remove('a'))).toBe(ErrorCode.BAD_REPLY);
      client.close();
    } finally {
      await hostile.close();
    }
  });
});
