/**
 * Upload parts expire: a part untouched for longer than `partTtlMs` is removed at start and
 * periodically, unless its upload is under way.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveCredentials } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { sweepParts } from '../../src/files/parts.js';
import { partId } from '../../src/files/storage.js';
import { ConfinedRoot } from '../../src/runtime/confine.js';
import { serveFilesForTest } from './serve.js';

const ITERATIONS = 4096;

describe('upload parts expire', () => {
  let base: string;
  let store: UserStore;

  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'sockit-parts-'));
    store = await openUserStore(path.join(base, 'users.db'));
    await store.add('ann', await deriveCredentials('correct horse', { iterations: ITERATIONS }));
  });
  afterAll(async () => {
    await store?.close();
    await rm(base, { recursive: true, force: true });
  });

  async function plantPart(root: string, user: string, display: string, ageMs: number): Promise<string[]> {
    const dir = path.join(root, '.parts', user);
    await mkdir(dir, { recursive: true });
    const id = partId(display);
    const files = [path.join(dir, `${id}.part`), path.join(dir, `${id}.json`)];
    const when = (Date.now() - ageMs) / 1000;
    for (const file of files) {
      await writeFile(file, 'x');
      await utimes(file, when, when);
    }
    return files;
  }

  it('removes stale parts, keeps fresh ones and those of uploads under way', async () => {
    const rootDir = path.join(base, 'sweep');
    const stale = await plantPart(rootDir, 'ann', 'old.bin', 10_000);
    const fresh = await plantPart(rootDir, 'ann', 'new.bin', 0);
    const busy = await plantPart(rootDir, 'bob', 'big.iso', 10_000);
    const root = await ConfinedRoot.open(rootDir);
    try {
      expect(await sweepParts(root, 5_000, new Set(['bob/big.iso']))).toBe(2);
    } finally {
      await root.close();
    }
    expect(stale.map(existsSync)).toEqual([false, false]);
    expect(fresh.map(existsSync)).toEqual([true, true]);
    expect(busy.map(existsSync)).toEqual([true, true]);
  });

  it("tells what each removed part held, so that its user's usage drops with it", async () => {
    const rootDir = path.join(base, 'sweep-usage');
    await plantPart(rootDir, 'ann', 'old.bin', 10_000);
    await plantPart(rootDir, 'cy', 'old.bin', 10_000);
    await plantPart(rootDir, 'cy', 'new.bin', 0);
    const removed: Array<[string, number]> = [];
    const root = await ConfinedRoot.open(rootDir);
    try {
      await sweepParts(root, 5_000, new Set(), Date.now(), async (user, bytes) => {
        removed.push([user, bytes]);
      });
    } finally {
      await root.close();
    }
    // One entry per part (a description file is not usage), 1 byte each as planted.
    expect(removed.sort()).toEqual([
      ['ann', 1],
      ['cy', 1],
    ]);
  });

  it('serveFiles sweeps at start and then periodically', async () => {
    const rootDir = path.join(base, 'served');
    const atStart = await plantPart(rootDir, 'ann', 'a.bin', 60_000);
    const service = await serveFilesForTest(rootDir, store, {
      partTtlMs: 200,
    });
    try {
      expect(atStart.map(existsSync)).toEqual([false, false]);
      const later = await plantPart(rootDir, 'ann', 'b.bin', 0);
      const deadline = Date.now() + 10_000;
      while (later.some(existsSync) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(later.map(existsSync)).toEqual([false, false]);
      expect(await readdir(path.join(rootDir, '.parts', 'ann'))).toEqual([]);
    } finally {
      await service.close();
    }
  });
});
