/**
 * Regression: registration had no rate limit; one address could make accounts without end.
 * Then the limit counted exact addresses (one host with many addresses dodged it) and a fixed
 * hourly global cap that a crowd used up kept every newcomer out for an hour.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAccount } from '../../src/auth/login-client.js';
import { ThrottledError } from '../../src/auth/login-transport.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { ErrorCode, isSockitError } from '../../src/errors.js';
import { FilesClient } from '../../src/files/client.js';
import { Channel } from '../../src/runtime/channel.js';
import type { TcpService } from '../../src/runtime/tcp.js';
import { serveFilesForTest } from './serve.js';

describe('registration rate limit', () => {
  let dir: string;
  let store: UserStore;
  let service: TcpService;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-register-'));
    store = await openUserStore(path.join(dir, 'users.db'));
    // The defaults: 5 registrations per address per hour.
    service = await serveFilesForTest(path.join(dir, 'root'), store, {
      allowRegister: true,
    });
  });

  afterAll(async () => {
    await service?.close();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('takes five registrations from one address in an hour, then answers ERR_THROTTLED', async () => {
    const client = await FilesClient.connect({ host: '127.0.0.1', port: service.address.port });
    try {
      const codes: string[] = [];
      for (let i = 0; i < 7; i++) {
        codes.push(
          await client.register(`user${i}`, 'a password', 4096).then(
            () => 'ok',
            (err: unknown) => (isSockitError(err) ? err.code : String(err)),
          ),
        );
      }
      expect(codes).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', ErrorCode.THROTTLED, ErrorCode.THROTTLED]);
      expect((await store.list()).length).toBe(5);
    } finally {
      client.close();
    }
  });
});

describe('registration limits by address group, with a steady global refill', () => {
  let dir: string;
  let store: UserStore;
  let service: TcpService;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-register-groups-'));
    store = await openUserStore(path.join(dir, 'users.db'));
    // The defaults: 5 per /24 (then one per 12 minutes), 100 for the server (then one per 36 s).
    service = await serveFilesForTest(path.join(dir, 'root'), store, {
      allowRegister: true,
    });
  });

  afterAll(async () => {
    await service?.close();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Registers each name from `localAddress`: 'ok', or the refusal (a ThrottledError keeps its wait). */
  async function register(localAddress: string, names: string[]): Promise<(string | ThrottledError)[]> {
    const socket = net.connect({ host: '127.0.0.1', port: service.address.port, localAddress });
    socket.on('error', () => {});
    const channel = new Channel(socket);
    const transport = {
      send: (m: Record<string, unknown>) => {
        channel.send(m);
      },
      receive: async () => (await channel.receive()).header,
    };
    try {
      await channel.receive(); // hello
      const results: (string | ThrottledError)[] = [];
      for (const name of names) {
        results.push(
          await registerAccount(transport, name, 'a password', 4096).then(
            () => 'ok',
            (err: unknown) =>
              err instanceof ThrottledError ? err : isSockitError(err) ? err.code : String(err),
          ),
        );
      }
      return results;
    } finally {
      socket.destroy();
    }
  }

  it('counts the addresses of one /24 together', async () => {
    const results = [];
    for (let i = 1; i <= 6; i++) results.push(...(await register(`127.4.7.${i}`, [`near${i}`])));
    expect(results.slice(0, 5)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect((results[5] as ThrottledError).code).toBe(ErrorCode.THROTTLED);
    // Another /24 has its own allowance.
    expect(await register('127.4.8.1', ['far1'])).toEqual(['ok']);
  });

  it('a crowd that uses up the global allowance delays a newcomer by a refill, not an hour', async () => {
    // 100 in all: 6 above, then 5 from each of 19 more /24s, minus one.
    for (let g = 0; g < 19; g++) {
      const names = Array.from({ length: g === 18 ? 3 : 5 }, (_, k) => `crowd${g}x${k}`);
      expect(await register(`127.4.${20 + g}.1`, names)).toEqual(names.map(() => 'ok'));
    }
    expect((await store.list()).length).toBe(6 + 93);
    expect(await register('127.4.100.1', ['last'])).toEqual(['ok']);
    const [refused] = await register('127.4.101.1', ['newcomer']);
    expect(refused).toBeInstanceOf(ThrottledError);
    expect((refused as ThrottledError).retryAfterMs).toBeLessThanOrEqual(36_000);
  });
});
