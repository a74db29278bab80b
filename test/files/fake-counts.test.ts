/**
 * Regression: accounts made with a non-default iteration count stood out, since every unknown
 * name was shown the default. Unknown names now get counts in the store's own proportions.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScramClient } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { Throttle } from '../../src/auth/throttle.js';
import { Channel } from '../../src/runtime/channel.js';
import type { TcpService } from '../../src/runtime/tcp.js';
import { serveFilesForTest } from './serve.js';

describe('iteration counts shown to unknown names', () => {
  let dir: string;
  let store: UserStore;
  let service: TcpService;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-counts-'));
    store = await openUserStore(path.join(dir, 'users.db'));
    // Made-up keys: only the counts matter here. One account in four has 4096, the rest 600,000.
    for (let i = 0; i < 20; i++) {
      await store.add(`u${i}`, {
        salt: randomBytes(16),
        iterations: i % 4 === 0 ? 4096 : 600_000,
        storedKey: randomBytes(32),
        serverKey: randomBytes(32),
      });
    }
    service = await serveFilesForTest(path.join(dir, 'root'), store, {
      throttle: new Throttle({ freeFailures: 10_000 }),
    });
  });

  afterAll(async () => {
    await service?.close();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function countOf(user: string): Promise<number> {
    const socket = net.connect(service.address.port, '127.0.0.1');
    const channel = new Channel(socket);
    try {
      await channel.receive();
      channel.send({ op: 'auth', mechanism: 'SCRAM-SHA-256', data: new ScramClient(user, 'x').first() });
      return Number(/i=(\d+)/.exec(String((await channel.receive()).header.data))?.[1]);
    } finally {
      socket.destroy();
    }
  }

  it('shows the counts of real accounts in their proportions, the same count per name', async () => {
    await countOf('warm-up');
    await new Promise((r) => setTimeout(r, 50));
    const counts: number[] = [];
    for (let i = 0; i < 400; i++) counts.push(await countOf(`ghost${i}`));
    const share = counts.filter((n) => n === 4096).length / counts.length;
    // 1/4 expected; with 400 draws, 5 standard deviations are about ±0.11.
    expect(share).toBeGreaterThan(0.25 - 0.11);
    expect(share).toBeLessThan(0.25 + 0.11);
    expect(new Set(counts)).toEqual(new Set([4096, 600_000]));
    for (let i = 0; i < 10; i++) expect(await countOf(`ghost${i}`)).toBe(counts[i]);
    expect(await countOf('u0')).toBe(4096);
    expect(await countOf('u1')).toBe(600_000);
  });
});
