/**
 * Regression: ways to keep a legitimate user out of the file service without knowing any
 * password. A flood of connections that never log in made the guard drop the user halfway
 * through SCRAM, and each dropped attempt counted against the user's account; one address that
 * opened attempts and never finished them held the account's in-flight slot, so its owner was
 * refused; one account could hold every connection slot. Real sockets on loopback, with many
 * source addresses (127.x.y.z).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { scramLogin } from '../../src/auth/login-client.js';
import { throttleKey } from '../../src/auth/login-server.js';
import { deriveCredentials, ScramClient } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { Throttle } from '../../src/auth/throttle.js';
import { ErrorCode, isSockitError } from '../../src/errors.js';
import type { FilesServerOptions } from '../../src/files/server.js';
import { Channel } from '../../src/runtime/channel.js';
import type { TcpService } from '../../src/runtime/tcp.js';
import { serveFilesForTest } from './serve.js';

const ITERATIONS = 4096;

let dir: string;
let store: UserStore;
const services: TcpService[] = [];
const sockets: net.Socket[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sockit-lockout-'));
  store = await openUserStore(path.join(dir, 'users.db'));
  await store.add('ann', await deriveCredentials('correct horse', { iterations: ITERATIONS }));
  await store.add('bob', await deriveCredentials('battery staple', { iterations: ITERATIONS }));
});

afterAll(async () => {
  await store?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(services.splice(0).map((s) => s.close()));
});

async function start(options: Partial<FilesServerOptions> = {}): Promise<number> {
  const service = await serveFilesForTest(path.join(dir, 'root'), store, options);
  services.push(service);
  return service.address.port;
}

/** A connection from `localAddress`, its greeting read (or undefined if the server closed it). */
async function open(port: number, localAddress: string): Promise<Channel | undefined> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  socket.on('error', () => {});
  sockets.push(socket);
  const channel = new Channel(socket);
  try {
    await channel.receive();
    return channel;
  } catch {
    return undefined;
  }
}

/** A silent connection from `localAddress`: opened, greeting left unread. */
function silent(port: number, localAddress: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress }, () => resolve());
    socket.on('error', () => resolve());
    sockets.push(socket);
  });
}

const transport = (channel: Channel) => ({
  send: (m: Record<string, unknown>) => {
    channel.send(m);
  },
  receive: async () => (await channel.receive()).header,
});

/** A whole log-in from `localAddress`, no retry: the user name, or the refusal's code. */
async function logIn(port: number, localAddress: string, user: string, password: string): Promise<string> {
  const channel = await open(port, localAddress);
  if (!channel) return 'closed';
  return scramLogin(transport(channel), user, password, { maxRetryWaitMs: 0 }).catch((err: unknown) =>
    isSockitError(err) ? err.code : String(err),
  );
}

/** Sends a well-formed first SCRAM message for `user` and returns the server's answer. */
async function firstStep(channel: Channel, user: string, password = 'whatever') {
  const scram = new ScramClient(user, password);
  channel.send({ op: 'auth', mechanism: 'SCRAM-SHA-256', data: scram.first() });
  return { scram, answer: (await channel.receive()).header };
}

/** 127.9.i.j for the i-th of many crowd addresses. */
const crowd = (i: number): string => `127.9.${Math.floor(i / 200)}.${1 + (i % 200)}`;

describe('a flood of connections that never log in', () => {
  it('does not drop a user halfway through log-in, however many newcomers arrive', async () => {
    const port = await start({ maxStartups: { start: 10, rate: 0, full: 10 }, loginTimeoutMs: 60_000 });
    // The unauthenticated limit is reached by a crowd from many addresses.
    await Promise.all(Array.from({ length: 10 }, (_, i) => silent(port, crowd(i))));
    const channel = await open(port, '127.0.0.1');
    if (!channel) throw new Error('the user was not let in');
    const { scram, answer } = await firstStep(channel, 'ann', 'correct horse');
    expect(answer.ok).toBe(true);
    // Three times the limit of newcomers while the user computes the proof: each takes the
    // place of a waiting connection.
    for (let i = 10; i < 40; i++) await silent(port, crowd(i));
    channel.send({ op: 'auth-final', data: await scram.final(String(answer.data)) });
    expect((await channel.receive()).header).toMatchObject({ ok: true, user: 'ann' });
  });

  it('caps connections not logged in per address: one address cannot fill the waiting room', async () => {
    const port = await start({
      maxUnauthenticatedPerAddress: 4,
      maxStartups: { start: 100, rate: 0, full: 100 },
      loginTimeoutMs: 60_000,
    });
    const held = await Promise.all(Array.from({ length: 6 }, () => open(port, '127.9.9.9')));
    expect(held.filter((c) => c !== undefined).length).toBe(4);
    expect(await logIn(port, '127.0.0.1', 'ann', 'correct horse')).toBe('ann');
  });

  it('charges an abandoned attempt to its address, never to the account', async () => {
    // The account backs off after one failure: two abandoned attempts would lock it.
    const port = await start({
      accountThrottle: new Throttle({ freeFailures: 1, baseMs: 60_000, maxMs: 60_000 }),
    });
    for (const address of ['127.8.0.1', '127.8.0.2', '127.8.0.3']) {
      const channel = await open(port, address);
      if (!channel) throw new Error('not let in');
      expect((await firstStep(channel, 'ann')).answer.ok).toBe(true);
      channel.socket.destroy(); // gone before the proof
      await vi.waitFor(() => expect(channel.socket.closed).toBe(true));
    }
    expect(await logIn(port, '127.0.0.1', 'ann', 'correct horse')).toBe('ann');
  });
});

describe('one address holding log-in attempts open for an account', () => {
  it('does not keep the owner out: the owner waits for the slot and gets in', async () => {
    // The attacker's address is never braked by its own back-off here: only the account's
    // in-flight slot stands between the owner and the account.
    const port = await start({
      throttle: new Throttle({ freeFailures: 1_000_000 }),
      loginStepTimeoutMs: 300,
    });
    let stop = false;
    const held: number[] = [];
    const attacker = (async () => {
      while (!stop) {
        const channel = await open(port, '127.7.0.1');
        if (!channel) continue;
        const { answer } = await firstStep(channel, 'ann').catch(() => ({ answer: { ok: false } }));
        if (answer.ok === true) {
          held.push(1);
          // Never sends the proof: waits for the server to give up.
          await channel.receive().catch(() => {});
        } else await new Promise((r) => setTimeout(r, 5));
        channel.socket.destroy();
      }
    })();
    await vi.waitFor(() => expect(held.length).toBeGreaterThan(0));
    const results: string[] = [];
    for (let i = 0; i < 3; i++) results.push(await logIn(port, '127.0.0.1', 'ann', 'correct horse'));
    stop = true;
    await attacker;
    expect(results).toEqual(['ann', 'ann', 'ann']);
  });
});

describe('logged-in connections', () => {
  it('refuses the (cap+1)th connection of one user with ERR_TOO_MANY_CONNECTIONS; others get in', async () => {
    const port = await start({ maxPerUser: 3 });
    const ann = [];
    for (let i = 0; i < 3; i++) ann.push(await logIn(port, `127.6.0.${i + 1}`, 'ann', 'correct horse'));
    expect(ann).toEqual(['ann', 'ann', 'ann']);
    expect(await logIn(port, '127.6.0.9', 'ann', 'correct horse')).toBe(ErrorCode.TOO_MANY_CONNECTIONS);
    expect(await logIn(port, '127.0.0.1', 'bob', 'battery staple')).toBe('bob');
    // One of ann's closes: her next log-in is taken.
    sockets[0]?.destroy();
    await vi.waitFor(async () => expect(await logIn(port, '127.6.0.9', 'ann', 'correct horse')).toBe('ann'));
  });

  it('keeps a reserve of slots for log-ins: logged-in users cannot take them all', async () => {
    const port = await start({ maxConnections: 8, loginReserve: 2, maxPerUser: 100 });
    const results = [];
    for (let i = 0; i < 7; i++) {
      const [user, password] = i % 2 ? ['bob', 'battery staple'] : ['ann', 'correct horse'];
      results.push(await logIn(port, `127.5.0.${i + 1}`, user as string, password as string));
    }
    expect(results.slice(0, 6)).toEqual(['ann', 'bob', 'ann', 'bob', 'ann', 'bob']);
    expect(results[6]).toBe(ErrorCode.TOO_MANY_CONNECTIONS);
    // The reserved slots still take newcomers.
    const newcomer = await open(port, '127.5.1.1');
    expect(newcomer).toBeDefined();
  });
});

describe('an address that failed often, then logs in rightly', () => {
  it('is not slowed further by its own successes: the wait does not restart', async () => {
    // The address's clock is the test's: the back-off is read, never waited for.
    let now = 0;
    const port = await start({ throttle: new Throttle({ forgetMs: 2 ** 40, now: () => now }) });
    // Each try on a connection of its own, closed after: the address's waiting cap stays clear.
    const once = async (user: string, password: string): Promise<string> => {
      const result = await logIn(port, '127.4.0.1', user, password);
      sockets.pop()?.destroy();
      return result;
    };
    for (let i = 0; i < 11; i++) {
      expect(await once(`ghost${i}`, 'wrong')).toBe(ErrorCode.AUTH_FAILED);
      now += 60_000; // past the longest wait
    }
    // The clock stands still from here: each success must leave the wait where it was (over).
    const results: string[] = [];
    for (let i = 0; i < 3; i++) results.push(await once('ann', 'correct horse'));
    expect(results).toEqual(['ann', 'ann', 'ann']);
  });
});

/**
 * A crowd from `addresses` that keeps the account's slot and queue full: each opens an attempt
 * for `user`, never sends the proof, and opens another once the server gives up on it.
 */
function holdAccount(port: number, addresses: string[], user: string) {
  const tally = { held: 0, refused: 0 };
  let stop = false;
  const crowd = addresses.map(async (address) => {
    while (!stop) {
      const channel = await open(port, address);
      if (!channel) continue;
      const { answer } = await firstStep(channel, user).catch(() => ({ answer: { ok: false } }));
      if (answer.ok === true) {
        tally.held++;
        await channel.receive().catch(() => {}); // the server gives up on the proof
      } else {
        tally.refused++;
        await new Promise((r) => setTimeout(r, 5));
      }
      channel.socket.destroy();
    }
  });
  return {
    tally,
    stop: async () => {
      stop = true;
      await Promise.all(crowd);
    },
  };
}

describe('a crowd from many addresses holding the account slot and its queue', () => {
  const addresses = Array.from({ length: 20 }, (_, i) => `127.3.1.${i + 1}`);

  it('lets the owner in from an address group that logged in before', async () => {
    // Only the account's slot and queue stand between the owner and the account here.
    const port = await start({
      throttle: new Throttle({ freeFailures: 1_000_000 }),
      loginStepTimeoutMs: 300,
    });
    expect(await logIn(port, '127.0.0.1', 'ann', 'correct horse')).toBe('ann');
    const attack = holdAccount(port, addresses, 'ann');
    await vi.waitFor(() => expect(attack.tally.refused).toBeGreaterThan(20)); // the queue is full
    const results: string[] = [];
    for (let i = 0; i < 3; i++) results.push(await logIn(port, '127.0.0.1', 'ann', 'correct horse'));
    await attack.stop();
    expect(results).toEqual(['ann', 'ann', 'ann']);
  });

  it("spares the owner's usual group the account's back-off that guessers elsewhere ran up", async () => {
    const port = await start({ loginStepTimeoutMs: 300 });
    expect(await logIn(port, '127.0.0.1', 'ann', 'correct horse')).toBe('ann');
    // Twenty wrong guesses from twenty addresses: past the account's ten free failures.
    for (let i = 0; i < 20; i++) {
      const got = await logIn(port, crowd(400 + i), 'ann', 'a guess');
      expect([ErrorCode.AUTH_FAILED, ErrorCode.THROTTLED]).toContain(got);
    }
    // A stranger with the right password is held by the account's back-off; the owner is not.
    expect(await logIn(port, '127.3.0.10', 'ann', 'correct horse')).toBe(ErrorCode.THROTTLED);
    expect(await logIn(port, '127.0.0.1', 'ann', 'correct horse')).toBe('ann');
  });

  it('does not charge a refusal by the account queue to the refused address', async () => {
    const throttle = new Throttle({ freeFailures: 1_000_000 });
    const port = await start({ throttle, loginStepTimeoutMs: 300 });
    const attack = holdAccount(port, addresses, 'ann');
    await vi.waitFor(() => expect(attack.tally.refused).toBeGreaterThan(20));
    const results: string[] = [];
    for (let i = 0; i < 3; i++) results.push(await logIn(port, '127.3.0.9', 'ann', 'correct horse'));
    await attack.stop();
    expect(results).toContain(ErrorCode.THROTTLED); // a stranger's group waits in the common queue
    expect(throttle.snapshot(throttleKey.address('127.3.0.9'))).toBeUndefined();
  });
});

describe('a crowd of log-ins that start and never finish', () => {
  it('cannot hold every waiting slot: a real user still gets in and logs in', async () => {
    // The crowd's attempts are given all the time they like: only the guard's choice of whom
    // to drop stands between it and the user.
    const port = await start({
      maxConnections: 40,
      maxStartups: { start: 20, rate: 0, full: 20 },
      loginTimeoutMs: 60_000,
      loginStepTimeoutMs: 60_000,
    });
    let held = 0;
    for (let i = 0; i < 300; i++) {
      // Each from a network of its own (127.N.M.1): no per-address or per-network cap applies.
      const channel = await open(port, `127.${20 + (i % 100)}.${Math.floor(i / 100)}.1`);
      if (!channel) continue;
      const { answer } = await firstStep(channel, `ghost${i}`).catch(() => ({ answer: { ok: false } }));
      if (answer.ok === true) held++;
    }
    expect(held).toBeGreaterThanOrEqual(20); // the crowd filled the room
    expect(await logIn(port, '127.0.0.1', 'ann', 'correct horse')).toBe('ann');
  });
});
