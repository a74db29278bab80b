/** `--skip-existing`: a folder upload or download run again finishes the rest. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitStatus } from '../../src/cli/exit-status.js';
import { sockit } from '../helpers.js';
import { type FilesFixture, startFilesFixture } from './files-fixture.js';

describe('sockit files upload and download --skip-existing', () => {
  let dir: string;
  let home: string;
  let files: FilesFixture;
  let where: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    files = await startFilesFixture('sockit-files-skip-', { ann: 'pass of ann' });
    ({ dir, where } = files);
    env = { ...files.env, SOCKIT_PASSWORD: 'pass of ann' };
    home = files.home('ann');
  });
  afterAll(() => files?.stop());

  it('upload: stops at an existing file without it, uploads the rest and keeps that file with it', async () => {
    const local = path.join(dir, 'up');
    await mkdir(local);
    await writeFile(path.join(local, 'a.txt'), 'new a');
    await writeFile(path.join(local, 'b.txt'), 'new b');
    await mkdir(path.join(home, 'up'), { recursive: true });
    await writeFile(path.join(home, 'up', 'a.txt'), 'old a');

    const refused = await sockit(['files', 'upload', where, local, '-u', 'ann'], { env });
    expect(refused.stderr).toMatch(/\[ERR_EXISTS\]\n$/);
    await expect(readFile(path.join(home, 'up', 'b.txt'))).rejects.toMatchObject({ code: 'ENOENT' });

    const r = await sockit(['files', 'upload', where, local, '-u', 'ann', '--skip-existing'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(path.join(home, 'up', 'a.txt'), 'utf8')).toBe('old a');
    expect(await readFile(path.join(home, 'up', 'b.txt'), 'utf8')).toBe('new b');
  });

  it('download: stops at an existing file without it, downloads the rest and keeps that file with it', async () => {
    await mkdir(path.join(home, 'down'), { recursive: true });
    await writeFile(path.join(home, 'down', 'a.txt'), 'remote a');
    await writeFile(path.join(home, 'down', 'b.txt'), 'remote b');
    const local = path.join(dir, 'down');
    await mkdir(local);
    await writeFile(path.join(local, 'a.txt'), 'local a');

    const refused = await sockit(['files', 'download', where, 'down', dir, '-u', 'ann'], { env });
    expect(refused.stderr).toMatch(/\[ERR_EXISTS\]\n$/);

    const r = await sockit(['files', 'download', where, 'down', dir, '-u', 'ann', '--skip-existing'], {
      env,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(path.join(local, 'a.txt'), 'utf8')).toBe('local a');
    expect(await readFile(path.join(local, 'b.txt'), 'utf8')).toBe('remote b');
  });

  it('refuses --overwrite with --skip-existing', async () => {
    const r = await sockit(
      ['files', 'download', where, 'down', dir, '-u', 'ann', '--skip-existing', '--overwrite'],
      {
        env,
      },
    );
    expect(r.code).toBe(ExitStatus.USAGE);
    expect(r.stderr).toMatch(/^sockit: [^\n]*\[ERR_INVALID_ARGUMENT\]\n$/);
  });
});
