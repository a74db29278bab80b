import { lchownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheDir, checkPath, homeDir, safePath } from './user-dirs.js';

describe('cacheDir and homeDir', () => {
  it('is os.homedir(), which is $HOME when set', () => {
    expect(homeDir()).toBe(os.homedir());
    const saved = process.env.HOME;
    try {
      process.env.HOME = '/somewhere/else';
      expect(homeDir()).toBe('/somewhere/else');
      expect(homeDir()).toBe(os.homedir());
    } finally {
      process.env.HOME = saved;
    }
  });

  it('takes SOCKIT_CACHE_DIR, then an absolute XDG_CACHE_HOME, then ~/.cache', () => {
    expect(cacheDir({ SOCKIT_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x' }, '/h')).toBe('/c');
    expect(cacheDir({ XDG_CACHE_HOME: '/x' }, '/h')).toBe('/x/sockit');
    expect(cacheDir({ XDG_CACHE_HOME: 'relative' }, '/h')).toBe('/h/.cache/sockit');
    expect(cacheDir({})).toBe(path.join(os.homedir(), '.cache', 'sockit'));
  });
});

describe('safePath', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'sockit-safe-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('judges a path with a trailing slash as the same path without', () => {
    const dir = path.join(root, 'mine');
    mkdirSync(dir, { mode: 0o700 });
    expect(safePath(dir)).toBe(true);
    expect(safePath(`${dir}/`)).toBe(true);
    expect(safePath(`${dir}//`)).toBe(true);
  });

  // A link of another user's, last on the path: a trailing slash must not make the check look
  // at its target (lstat of "link/" follows the link).
  it.runIf(process.geteuid?.() === 0)("refuses another user's link, with or without a trailing slash", () => {
    const target = path.join(root, 'target');
    mkdirSync(target, { mode: 0o700 });
    const link = path.join(root, 'link');
    symlinkSync(target, link);
    lchownSync(link, 12345, 12345);
    expect(safePath(link)).toBe(false);
    expect(safePath(`${link}/`)).toBe(false);
  });
});

describe('checkPath', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'sockit-check-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('without a link on the way: link-free, with the lstat of the folder and of the one above', () => {
    const dir = path.join(root, 'a', 'b');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const check = checkPath(`${dir}/`);
    expect(check).toMatchObject({ safe: true, missing: false, linkFree: true });
    expect(check.self?.ino).toBe(lstatSync(dir).ino);
    expect(check.parent?.ino).toBe(lstatSync(path.dirname(dir)).ino);
    expect(checkPath('/')).toMatchObject({ safe: true, linkFree: true, parent: undefined });
  });

  it('a link anywhere on the way, last or above: safe, not link-free', () => {
    const target = path.join(root, 'target');
    mkdirSync(path.join(target, 'inner'), { recursive: true, mode: 0o700 });
    const link = path.join(root, 'link');
    symlinkSync(target, link);
    expect(checkPath(link)).toMatchObject({ safe: true, linkFree: false });
    expect(checkPath(path.join(link, 'inner'))).toMatchObject({ safe: true, linkFree: false });
  });

  it('missing only when the path itself is not there; a file on the way is unsafe', () => {
    expect(checkPath(path.join(root, 'none'))).toMatchObject({ safe: false, missing: true });
    expect(checkPath(path.join(root, 'none', 'below'))).toMatchObject({ safe: false, missing: true });
    expect(checkPath('relative/path')).toMatchObject({ safe: false, missing: false });
    const file = path.join(root, 'file');
    writeFileSync(file, 'x');
    expect(checkPath(path.join(file, 'below'))).toMatchObject({ safe: false, missing: false });
    expect(safePath(path.join(file, 'below'))).toBe(false);
    expect(checkPath(file)).toMatchObject({ safe: false, missing: false });
  });
});
