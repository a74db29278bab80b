/** `-` for `sockit files`: stdin for upload (with --as), stdout for download. */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitStatus } from '../../src/cli/exit-status.js';
import { sockit } from '../helpers.js';
import { type FilesFixture, startFilesFixture } from './files-fixture.js';

describe('sockit files with - as the local file', () => {
  let home: string;
  let files: FilesFixture;
  let where: string;
  let env: NodeJS.ProcessEnv;
  const data = randomBytes(300_000);

  beforeAll(async () => {
    files = await startFilesFixture('sockit-files-stdio-', { ann: 'pass of ann' });
    ({ where } = files);
    env = { ...files.env, SOCKIT_PASSWORD: 'pass of ann' };
    home = files.home('ann');
  });
  afterAll(() => files?.stop());

  it('uploads stdin under the name --as gives, into --to', async () => {
    const r = await sockit(['files', 'upload', where, '-', '--as', 'piped.bin', '--to', 'in', '-u', 'ann'], {
      env,
      input: data,
    });
    expect(r.code, r.stderr).toBe(0);
    expect((await readFile(path.join(home, 'in', 'piped.bin'))).equals(data)).toBe(true);
    expect(existsSync(path.join(home, '-'))).toBe(false);
  });

  it('refuses an upload from stdin without --as, before connecting', async () => {
    const r = await sockit(['files', 'upload', '127.0.0.1:1', '-', '-u', 'ann'], { env, input: data });
    expect(r.code).toBe(ExitStatus.USAGE);
    expect(r.stderr).toMatch(/^sockit: [^\n]*\[ERR_INVALID_ARGUMENT\]\n$/);
  });

  it('downloads a file to stdout, and writes no file named -', async () => {
    await mkdir(path.join(home, 'out'), { recursive: true });
    await writeFile(path.join(home, 'out', 'f.bin'), data);
    const cwd = process.cwd();
    const r = await sockit(['files', 'download', where, 'out/f.bin', '-', '-u', 'ann'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.equals(data)).toBe(true);
    expect(existsSync(path.join(cwd, '-'))).toBe(false);
  });

  it('refuses a folder to stdout', async () => {
    const r = await sockit(['files', 'download', where, 'out', '-', '-u', 'ann'], { env });
    expect(r.code).toBe(ExitStatus.USAGE);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toMatch(/^sockit: [^\n]*\[ERR_INVALID_ARGUMENT\]\n$/);
  });
});
