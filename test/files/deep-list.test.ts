/**
 * A recursive listing of a deep tree: it opens each folder once, from its parent's verified
 * handle (a walk from the root for each folder opened 1 + 2 + ... + N of them and took minutes
 * of CPU for a tree 2,000 deep), and the service neither walks nor makes paths deeper than
 * MAX_DEPTH.
 */

import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { MAX_DEPTH, UserFiles } from '../../src/files/storage.js';
import { ConfinedRoot } from '../../src/runtime/confine.js';
import { codeOf } from '../codes.js';

// Counts the folders opened (open(2) with O_DIRECTORY) through node:fs/promises.
const count = vi.hoisted(() => ({ dirOpens: 0 }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const { constants } = await import('node:fs');
  const open: typeof real.open = (file, flags, mode) => {
    if (typeof flags === 'number' && (flags & constants.O_DIRECTORY) !== 0) count.dirOpens++;
    return real.open(file, flags, mode);
  };
  return { ...real, default: { ...real, open }, open };
});

/** Makes `depth` nested folders d/d/.../d in the home, each with one file, on the disk directly. */
function deepTree(home: string, depth: number): void {
  const deepest = path.join(home, ...Array.from({ length: depth }, () => 'd'));
  mkdirSync(deepest, { recursive: true });
}

describe('deep trees in the file service', () => {
  let dir: string;
  let root: ConfinedRoot;
  let files: UserFiles;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-deep-'));
    root = await ConfinedRoot.open(dir);
    files = new UserFiles(root, 'ann');
    await files.ensure();
  });

  afterEach(async () => {
    await root.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists a tree N deep with O(N) folder opens, not O(N^2)', async () => {
    const depth = 200;
    deepTree(path.join(dir, 'ann'), depth);
    count.dirOpens = 0;
    const entries = await files.list('', true);
    expect(entries).toHaveLength(depth);
    expect(entries.at(-1)?.path).toBe(Array.from({ length: depth }, () => 'd').join('/'));
    // One open per folder plus a few for the start; a walk from the root per folder is ~20,000.
    expect(count.dirOpens).toBeLessThanOrEqual(depth + 10);
  });

  it('refuses to list past MAX_DEPTH, and to make or upload to such a path', async () => {
    deepTree(path.join(dir, 'ann'), MAX_DEPTH + 5);
    expect(await codeOf(files.list('', true))).toBe(ErrorCode.TOO_DEEP);
    expect(await codeOf(files.list('d', true))).toBe(ErrorCode.TOO_DEEP);
    // Exactly MAX_DEPTH deep is fine.
    const limit = Array.from({ length: MAX_DEPTH }, () => 'e').join('/');
    await files.mkdir(limit, true);
    expect((await files.stat(limit)).type).toBe('dir');
    expect(await codeOf(files.mkdir(`${limit}/e`, true))).toBe(ErrorCode.TOO_DEEP);
    expect(await codeOf(files.entry(`${limit}/f.txt`))).toBe(ErrorCode.TOO_DEEP);
    expect(() => files.partFor(`${limit}/f.txt`)).toThrow(
      expect.objectContaining({ code: ErrorCode.TOO_DEEP }),
    );
  });

  it('closes every folder it opened: the root closes at once afterwards', async () => {
    deepTree(path.join(dir, 'ann'), 50);
    await files.list('', true);
    await expect(codeOf(files.list('', true).then(() => root.close()))).resolves.toBe('resolved');
    expect(await codeOf(files.list('', true))).toBe(ErrorCode.ROOT_CLOSED);
  });
});
