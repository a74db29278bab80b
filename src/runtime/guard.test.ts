import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { foldAddress, type GuardOptions, guardServer, type ServerGuard } from './guard.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const done of cleanup.splice(0).reverse()) await done();
});

/**
 * A plain server guarded with `options`, whose handler marks a connection authenticated on
 * "login\n" (as NAME on "login NAME\n"; "refused\n" past a cap) and its log-in under way on "start\n".
 */
async function guarded(options: GuardOptions): Promise<{ guard: ServerGuard; port: number }> {
  const server = net.createServer();
  const guard = guardServer(server, options);
  server.on('connection', (socket) => {
    socket.on('data', (d) => {
      const text = d.toString();
      if (text.startsWith('start')) {
        guard.connectionOf(socket)?.loginStarted();
        socket.write('started\n');
      } else if (text.includes('login')) {
        try {
          guard.connectionOf(socket)?.authenticate(/^login (\w+)/.exec(text)?.[1]);
          socket.write('ok\n');
        } catch {
          socket.write('refused\n');
        }
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanup.push(() => guard.close());
  return { guard, port: (server.address() as net.AddressInfo).port };
}

function connect(port: number, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress }, () => resolve(socket));
    socket.once('error', reject);
    cleanup.push(async () => {
      socket.destroy();
    });
  });
}

/** True once the peer closed the socket, false if it still stands after `ms`. */
function closedWithin(socket: net.Socket, ms: number): Promise<boolean> {
  if (socket.closed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.on('error', () => {});
    socket.resume();
  });
}

async function login(socket: net.Socket, line = 'login\n'): Promise<string> {
  const reply = once(socket, 'data');
  socket.write(line);
  return String((await reply)[0]);
}

describe('guardServer', () => {
  it('folds IPv4-mapped IPv6 addresses to IPv4', () => {
    expect(foldAddress('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(foldAddress('2001:db8::1')).toBe('2001:db8::1');
    expect(foldAddress(undefined)).toBe('?');
  });

  it('refuses the (cap+1)th connection from one address', async () => {
    const { guard, port } = await guarded({ maxPerAddress: 3, loginTimeoutMs: 0 });
    const kept = await Promise.all([1, 2, 3].map(() => connect(port)));
    const extra = await connect(port);
    expect(await closedWithin(extra, 2000)).toBe(true);
    for (const socket of kept) expect(await closedWithin(socket, 50)).toBe(false);
    expect(guard.connections).toBe(3);
  });

  it('closes a connection that does not log in before the deadline, not one that does', async () => {
    const { guard, port } = await guarded({ loginTimeoutMs: 300 });
    const silent = await connect(port);
    const user = await connect(port);
    expect(await login(user)).toBe('ok\n');
    expect(await closedWithin(silent, 3000)).toBe(true);
    expect(await closedWithin(user, 300)).toBe(false);
    expect(guard.connections).toBe(1);
    expect(guard.unauthenticated).toBe(0);
  });

  it('when full of connections that never log in, drops the oldest for a newcomer who then logs in', async () => {
    const { guard, port } = await guarded({ maxConnections: 5, loginTimeoutMs: 0, maxPerAddress: 100 });
    const crowd: net.Socket[] = [];
    for (let i = 0; i < 5; i++) crowd.push(await connect(port));
    await vi.waitFor(() => expect(guard.connections).toBe(5));
    const user = await connect(port);
    expect(await login(user)).toBe('ok\n');
    expect(await closedWithin(crowd[0] as net.Socket, 2000)).toBe(true);
    expect(guard.connections).toBe(5);
    expect(guard.unauthenticated).toBe(4);
  });

  it('when full, drops a silent connection of the group with the most waiting, never one logging in', async () => {
    const { guard, port } = await guarded({
      maxConnections: 5,
      loginTimeoutMs: 0,
      maxStartups: { start: 100, rate: 0, full: 100 },
    });
    // Oldest first: a lone waiting connection, one mid-log-in, then a crowd of three from one address.
    const lone = await connect(port, '127.3.0.1');
    const busy = await connect(port, '127.3.0.2');
    expect(await login(busy, 'start\n')).toBe('started\n');
    const crowd = [];
    for (let i = 0; i < 3; i++) crowd.push(await connect(port, '127.3.0.9'));
    await vi.waitFor(() => expect(guard.connections).toBe(5));
    const newcomer = await connect(port, '127.3.0.3');
    expect(await closedWithin(crowd[0] as net.Socket, 2000)).toBe(true);
    for (const socket of [lone, busy, newcomer, ...crowd.slice(1)]) {
      expect(await closedWithin(socket, 50)).toBe(false);
    }
    expect(await login(busy)).toBe('ok\n');
  });

  it('caps waiting connections per address group, and logged-in ones per user', async () => {
    const { port } = await guarded({ maxUnauthenticatedPerAddress: 2, maxPerUser: 2, loginTimeoutMs: 0 });
    const waiting = [await connect(port), await connect(port)];
    const third = await connect(port);
    expect(await closedWithin(third, 2000)).toBe(true);
    expect(await login(waiting[0] as net.Socket, 'login ann\n')).toBe('ok\n');
    // Logged in, it no longer counts as waiting: room for one more.
    const next = await connect(port);
    expect(await login(next, 'login ann\n')).toBe('ok\n');
    expect(await login(waiting[1] as net.Socket, 'login ann\n')).toBe('refused\n');
    expect(await login(waiting[1] as net.Socket, 'login bob\n')).toBe('ok\n');
  });

  it('caps waiting connections per network (/24): many addresses of one network cannot fill the room', async () => {
    const { port } = await guarded({ maxUnauthenticatedPerNetwork: 3, loginTimeoutMs: 0 });
    const crowd = [];
    for (let i = 1; i <= 4; i++) crowd.push(await connect(port, `127.3.2.${i}`));
    expect(await closedWithin(crowd[3] as net.Socket, 2000)).toBe(true);
    for (const socket of crowd.slice(0, 3)) expect(await closedWithin(socket, 50)).toBe(false);
    // Another network still gets in.
    expect(await login(await connect(port, '127.3.3.1'))).toBe('ok\n');
  });

  it('spares log-ins under way only up to a bound; beyond it drops the one that started first', async () => {
    const { port } = await guarded({
      maxConnections: 4,
      maxLoginsUnderWay: 2,
      loginTimeoutMs: 0,
      maxStartups: { start: 100, rate: 0, full: 100 },
    });
    // All four mid-log-in, each from an address of its own, the first started first.
    const busy = [];
    for (let i = 1; i <= 4; i++) {
      const socket = await connect(port, `127.3.4.${i}`);
      expect(await login(socket, 'start\n')).toBe('started\n');
      busy.push(socket);
    }
    const newcomer = await connect(port, '127.3.5.1');
    expect(await closedWithin(busy[0] as net.Socket, 2000)).toBe(true);
    for (const socket of busy.slice(1)) expect(await closedWithin(socket, 50)).toBe(false);
    expect(await login(newcomer)).toBe('ok\n');
  });

  it('refuses a newcomer when every connection has logged in', async () => {
    const { guard, port } = await guarded({ maxConnections: 2, loginTimeoutMs: 0 });
    const users = [await connect(port), await connect(port)];
    for (const user of users) expect(await login(user)).toBe('ok\n');
    const extra = await connect(port);
    expect(await closedWithin(extra, 2000)).toBe(true);
    expect(guard.connections).toBe(2);
  });

  it('refuses unauthenticated newcomers early between start and full, as MaxStartups', async () => {
    // random() = 0.5: at start (rate 40%) kept, half-way to full (70%) refused.
    const { guard, port } = await guarded({
      maxStartups: { start: 2, rate: 40, full: 4 },
      loginTimeoutMs: 0,
      random: () => 0.5,
    });
    const first = [await connect(port), await connect(port)];
    const third = await connect(port);
    expect(await closedWithin(third, 200)).toBe(false);
    const fourth = await connect(port);
    expect(await closedWithin(fourth, 2000)).toBe(true);
    expect(guard.unauthenticated).toBe(3);
    expect(first.every((s) => !s.closed)).toBe(true);
  });

  it('guards a plain http.Server: per-address cap and drain on close', async () => {
    const server = http.createServer((_req, res) => res.end('hi'));
    const guard = guardServer(server, { login: false, maxPerAddress: 2, drainTimeoutMs: 200 });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    const agent = new http.Agent({ keepAlive: true });
    const get = (): Promise<string> =>
      new Promise((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, agent }, (res) => {
            let body = '';
            res.on('data', (d) => {
              body += d;
            });
            res.on('end', () => resolve(body));
          })
          .on('error', reject);
      });
    expect(await get()).toBe('hi');
    // The agent keeps its socket alive: with the cap at 2, one more fits and the next is refused.
    const held = [await connect(port), await connect(port)];
    expect(await closedWithin(held[1] as net.Socket, 2000)).toBe(true);
    expect(await closedWithin(held[0] as net.Socket, 100)).toBe(false);
    expect(guard.connections).toBe(2);
    agent.destroy();
    await guard.close();
    expect(server.listening).toBe(false);
    expect(await closedWithin(held[0] as net.Socket, 1000)).toBe(true);
  });
});
