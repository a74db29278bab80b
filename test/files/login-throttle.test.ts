/**
 * Regression: the log-in back-off was beaten by parallel connections (each passed the delay
 * check before any failure was counted: 50 connections made 50 guesses at once). Now failures
 * are recorded before the proof is checked, one attempt per address and per account is in
 * flight, and a throttled attempt is answered at once with ERR_THROTTLED and the wait.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scramLogin } from '../../src/auth/login-client.js';
import { deriveCredentials, ScramClient } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { Throttle } from '../../src/auth/throttle.js';
import { ErrorCode } from '../../src/errors.js';
import { Channel } from '../../src/runtime/channel.js';
import type { TcpService } from '../../src/runtime/tcp.js';
import { serveFilesForTest } from './serve.js';

const ITERATIONS = 4096;
const FREE = 3;

describe('log-in back-off under parallel connections', () => {
  let dir: string;
  let store: UserStore;
  let service: TcpService;
  /** Accounts looked up by a log-in: one per guess that gets checked. */
  const lookups: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-throttle-'));
    const real = await openUserStore(path.join(dir, 'users.db'));
    await real.add('ann', await deriveCredentials('correct horse', { iterations: ITERATIONS }));
    store = Object.assign(Object.create(real) as UserStore, {
      get: (name: string) => {
        lookups.push(name);
        return real.get(name);
      },
      list: () => real.list(),
      close: () => real.close(),
    });
    service = await serveFilesForTest(path.join(dir, 'root'), store, {
      // A minute's wait once the free failures are used: nothing more may pass in the test.
      throttle: new Throttle({ freeFailures: FREE, baseMs: 60_000, maxMs: 60_000 }),
    });
  });

  afterAll(async () => {
    await service?.close();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** One guess on a fresh connection: the answer to `auth`, and to `auth-final` if it got that far. */
  async function guess(user: string, localAddress = '127.0.0.1') {
    const socket = net.connect({ port: service.address.port, host: '127.0.0.1', localAddress });
    const channel = new Channel(socket);
    try {
      await channel.receive(); // hello
      const scram = new ScramClient(user, 'a wrong guess');
      channel.send({ op: 'auth', mechanism: 'SCRAM-SHA-256', data: scram.first() });
      const first = (await channel.receive()).header;
      if (first.ok !== true) return { first, final: undefined };
      channel.send({ op: 'auth-final', data: await scram.final(String(first.data)) });
      return { first, final: (await channel.receive()).header };
    } finally {
      socket.destroy();
    }
  }

  it('checks at most the free guesses plus one from 6 waves of 50 parallel connections', async () => {
    const answers = [];
    for (let wave = 0; wave < 6; wave++) {
      answers.push(...(await Promise.all(Array.from({ length: 50 }, () => guess('ann')))));
    }
    const checked = answers.filter((a) => a.final !== undefined);
    expect(lookups.filter((name) => name === 'ann').length).toBeLessThanOrEqual(FREE + 1);
    expect(checked.length).toBeLessThanOrEqual(FREE + 1);
    for (const a of checked) expect(a.final).toMatchObject({ ok: false, code: ErrorCode.AUTH_FAILED });
    // Every other one was refused in answer to its first message, before any proof: at once.
    const refused = answers.filter((a) => a.final === undefined);
    expect(refused.length).toBe(300 - checked.length);
    for (const a of refused) {
      expect(a.first).toMatchObject({ ok: false, code: ErrorCode.THROTTLED });
      expect(a.first.retryAfterMs).toBeGreaterThan(0);
    }
  });

  it('answers a throttled unknown name exactly as a throttled real one', async () => {
    const before = lookups.length;
    const [real, ghost] = [await guess('ann'), await guess('nobody-here')];
    expect(lookups.length).toBe(before); // refused before any lookup
    expect(Object.keys(ghost.first).sort()).toEqual(Object.keys(real.first).sort());
    expect(ghost.first.code).toBe(ErrorCode.THROTTLED);
    expect(real.first.code).toBe(ErrorCode.THROTTLED);
  });

  it("lets the owner log in from another address at once, while the guesser's address waits", async () => {
    // Policy: per-address back-off stops the guesser; the account's own record (10 free
    // failures by default) is not yet full, so its owner elsewhere is not held up.
    const socket = net.connect({ port: service.address.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    const channel = new Channel(socket);
    try {
      await channel.receive();
      const transport = {
        send: (m: Record<string, unknown>) => {
          channel.send(m);
        },
        receive: async () => (await channel.receive()).header,
      };
      // No retry allowed: a throttled answer would fail the test.
      expect(await scramLogin(transport, 'ann', 'correct horse', { maxRetryWaitMs: 0 })).toBe('ann');
    } finally {
      socket.destroy();
    }
    expect((await guess('ann')).first.code).toBe(ErrorCode.THROTTLED);
  });
});
