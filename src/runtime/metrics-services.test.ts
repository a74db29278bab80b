/**
 * One Metrics registry, started before the servers, counts what real services did: a guarded
 * TCP service with log-in (connections, refused and accepted log-ins, the guard's drops) and
 * a TFTP server with its client (transfers, bytes, errors).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scramLogin } from '../auth/login-client.js';
import { LoginServer } from '../auth/login-server.js';
import type { LoginTransport } from '../auth/login-transport.js';
import { deriveCredentials } from '../auth/scram.js';
import { openUserStore, type UserStore } from '../auth/store.js';
import { ErrorCode, isSockitError } from '../errors.js';
import { tftpGet, tftpPut } from '../tftp/client.js';
import { serveTftp } from '../tftp/server.js';
import { Channel } from './channel.js';
import { type EventChannel, events } from './events.js';
import { Metrics } from './metrics.js';
import type { Service } from './service.js';
import { serveTcp } from './tcp.js';

const ITERATIONS = 4096;

/** Prometheus text -> `name{a="1",b="2"}` (labels sorted) -> value. */
async function values(metrics: Metrics): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await metrics.text()).body.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = (m[2] ?? '')
      .split(/,(?=\w+=")/)
      .filter(Boolean)
      .sort()
      .join(',');
    out.set(labels ? `${m[1]}{${labels}}` : (m[1] as string), Number(m[3]));
  }
  return out;
}

/** Resolves once `channel` has published `count` more messages. */
function published<T extends object>(channel: EventChannel<T>, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const off = channel.subscribe(() => {
      if (++seen === count) {
        off();
        resolve();
      }
    });
  });
}

function transportOf(channel: Channel): LoginTransport {
  return {
    send: (message) => {
      channel.send(message);
    },
    receive: async () => (await channel.receive()).header,
  };
}

function connect(port: number, localAddress = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress }, () => resolve(socket));
    socket.on('error', reject);
  });
}

describe('metrics of real services', () => {
  let dir: string;
  let store: UserStore;
  const metrics = new Metrics();
  const running: Service[] = [];

  beforeAll(async () => {
    metrics.start();
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-metrics-'));
    store = await openUserStore(path.join(dir, 'users.db'));
    await store.add('ann', await deriveCredentials('correct horse', { iterations: ITERATIONS }));
  });

  afterAll(async () => {
    metrics.stop();
    await Promise.all(running.splice(0).map((s) => s.close()));
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('counts a guarded service: connections, a refused and an accepted log-in, drops by reason', async () => {
    const login = new LoginServer({
      service: 'kv',
      store,
      fakeKey: randomBytes(32),
      minIterations: ITERATIONS,
    });
    const service = await serveTcp({
      name: 'kv',
      host: '127.0.0.1',
      port: 0,
      login: true,
      loginTimeoutMs: 300,
      maxPerAddress: 4,
      // rate 100: always refuse once 3 wait unauthenticated, so the early drop is certain.
      maxStartups: { start: 3, rate: 100, full: 10 },
      handler: async (conn) => {
        const channel = new Channel(conn.socket);
        try {
          await login.accept(transportOf(channel), { address: conn.address });
          conn.authenticate();
          channel.send({ ok: true, op: 'welcome' });
          // Half-close: our side ends when the client's does.
          conn.socket.once('end', () => conn.socket.end());
        } catch {
          conn.socket.destroy();
        }
      },
    });
    running.push(service);
    const port = service.address.port;

    // A wrong password: refused.
    const refusedSocket = await connect(port);
    const refused = await scramLogin(transportOf(new Channel(refusedSocket)), 'ann', 'wrong').catch(
      (err: unknown) => err,
    );
    expect(isSockitError(refused, ErrorCode.AUTH_FAILED)).toBe(true);
    refusedSocket.destroy();

    // The right one: logged in, and the connection stays open (authenticated).
    const okSocket = await connect(port);
    const okChannel = new Channel(okSocket);
    expect(await scramLogin(transportOf(okChannel), 'ann', 'correct horse')).toBe('ann');
    expect((await okChannel.receive()).header.op).toBe('welcome');

    // Three that never log in: closed at the log-in deadline.
    const deadlines = published(events.connectionDrop, 6);
    const silent = await Promise.all([connect(port), connect(port), connect(port)]);
    // A fifth from 127.0.0.1 passes the per-address cap of 4. From elsewhere, the first is
    // spared (its address has none waiting; it meets the deadline), the second meets 4 waiting.
    const overCap = await connect(port);
    const spared = await connect(port, '127.0.0.2');
    const early = await connect(port, '127.0.0.2');
    await deadlines;
    for (const socket of [...silent, overCap, spared, early]) socket.destroy();
    const closed = published(events.connectionClose, 1);
    okSocket.destroy();
    await closed;
    // Every accepted connection has closed once `connections` reaches 0.
    while (service.connections > 0) await new Promise((resolve) => setTimeout(resolve, 10));

    const v = await values(metrics);
    expect(v.get('sockit_connections_total{protocol="tcp",service="kv"}')).toBe(6);
    expect(v.get('sockit_connections_open{protocol="tcp",service="kv"}')).toBe(0);
    expect(v.get('sockit_logins_total{mechanism="SCRAM-SHA-256",outcome="fail",service="kv"}')).toBe(1);
    expect(v.get('sockit_logins_total{mechanism="SCRAM-SHA-256",outcome="ok",service="kv"}')).toBe(1);
    expect(v.get('sockit_connections_dropped_total{reason="address",service="kv"}')).toBe(1);
    expect(v.get('sockit_connections_dropped_total{reason="early",service="kv"}')).toBe(1);
    expect(v.get('sockit_connections_dropped_total{reason="login",service="kv"}')).toBe(4);
  });

  it('counts TFTP transfers and bytes on both sides, and the refusal of a missing file', async () => {
    const root = path.join(dir, 'tftp');
    await mkdir(root);
    const file = randomBytes(3000);
    await writeFile(path.join(root, 'boot.bin'), file);
    const tftp = await serveTftp({ root, host: '127.0.0.1', port: 0, writable: true });
    running.push(tftp);
    const peer = { host: '127.0.0.1', port: tftp.address.port };
    // Server: a read and a write; client: a get, a put and a failed get.
    const ended = published(events.transferEnd, 5);

    const parts: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        parts.push(chunk);
        done();
      },
    });
    await tftpGet(peer, 'boot.bin', sink);
    expect(Buffer.concat(parts).equals(file)).toBe(true);
    await tftpPut(peer, 'up.bin', Readable.from([randomBytes(1500)]), 1500);
    const missing = await tftpGet(
      peer,
      'missing.bin',
      new Writable({ write: (_c, _e, done) => done() }),
    ).catch((err: unknown) => err);
    expect(isSockitError(missing, ErrorCode.TFTP_REMOTE)).toBe(true);
    await ended;

    const v = await values(metrics);
    const t = (name: string, labels: string): number | undefined =>
      v.get(`sockit_${name}{${labels},service="tftp"}`);
    // Server read + client put go out; server write + client get come in.
    expect(t('transfers_total', 'direction="out",outcome="ok"')).toBe(2);
    expect(t('transfers_total', 'direction="in",outcome="ok"')).toBe(2);
    expect(t('transfers_total', 'direction="in",outcome="fail"')).toBe(1);
    expect(t('transfer_bytes_total', 'direction="out"')).toBe(4500);
    expect(t('transfer_bytes_total', 'direction="in"')).toBe(4500);
    expect(t('transfers_active', 'direction="out"')).toBe(0);
    expect(t('transfers_active', 'direction="in"')).toBe(0);
    // The server refused before any block moved: an error, not a transfer.
    expect(t('errors_total', 'code="ERR_NOT_FOUND"')).toBe(1);
    expect(t('errors_total', 'code="ERR_TFTP_REMOTE"')).toBe(1);
  });
});
