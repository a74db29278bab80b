/**
 * An upload's folder is opened once, when the upload is checked, and held until its part is
 * placed there; the part is placed only if that folder is still where it was: a folder moved
 * to another home or out of the root, removed or replaced meanwhile takes nothing.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, readdirSync, readFileSync, writeSync } from 'node:fs';
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

  /** Checks an upload to `requested`, runs `meanwhile`, then places its part: what happens. */
  async function uploadWhile(requested: string, meanwhile: () => Promise<void>): Promise<unknown> {
    const target = await files.target(requested);
    try {
      expect(target.dir).toBeDefined();
      const part = await partOf(requested, 'meow');
      await meanwhile();
      return await files.place(part, target, false).then(
        (replaced) => replaced,
        (err: unknown) => (err as { code?: string }).code,
      );
    } finally {
      await target.dir?.close();
    }
  }

  it('lands in the folder it checked, even when the whole root was moved meanwhile', async () => {
    expect(await uploadWhile('photos/a.jpg', async () => {})).toBe(0);
    expect(readFileSync(path.join(home, 'photos', 'a.jpg'), 'utf8')).toBe('meow');
    // The data folder moved as a whole (by its administrator): the folder is still in its place.
    const moved = path.join(base, 'root-moved');
    expect(
      await uploadWhile('photos/b.jpg', async () => {
        await rename(path.join(base, 'root'), moved);
      }),
    ).toBe(0);
    expect(readFileSync(path.join(moved, 'ann', 'photos', 'b.jpg'), 'utf8')).toBe('meow');
    // Where the root is now is asked again: a folder moved inside it is still caught.
    expect(
      await uploadWhile('photos/c.jpg', async () => {
        await rename(path.join(moved, 'ann', 'photos'), path.join(moved, 'ann', 'elsewhere'));
      }),
    ).toBe(ErrorCode.NOT_FOUND);
    await rename(path.join(moved, 'ann', 'elsewhere'), path.join(moved, 'ann', 'photos'));
    await rename(moved, path.join(base, 'root'));
    // And back where it was: found in place again.
    expect(await uploadWhile('photos/d.jpg', async () => {})).toBe(0);
  });

  it('stores nothing when its folder is moved away, removed or swapped for a link meanwhile', async () => {
    const bob = path.join(base, 'root', 'bob');
    await mkdir(bob);
    const cases: [string, () => Promise<void>][] = [
      // Into another user's home, with a link left in its place.
      [
        'to bob',
        async () => {
          await rename(path.join(home, 'photos'), path.join(bob, 'photos'));
          await symlink(path.join(bob, 'photos'), path.join(home, 'photos'));
        },
      ],
      // Out of the root altogether.
      ['outside', async () => rename(path.join(home, 'photos'), path.join(outside, 'photos'))],
      // Renamed inside the home, a link to outside taking its name.
      [
        'renamed',
        async () => {
          await rename(path.join(home, 'photos'), path.join(home, 'moved'));
          await symlink(outside, path.join(home, 'photos'));
        },
      ],
      ['removed', async () => rm(path.join(home, 'photos'), { recursive: true })],
    ];
    for (const [what, meanwhile] of cases) {
      await rm(path.join(home, 'photos'), { recursive: true, force: true });
      await mkdir(path.join(home, 'photos'));
      expect(await uploadWhile('photos/cat.jpg', meanwhile), what).toBe(ErrorCode.NOT_FOUND);
      await rm(path.join(home, 'moved'), { recursive: true, force: true });
    }
    for (const dir of [bob, outside, home]) {
      const found = execFileSync('find', [dir, '-name', 'cat.jpg'], { encoding: 'utf8' });
      expect(found, dir).toBe('');
    }
  });

  it('reuses the folder of the last upload only while it is in its place', async () => {
    const openFds = (): number => readdirSync('/proc/self/fd').length;
    // Held from here on: the parts folder, and the folder of the last upload.
    expect(await uploadWhile('photos/first.jpg', async () => {})).toBe(0);
    const held = openFds();
    for (let i = 0; i < 50; i++) expect(await uploadWhile(`photos/${i}.jpg`, async () => {})).toBe(0);
    expect(openFds()).toBe(held);
    // Moved away and a new folder made at its name: the next upload lands in the new one.
    await rename(path.join(home, 'photos'), path.join(home, 'old'));
    await mkdir(path.join(home, 'photos'));
    expect(await uploadWhile('photos/new.jpg', async () => {})).toBe(0);
    expect(readFileSync(path.join(home, 'photos', 'new.jpg'), 'utf8')).toBe('meow');
    expect(existsSync(path.join(home, 'old', 'new.jpg'))).toBe(false);
    // Removed: refused when checked, as a missing folder, not after the bytes came.
    await rm(path.join(home, 'photos'), { recursive: true });
    expect((await files.target('photos/gone.jpg')).dir).toBeUndefined();
    // Swapped for a link: refused when checked, and nothing reaches where it points.
    await mkdir(path.join(home, 'photos'));
    expect(await uploadWhile('photos/one.jpg', async () => {})).toBe(0);
    await rm(path.join(home, 'photos'), { recursive: true });
    await symlink(outside, path.join(home, 'photos'));
    await expect(files.target('photos/two.jpg')).rejects.toMatchObject({ code: ErrorCode.PATH_DENIED });
    expect(readdirSync(outside)).toEqual([]);
    // Another folder: the kept one is let go.
    await mkdir(path.join(home, 'docs'));
    expect(await uploadWhile('docs/a.txt', async () => {})).toBe(0);
    expect(openFds()).toBe(held);
    await files.close();
    expect(openFds()).toBe(held - 2);
  });

  it('never places into a kept folder that a root moved away left under a new tree at its path', async () => {
    await mkdir(path.join(home, 'docs'));
    expect(await uploadWhile('docs/f0', async () => {})).toBe(0);
    expect(await uploadWhile('docs/f1', async () => {})).toBe(0);
    // The data folder moved away, a new tree made where it was, the kept folder moved into it.
    const real = path.join(base, 'root.real');
    await rename(path.join(base, 'root'), real);
    await mkdir(path.join(base, 'root', 'ann'), { recursive: true });
    await rename(path.join(real, 'ann', 'docs'), path.join(base, 'root', 'ann', 'docs'));
    // Not where the root is now: the folder is looked for there, and is not there.
    expect((await files.target('docs/f2')).dir).toBeUndefined();
    // Moved there while an upload is under way: its part is not placed.
    await rename(path.join(base, 'root', 'ann', 'docs'), path.join(real, 'ann', 'docs'));
    expect(
      await uploadWhile('docs/f2', async () => {
        await rename(path.join(real, 'ann', 'docs'), path.join(base, 'root', 'ann', 'docs'));
      }),
    ).toBe(ErrorCode.NOT_FOUND);
    expect(existsSync(path.join(base, 'root', 'ann', 'docs', 'f2'))).toBe(false);
    expect(existsSync(path.join(real, 'ann', 'docs', 'f2'))).toBe(false);
  });

  it('tells a removed kept folder from one named as /proc shows a removed one', async () => {
    const odd = 'x (deleted)';
    await mkdir(path.join(home, odd));
    expect(await uploadWhile(`${odd}/a`, async () => {})).toBe(0);
    // Renamed to x and removed: /proc shows ".../x (deleted)", the kept folder's very path.
    await rename(path.join(home, odd), path.join(home, 'x'));
    await rm(path.join(home, 'x'), { recursive: true });
    await mkdir(path.join(home, odd));
    expect(await uploadWhile(`${odd}/b`, async () => {})).toBe(0);
    expect(readFileSync(path.join(home, odd, 'b'), 'utf8')).toBe('meow');
    expect(await uploadWhile(`${odd}/c`, async () => {})).toBe(0);
  });

  it('tells a folder in place from a moved one without /proc as well', async () => {
    const plain = await ConfinedRoot.open(path.join(base, 'root'), { procFd: false });
    try {
      const dir = await plain.openDir(['ann', 'photos']);
      try {
        expect(dir.inPlace()).toBe(true);
        await rename(path.join(home, 'photos'), path.join(home, 'moved'));
        expect(dir.inPlace()).toBe(false);
        await symlink(path.join(home, 'moved'), path.join(home, 'photos'));
        expect(dir.inPlace()).toBe(false);
      } finally {
        await dir.close();
      }
    } finally {
      await plain.close();
    }
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
