/**
 * `--skip-identical`: a folder upload or download run again sends only the files that are
 * missing or differ; a file of the same size but other bytes is sent (or refused) as before.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sockit } from '../helpers.js';
import { type FilesFixture, startFilesFixture } from './files-fixture.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

interface Reported {
  status: string;
  reason?: string;
  path: string;
  bytes: number;
  sha256?: string;
}

/** The JSON lines of a `--json` run, by path. */
function byPath(stdout: Buffer): Record<string, Reported> {
  const lines = stdout.toString().trimEnd().split('\n');
  return Object.fromEntries(lines.map((l) => JSON.parse(l) as Reported).map((r) => [r.path, r]));
}

/** Inode and modification time: unchanged means the file was not written again. */
async function version(file: string): Promise<string> {
  const s = await stat(file, { bigint: true });
  return `${s.ino}:${s.mtimeNs}`;
}

/** A tree of four files: `same` stays, `grown` changes size, `twin` keeps its size with other bytes. */
async function makeTree(root: string): Promise<void> {
  await mkdir(path.join(root, 'sub'), { recursive: true });
  await writeFile(path.join(root, 'same.txt'), 'unchanged');
  await writeFile(path.join(root, 'grown.txt'), 'short');
  await writeFile(path.join(root, 'sub', 'twin.txt'), 'AAAA');
  await writeFile(path.join(root, 'sub', 'kept.bin'), Buffer.alloc(200_000, 7));
}

/** The changes of a second run: two files differ (one of the same size), one is new. */
async function changeTree(root: string): Promise<void> {
  await writeFile(path.join(root, 'grown.txt'), 'much longer now');
  await writeFile(path.join(root, 'sub', 'twin.txt'), 'BBBB');
  await writeFile(path.join(root, 'new.txt'), 'new');
}

describe('sockit files upload and download --skip-identical', () => {
  let dir: string;
  let home: string;
  let files: FilesFixture;
  let where: string;
  let env: NodeJS.ProcessEnv;
  const files4 = ['same.txt', 'grown.txt', 'sub/twin.txt', 'sub/kept.bin'];

  beforeAll(async () => {
    files = await startFilesFixture('sockit-files-identical-', { ann: 'pass of ann' });
    ({ dir, where } = files);
    env = { ...files.env, SOCKIT_PASSWORD: 'pass of ann' };
    home = files.home('ann');
  });
  afterAll(() => files?.stop());

  it('upload: sends only the changed and missing files of a folder sent before', async () => {
    const local = path.join(dir, 'up');
    await makeTree(local);
    const first = await sockit(['files', 'upload', where, local, '-u', 'ann', '--skip-identical'], { env });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/^uploaded 4 files \([^)]*\)$/m);
    const before = {
      same: await version(path.join(home, 'up', 'same.txt')),
      kept: await version(path.join(home, 'up', 'sub', 'kept.bin')),
    };

    await changeTree(local);
    const again = await sockit(
      ['files', 'upload', where, local, '-u', 'ann', '--skip-identical', '--overwrite', '--json'],
      { env },
    );
    expect(again.code, again.stderr).toBe(0);
    const report = byPath(again.stdout);
    expect(Object.keys(report).sort()).toEqual([
      'up/grown.txt',
      'up/new.txt',
      'up/same.txt',
      'up/sub/kept.bin',
      'up/sub/twin.txt',
    ]);
    expect(report['up/same.txt']).toMatchObject({
      status: 'skipped',
      reason: 'identical',
      sha256: sha('unchanged'),
    });
    expect(report['up/sub/kept.bin']).toMatchObject({
      status: 'skipped',
      reason: 'identical',
      bytes: 200_000,
    });
    // Same size, other bytes: not skipped.
    expect(report['up/sub/twin.txt']).toMatchObject({ status: 'uploaded', sha256: sha('BBBB') });
    expect(report['up/grown.txt']).toMatchObject({ status: 'uploaded', sha256: sha('much longer now') });
    expect(report['up/new.txt']).toMatchObject({ status: 'uploaded', bytes: 3 });
    // What the server holds: the new bytes, and the skipped files never written again.
    expect(await readFile(path.join(home, 'up', 'sub', 'twin.txt'), 'utf8')).toBe('BBBB');
    expect(await readFile(path.join(home, 'up', 'grown.txt'), 'utf8')).toBe('much longer now');
    expect(await readFile(path.join(home, 'up', 'new.txt'), 'utf8')).toBe('new');
    expect(await version(path.join(home, 'up', 'same.txt'))).toBe(before.same);
    expect(await version(path.join(home, 'up', 'sub', 'kept.bin'))).toBe(before.kept);

    // Run once more, in words: everything is identical now.
    const third = await sockit(['files', 'upload', where, local, '-u', 'ann', '--skip-identical'], { env });
    expect(third.code, third.stderr).toBe(0);
    expect(third.stderr).toBe('uploaded 0 files (0 B), skipped 5 (5 identical)\n');
  });

  it('upload: a file of the same size but other bytes still follows the rules (ERR_EXISTS)', async () => {
    const local = path.join(dir, 'clash.txt');
    await writeFile(local, 'one');
    const first = await sockit(['files', 'upload', where, local, '-u', 'ann'], { env });
    expect(first.code, first.stderr).toBe(0);
    await writeFile(local, 'two');
    const r = await sockit(['files', 'upload', where, local, '-u', 'ann', '--skip-identical'], { env });
    expect(r.code).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/^sockit: [^\n]*\[ERR_EXISTS\]\n$/);
    expect(await readFile(path.join(home, 'clash.txt'), 'utf8')).toBe('one');
    await writeFile(local, 'one');
    const same = await sockit(['files', 'upload', where, local, '-u', 'ann', '--skip-identical', '-v'], {
      env,
    });
    expect(same.code, same.stderr).toBe(0);
    expect(same.stderr).toMatch(/^skipped clash\.txt: identical, sha256 [0-9a-f]{16}…$/m);
  });

  it('download: fetches only the changed and missing files of a folder fetched before', async () => {
    const remote = path.join(home, 'down');
    await makeTree(remote);
    const into = path.join(dir, 'restore');
    await mkdir(into);
    const first = await sockit(['files', 'download', where, 'down', into, '-u', 'ann', '--skip-identical'], {
      env,
    });
    expect(first.code, first.stderr).toBe(0);
    const local = path.join(into, 'down');
    for (const f of files4)
      expect(await readFile(path.join(local, f))).toEqual(await readFile(path.join(remote, f)));
    const before = {
      same: await version(path.join(local, 'same.txt')),
      kept: await version(path.join(local, 'sub', 'kept.bin')),
    };

    await changeTree(remote);
    const again = await sockit(
      ['files', 'download', where, 'down', into, '-u', 'ann', '--skip-identical', '--overwrite', '--json'],
      { env },
    );
    expect(again.code, again.stderr).toBe(0);
    const report = byPath(again.stdout);
    expect(report['down/same.txt']).toMatchObject({ status: 'skipped', reason: 'identical' });
    expect(report['down/sub/kept.bin']).toMatchObject({ status: 'skipped', reason: 'identical' });
    expect(report['down/sub/twin.txt']).toMatchObject({ status: 'downloaded', sha256: sha('BBBB') });
    expect(report['down/grown.txt']).toMatchObject({ status: 'downloaded' });
    expect(report['down/new.txt']).toMatchObject({ status: 'downloaded', bytes: 3 });
    expect(Object.keys(report)).toHaveLength(5);
    expect(await readFile(path.join(local, 'sub', 'twin.txt'), 'utf8')).toBe('BBBB');
    expect(await readFile(path.join(local, 'new.txt'), 'utf8')).toBe('new');
    expect(await version(path.join(local, 'same.txt'))).toBe(before.same);
    expect(await version(path.join(local, 'sub', 'kept.bin'))).toBe(before.kept);
  });

  it('download: a single file of the same size but other bytes is refused without --overwrite', async () => {
    await writeFile(path.join(home, 'one.txt'), 'abc');
    const local = path.join(dir, 'one.txt');
    await writeFile(local, 'xyz');
    const r = await sockit(['files', 'download', where, 'one.txt', local, '-u', 'ann', '--skip-identical'], {
      env,
    });
    expect(r.code).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/^sockit: [^\n]*\[ERR_EXISTS\]\n$/);
    expect(await readFile(local, 'utf8')).toBe('xyz');
    await writeFile(local, 'abc');
    const same = await sockit(
      ['files', 'download', where, 'one.txt', local, '-u', 'ann', '--skip-identical'],
      {
        env,
      },
    );
    expect(same.code, same.stderr).toBe(0);
    expect(same.stderr).toBe('downloaded 0 files (0 B), skipped 1 (1 identical)\n');
  });
});
