import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openedInside, resolveInRoot } from './paths.js';

describe('TFTP paths', () => {
  const base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'sockit-paths-')));
  const root = path.join(base, 'root');
  const outside = path.join(base, 'outside');
  mkdirSync(path.join(root, 'boot'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(path.join(root, 'boot', 'kernel'), 'kernel');
  writeFileSync(path.join(outside, 'kernel'), 'secret');
  symlinkSync(path.join(root, 'boot'), path.join(root, 'alias'));
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('judges an open file by where it is, whatever name opened it', async () => {
    for (const [name, expected] of [
      [path.join(root, 'boot', 'kernel'), true],
      [path.join(root, 'alias', 'kernel'), true],
      [path.join(outside, 'kernel'), false],
      [path.join(root, 'boot', '..', '..', 'outside', 'kernel'), false],
    ] as const) {
      const handle = await open(name, 'r');
      try {
        expect(await openedInside(root, handle), name).toBe(expected);
      } finally {
        await handle.close();
      }
    }
  });

  it('catches a folder swapped for a link after the name was resolved', async () => {
    const swapped = path.join(root, 'swapped');
    mkdirSync(swapped);
    writeFileSync(path.join(swapped, 'kernel'), 'ours');
    const resolved = await resolveInRoot(root, 'swapped/kernel', [], '127.0.0.1');
    expect(resolved.ok).toBe(true);
    // Between the check and the open, someone with write access to the root swaps the folder.
    rmSync(swapped, { recursive: true });
    symlinkSync(outside, swapped);
    const handle = await open((resolved as { path: string }).path, 'r');
    try {
      expect(await openedInside(root, handle)).toBe(false);
    } finally {
      await handle.close();
    }
  });

  it('takes names that begin with two dots for names, and still refuses ..', async () => {
    writeFileSync(path.join(root, '..hidden'), 'dots');
    mkdirSync(path.join(root, '..dir'));
    writeFileSync(path.join(root, '..dir', 'f'), 'dots');
    for (const name of ['..hidden', '/..hidden', '..dir/f', 'boot/..kernel']) {
      const resolved = await resolveInRoot(root, name, [], '127.0.0.1');
      expect(resolved, name).toMatchObject({ ok: true, path: path.join(root, name.replace(/^\//, '')) });
    }
    for (const name of ['..', '../outside/kernel', 'boot/../../outside/kernel', '..\\outside']) {
      expect((await resolveInRoot(root, name, [], '127.0.0.1')).ok, name).toBe(false);
    }
  });
});
