/**
 * An upload's folder is opened once, when the upload is checked, and held until its part is
 * placed there: whatever happens to the path meanwhile (the folder renamed, a link put in its
 * place), the file lands in the folder that was checked, inside the home, or not at all.
 */
import { closeSync, constants, existsSync, readFileSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { UserFiles } from '../../src/files/storage.js';
import { ConfinedRoot } from '../../src/runtime/confine.js';

describe('an upload target', () => {
  let base: string;
  let outside: string;
  let root: ConfinedRoot;
  let files: UserFiles;
  let home: string;

  beforeEach(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'sockit-target-'));
    outside = path.join(base, 'outside');
    await mkdir(outside);
    await mkdir(path.join(base, 'root'));
    root = await ConfinedRoot.open(path.join(base, 'root'));
    files = new UserFiles(root, 'ann');
    await files.ensure();
    home = path.join(base, 'root', 'ann');
    await mkdir(path.join(home, 'photos'));
  });
  afterEach(async () => {
    await files.close();
    await root.close();
    await rm(base, { recursive: true, force: true });
  });

  /** A finished part for `requested` holding `text`. */
  async function partOf(requested: string, text: string) {
    const part = files.partFor(requested);
    const fd = await files.openPartFd(part, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC);
    writeSync(fd, text);
    closeSync(fd);
    return part;
  }

  it('lands in the folder it checked when that folder is swapped for a link meanwhile', async () => {
    const target = await files.target('photos/cat.jpg');
    try {
      expect(target.dir).toBeDefined();
      expect(target.entry).toBeUndefined();
      const part = await partOf('photos/cat.jpg', 'meow');
      // The checked folder moves away and a link to a folder outside the root takes its name.
      await rename(path.join(home, 'photos'), path.join(home, 'moved'));
      await symlink(outside, path.join(home, 'photos'));
      expect(await files.place(part, target, false)).toBe(0);
    } finally {
      await target.dir?.close();
    }
    expect(readFileSync(path.join(home, 'moved', 'cat.jpg'), 'utf8')).toBe('meow');
    expect(existsSync(path.join(outside, 'cat.jpg'))).toBe(false);
  });

  it('refuses a link as the folder or on the way to it, and tells a missing folder', async () => {
    await symlink(outside, path.join(home, 'door'));
    await expect(files.target('door/x.bin')).rejects.toMatchObject({ code: ErrorCode.PATH_DENIED });
    await expect(files.target('door/deeper/x.bin')).rejects.toMatchObject({ code: ErrorCode.PATH_DENIED });
    await symlink(path.join(outside, 'f'), path.join(home, 'photos', 'link.jpg'));
    await expect(files.target('photos/link.jpg')).rejects.toMatchObject({ code: ErrorCode.PATH_DENIED });
    const missing = await files.target('nowhere/x.bin');
    expect(missing.dir).toBeUndefined();
    await expect(files.place(await partOf('nowhere/x.bin', 'x'), missing, false)).rejects.toMatchObject({
      code: ErrorCode.NOT_FOUND,
    });
    await expect(files.target('.')).rejects.toMatchObject({ code: ErrorCode.EXISTS });
  });

  it('never replaces a file that appeared meanwhile, unless asked to', async () => {
    const target = await files.target('photos/a.txt');
    try {
      const part = await partOf('photos/a.txt', 'new');
      await writeFile(path.join(home, 'photos', 'a.txt'), 'first!');
      await expect(files.place(part, target, false)).rejects.toMatchObject({ code: ErrorCode.EXISTS });
      expect(readFileSync(path.join(home, 'photos', 'a.txt'), 'utf8')).toBe('first!');
      // With overwrite: replaced, and the bytes of what it replaced are told.
      expect(await files.place(part, target, true)).toBe(6);
    } finally {
      await target.dir?.close();
    }
    expect(readFileSync(path.join(home, 'photos', 'a.txt'), 'utf8')).toBe('new');
  });
});
