/**
 * The file service against hostile connections: a peer that pipelines requests and never
 * reads the answers (memory), and peers that hold connection slots without logging in
 * (dripped frames, silence, one address, a full server).
 */
import diagnostics from 'node:diagnostics_channel';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deriveCredentials } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { ErrorCode } from '../../src/errors.js';
import { FilesClient } from '../../src/files/client.js';
import type { FilesServerOptions } from '../../src/files/server.js';
import { Channel } from '../../src/runtime/channel.js';
import type { TcpService } from '../../src/runtime/tcp.js';
import { encodeEnvelope } from '../../src/wire/envelope.js';
import { frameHeader } from '../../src/wire/frame.js';
import { scramLogin } from './raw-login.js';
import { serveFilesForTest } from './serve.js';

const ITERATIONS = 4096;
const MiB = 1024 * 1024;
const FILES = 8;

let base: string;
let store: UserStore;
const services: TcpService[] = [];
const sockets: net.Socket[] = [];
/** The server side of every accepted socket, to read its unsent output. */
const accepted: net.Socket[] = [];
const onAccept = ({ socket }: { socket: net.Socket }): void => {
  accepted.push(socket);
};

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'sockit-guard-'));
  store = await openUserStore(path.join(base, 'users.db'));
  await store.add('ann', await deriveCredentials('correct horse', { iterations: ITERATIONS }));
  // A home whose listing is a few kilobytes: pipelined listings would pile up fast.
  await mkdir(path.join(base, 'root', 'ann'), { recursive: true });
  for (let i = 0; i < FILES; i++) {
    await writeFile(path.join(base, 'root', 'ann', `${'a-long-name-'.repeat(16)}${i}.txt`), 'x');
  }
  diagnostics.subscribe('net.server.socket', onAccept as (message: unknown) => void);
});

afterAll(async () => {
  diagnostics.unsubscribe('net.server.socket', onAccept as (message: unknown) => void);
  await store?.close();
  if (base) await rm(base, { recursive: true, force: true });
});

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  accepted.length = 0;
  await Promise.all(services.splice(0).map((s) => s.close()));
});

async function start(options: Partial<FilesServerOptions> = {}): Promise<number> {
  const service = await serveFilesForTest(path.join(base, 'root'), store, options);
  services.push(service);
  return service.address.port;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
    socket.on('error', () => {});
    sockets.push(socket);
  });
}

/** True once the server closed `socket`, false if it stands after `ms`. */
function closedWithin(socket: net.Socket, ms: number): Promise<boolean> {
  if (socket.closed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.resume();
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Sends `request` over and over, never reading, until `budget` bytes are sent or the server
 * has stopped reading (its byte count still for a second); meanwhile samples the largest
 * unsent output the server holds for this connection. Returns that peak and the bytes sent.
 */
async function flood(socket: net.Socket, server: net.Socket, request: Buffer, budget: number) {
  socket.pause();
  const batch = Buffer.concat(Array.from({ length: 1000 }, () => request));
  let peak = 0;
  let sent = 0;
  let read = -1;
  let still = 0;
  const began = Date.now();
  while (sent < budget && !socket.destroyed && Date.now() - began < 30_000) {
    if (socket.writableLength < MiB) {
      socket.write(batch);
      sent += batch.length;
    }
    await sleep(20);
    peak = Math.max(peak, server.writableLength);
    if (server.bytesRead === read) {
      still += 20;
      if (still >= 1000) break;
    } else {
      read = server.bytesRead;
      still = 0;
    }
  }
  return { peak, sent, read: server.bytesRead, written: server.bytesWritten };
}

async function serverSide(client: net.Socket): Promise<net.Socket> {
  for (let i = 0; i < 100; i++) {
    const found = accepted.find((s) => s.remotePort === client.localPort);
    if (found) return found;
    await sleep(10);
  }
  throw new Error('the server side of the socket was not seen');
}

describe('a client that pipelines requests and never reads', () => {
  it('before log-in: the server stops reading; its unsent output stays under the bound', async () => {
    const port = await start();
    const socket = await connect(port);
    const server = await serverSide(socket);
    const rss = process.memoryUsage().rss;
    const result = await flood(socket, server, encodeEnvelope({ op: 'list' }), 32 * MiB);
    const grew = process.memoryUsage().rss - rss;
    console.log('pre-login flood', { ...result, rssGrowthMiB: +(grew / MiB).toFixed(1) });
    const { peak } = result;
    expect(peak).toBeLessThan(1.5 * MiB);
    // Meanwhile a real user is served.
    const user = await FilesClient.login({ host: '127.0.0.1', port, user: 'ann', password: 'correct horse' });
    expect((await user.list()).length).toBe(FILES);
    user.close();
  });

  it('after log-in: pipelined listings wait for the peer to read', async () => {
    const port = await start();
    const socket = await connect(port);
    const server = await serverSide(socket);
    const channel = new Channel(socket);
    await scramLogin(channel);
    const rss = process.memoryUsage().rss;
    const result = await flood(socket, server, encodeEnvelope({ op: 'list' }), 16 * MiB);
    const grew = process.memoryUsage().rss - rss;
    console.log('post-login flood', { ...result, rssGrowthMiB: +(grew / MiB).toFixed(1) });
    const { peak } = result;
    expect(peak).toBeLessThan(1.5 * MiB);
    const user = await FilesClient.login({ host: '127.0.0.1', port, user: 'ann', password: 'correct horse' });
    expect((await user.list()).length).toBe(FILES);
    user.close();
  });
});

describe('connections that hold a slot without logging in', () => {
  it('a frame announced over the pre-log-in limit is refused at once and the connection closed', async () => {
    const port = await start({ maxConnections: 4, loginTimeoutMs: 60_000 });
    const socket = await connect(port);
    const channel = new Channel(socket);
    await channel.receive(); // hello
    socket.write(frameHeader(MiB));
    socket.write(Buffer.alloc(100));
    const refusal = await channel.receive();
    expect(refusal.header).toMatchObject({ ok: false, code: ErrorCode.FRAME_TOO_LARGE });
    expect(await closedWithin(socket, 5000)).toBe(true);
  });

  it('a logged-in peer that drips a request a byte at a time is closed by the request deadline', async () => {
    const port = await start({ requestTimeoutMs: 500, idleTimeoutMs: 60_000 });
    const socket = await connect(port);
    await scramLogin(new Channel(socket));
    // A request announced at 900 KiB (under the 1 MiB limit), then a byte every 100 ms: the
    // idle timer never fires, the deadline does.
    socket.write(frameHeader(900 * 1024));
    const drip = setInterval(() => socket.write(Buffer.alloc(1)), 100);
    try {
      expect(await closedWithin(socket, 5000)).toBe(true);
    } finally {
      clearInterval(drip);
    }
    // Others go on.
    const user = await FilesClient.login({ host: '127.0.0.1', port, user: 'ann', password: 'correct horse' });
    expect((await user.list('')).length).toBeGreaterThanOrEqual(0);
    user.close();
  });

  it('sockets that drip a frame a byte at a time are closed by the frame deadline', async () => {
    const port = await start({
      maxConnections: 4,
      loginTimeoutMs: 60_000,
      preLogin: { frameTimeoutMs: 400 },
    });
    const drippers = await Promise.all([1, 2, 3, 4].map(() => connect(port)));
    const timers = drippers.map((socket) => {
      socket.write(frameHeader(1000));
      return setInterval(() => socket.write(Buffer.alloc(1)), 100);
    });
    try {
      const closed = await Promise.all(drippers.map((s) => closedWithin(s, 5000)));
      expect(closed).toEqual([true, true, true, true]);
    } finally {
      for (const timer of timers) clearInterval(timer);
    }
    const user = await FilesClient.login({ host: '127.0.0.1', port, user: 'ann', password: 'correct horse' });
    expect(user.user).toBe('ann');
    user.close();
  });

  it('silent sockets are closed by the log-in deadline; a logged-in one stays', async () => {
    const port = await start({ loginTimeoutMs: 400 });
    const silent = await Promise.all([1, 2, 3].map(() => connect(port)));
    const user = await FilesClient.login({ host: '127.0.0.1', port, user: 'ann', password: 'correct horse' });
    const closed = await Promise.all(silent.map((s) => closedWithin(s, 5000)));
    expect(closed).toEqual([true, true, true]);
    expect((await user.list()).length).toBe(FILES);
    user.close();
  });

  it('refuses the (cap+1)th connection from one address', async () => {
    const port = await start({ maxPerAddress: 3, loginTimeoutMs: 60_000 });
    const kept = await Promise.all([1, 2, 3].map(() => connect(port)));
    const extra = await connect(port);
    expect(await closedWithin(extra, 3000)).toBe(true);
    for (const socket of kept) expect(await closedWithin(socket, 50)).toBe(false);
  });

  it('with the server full of connections that never log in, a real user gets in and logs in', async () => {
    const port = await start({ maxConnections: 4, loginTimeoutMs: 60_000 });
    const crowd: net.Socket[] = [];
    for (let i = 0; i < 4; i++) crowd.push(await connect(port));
    await sleep(100);
    const user = await FilesClient.login({ host: '127.0.0.1', port, user: 'ann', password: 'correct horse' });
    expect((await user.list()).length).toBe(FILES);
    user.close();
  });
});
