import {
  constants,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isSockitError } from '../errors.js';
import { ConfinedRoot } from './confine.js';

async function codeOf(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (err) {
    return isSockitError(err) ? err.code : ((err as NodeJS.ErrnoException).code ?? 'unknown');
  }
  return 'resolved';
}

const openFds = (): number => readdirSync('/proc/self/fd').length;

for (const procFd of [true, false]) {
  describe(`ConfinedRoot (${procFd ? '/proc/self/fd handles' : 'fallback walk'})`, () => {
    const base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'sockit-confine-')));
    const rootDir = path.join(base, 'root');
    const outside = path.join(base, 'outside');
    mkdirSync(path.join(rootDir, 'boot', 'deep'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(path.join(rootDir, 'boot', 'kernel'), 'kernel');
    writeFileSync(path.join(outside, 'secret'), 'secret');
    symlinkSync('boot', path.join(rootDir, 'alias')); // relative, inside
    symlinkSync(path.join(rootDir, 'boot', 'kernel'), path.join(rootDir, 'abs')); // absolute, inside
    symlinkSync(outside, path.join(rootDir, 'out')); // absolute, outside
    symlinkSync('../outside', path.join(rootDir, 'up')); // relative, climbs above the root
    symlinkSync('deep/../../boot/kernel', path.join(rootDir, 'boot', 'back')); // climbs, stays inside
    symlinkSync('loop', path.join(rootDir, 'loop'));
    afterAll(() => rmSync(base, { recursive: true, force: true }));

    it('reads, creates, lists, renames, links and removes inside the root', async () => {
      const root = await ConfinedRoot.open(rootDir, { procFd });
      try {
        expect(root.verified).toBe(procFd);
        const file = await root.openFile('boot/kernel', constants.O_RDONLY);
        expect(await file.readFile('utf8')).toBe('kernel');
        await file.close();
        await root.mkdir('new/a/b', { parents: true });
        await root.mkdir('new/a/b', { parents: true });
        expect(await codeOf(root.mkdir('new/a'))).toBe('EEXIST');
        expect(await codeOf(root.mkdir('none/x'))).toBe('ENOENT');
        const made = await root.openFile(
          'new/a/f',
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
        );
        await made.writeFile('data');
        await made.close();
        expect(
          await codeOf(root.openFile('new/a/f', constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL)),
        ).toBe('EEXIST');
        expect((await root.readdir('new/a')).map((e) => e.name)).toEqual(['b', 'f']);
        expect((await root.stat('new/a/f')).size).toBe(4);
        await root.link('new/a/f', 'new/g');
        expect(await codeOf(root.link('new/a/f', 'new/g'))).toBe('EEXIST');
        await root.rename('new/g', 'boot/deep/h');
        expect(readFileSync(path.join(rootDir, 'boot', 'deep', 'h'), 'utf8')).toBe('data');
        await root.unlink('boot/deep/h');
        expect(await codeOf(root.rmdir('new'))).toBe('ENOTEMPTY');
        await root.remove('new');
        expect(await codeOf(root.stat('new'))).toBe('ENOENT');
        expect((await root.stat('')).isDirectory()).toBe(true);
        expect(await codeOf(root.remove(''))).toBe('ERR_PATH_DENIED');
      } finally {
        await root.close();
      }
    });

    it('refuses unsafe names and every symbolic link on the way by default', async () => {
      const root = await ConfinedRoot.open(rootDir, { procFd });
      try {
        for (const name of ['..', 'boot/../..', 'a\0b', ['boot', 'x/y'], ['..']]) {
          expect(await codeOf(root.stat(name)), String(name)).toBe('ERR_PATH_DENIED');
        }
        expect(await codeOf(root.openFile('alias/kernel', constants.O_RDONLY))).toBe('ERR_PATH_DENIED');
        expect(await codeOf(root.openFile('out/secret', constants.O_RDONLY))).toBe('ERR_PATH_DENIED');
        expect(await codeOf(root.openFile('abs', constants.O_RDONLY))).toBe('ELOOP');
        expect(await codeOf(root.mkdir('out/x/y', { parents: true }))).toBe('ERR_PATH_DENIED');
        expect(await codeOf(root.openFile('out/new', constants.O_WRONLY | constants.O_CREAT))).toBe(
          'ERR_PATH_DENIED',
        );
        // A link itself is removed, never what it points to.
        symlinkSync(outside, path.join(rootDir, 'victim'));
        await root.remove('victim');
        expect(readdirSync(outside)).toEqual(['secret']);
        expect((await root.stat('out')).isSymbolicLink()).toBe(true);
      } finally {
        await root.close();
      }
    });

    it('follows links that stay inside the root, when asked, and no others', async () => {
      const root = await ConfinedRoot.open(rootDir, { procFd });
      const follow = { follow: true };
      try {
        for (const name of ['alias/kernel', 'abs', 'boot/back']) {
          const file = await root.openFile(name, constants.O_RDONLY, 0, follow);
          expect(await file.readFile('utf8'), name).toBe('kernel');
          await file.close();
        }
        expect(await root.resolve('alias/kernel', follow)).toBe('boot/kernel');
        expect(await root.resolve('boot/back', follow)).toBe('boot/kernel');
        for (const name of ['out/secret', 'up/secret', 'out']) {
          expect(await codeOf(root.openFile(name, constants.O_RDONLY, 0, follow)), name).toBe(
            'ERR_PATH_DENIED',
          );
        }
        expect(await codeOf(root.stat('loop', follow))).toBe('ERR_PATH_DENIED');
      } finally {
        await root.close();
      }
    });

    it('closes every handle it opens, after successes and failures', async () => {
      const root = await ConfinedRoot.open(rootDir, { procFd });
      const before = openFds();
      for (let i = 0; i < 200; i++) {
        const file = await root.openFile('boot/kernel', constants.O_RDONLY);
        await file.close();
        await root.readdir('boot');
        await root.mkdir(`t/${i}/x`, { parents: true });
        await codeOf(root.openFile('out/secret', constants.O_RDONLY, 0, { follow: true }));
        await codeOf(root.openFile('boot/deep/missing/x', constants.O_RDONLY));
        await codeOf(root.stat('loop', { follow: true }));
        await codeOf(root.link('boot/kernel', 'boot/kernel'));
      }
      await root.remove('t');
      expect(openFds()).toBe(before);
      await root.close();
      expect(openFds()).toBe(before - 1);
    });

    it('keeps a shared folder open until its last holder closes it, and the root until then', async () => {
      const root = await ConfinedRoot.open(rootDir, { procFd });
      const before = openFds();
      const dir = await root.openDir('boot');
      const [a, b] = [dir.share(), dir.share()];
      expect(openFds()).toBe(before + 1); // one handle for all three
      await dir.close();
      await dir.close(); // a holder's second close lets go of nothing more
      await a.close();
      expect(b.lstat('kernel')?.isFile()).toBe(true);
      expect(await codeOf(a.openDir('deep'))).toBe('ERR_ROOT_CLOSED');
      let rootClosed = false;
      const closing = root.close().then(() => {
        rootClosed = true;
      });
      await new Promise((resolve) => setImmediate(resolve));
      expect(rootClosed).toBe(false);
      expect(b.inPlace()).toBe(true);
      await b.close();
      await closing;
      expect(openFds()).toBe(before - 1);
      expect(() => dir.share()).toThrow(/closed/);
    });
  });
}
