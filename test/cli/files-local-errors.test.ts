/**
 * Local files the client cannot use end the command with one coded line, before anything is
 * sent: a source that is missing or unreadable, a destination folder that is missing or
 * read-only, a --tls-ca file that is not there. Never a system error's words or a stack.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunResult, sockit, sockitUnprivileged } from '../helpers.js';
import { type FilesFixture, startFilesFixture } from './files-fixture.js';

/** A failure status, one line `sockit: ... [CODE]`, no stack trace. */
function expectCoded(r: RunResult, code: string): void {
  expect(r.signal).toBeNull();
  expect(r.code, r.stderr).toBeGreaterThan(0);
  expect(r.stderr).toMatch(new RegExp(`^sockit: [^\\n]*\\[${code}\\]\\n$`));
  expect(r.stderr).not.toContain('    at ');
}

describe('sockit files with local files it cannot use', () => {
  let files: FilesFixture;
  let where: string;
  let env: NodeJS.ProcessEnv;
  let home: string;
  /** A folder anyone may enter: the unprivileged runs work in it. */
  let open: string;

  beforeAll(async () => {
    files = await startFilesFixture('sockit-files-local-', { ann: 'pass of ann' });
    where = files.where;
    env = { ...files.env, SOCKIT_PASSWORD: 'pass of ann' };
    home = files.home('ann');
    open = await mkdtemp(path.join(tmpdir(), 'sockit-files-local-open-'));
    await chmod(open, 0o755);
    await mkdir(home, { recursive: true });
    await writeFile(path.join(home, 'f.txt'), 'remote');
    await mkdir(path.join(home, 'tree'));
    await writeFile(path.join(home, 'tree', 'g.txt'), 'remote g');
  });
  afterAll(async () => {
    await files?.stop();
    if (open) await rm(open, { recursive: true, force: true });
  });

  it('upload of a missing file: ERR_NOT_FOUND, and nothing asked of the server', async () => {
    const r = await sockit(
      ['files', 'upload', where, path.join(open, 'missing.txt'), '--to', 'fresh', '-u', 'ann'],
      {
        env,
      },
    );
    expectCoded(r, 'ERR_NOT_FOUND');
    expect(r.stderr).toContain('missing.txt');
    expect(existsSync(path.join(home, 'fresh'))).toBe(false);
  });

  it('upload of an unreadable file: ERR_PATH_DENIED, alone or inside a folder', async () => {
    const secret = path.join(open, 'secret.txt');
    await writeFile(secret, 'mine');
    await chmod(secret, 0o000);
    const alone = await sockitUnprivileged(['files', 'upload', where, secret, '--to', 'fresh', '-u', 'ann'], {
      env,
    });
    expectCoded(alone, 'ERR_PATH_DENIED');
    expect(existsSync(path.join(home, 'fresh'))).toBe(false);

    // Met inside a folder: the command stops at it (-q: the error is the only line).
    const folder = path.join(open, 'folder');
    await mkdir(folder);
    await chmod(folder, 0o755);
    await writeFile(path.join(folder, 'a.txt'), 'readable');
    await chmod(path.join(folder, 'a.txt'), 0o644);
    await writeFile(path.join(folder, 'b.txt'), 'unreadable');
    await chmod(path.join(folder, 'b.txt'), 0o000);
    const inside = await sockitUnprivileged(['files', 'upload', where, folder, '-u', 'ann', '-q'], { env });
    expectCoded(inside, 'ERR_PATH_DENIED');
    expect(inside.stderr).toContain('b.txt');
    expect(await readdir(path.join(home, 'folder'))).not.toContain('b.txt');
  });

  it('download into a missing folder: ERR_NOT_FOUND, nothing made', async () => {
    const nowhere = path.join(open, 'nowhere');
    const file = await sockit(
      ['files', 'download', where, 'f.txt', path.join(nowhere, 'f.txt'), '-u', 'ann'],
      {
        env,
      },
    );
    expectCoded(file, 'ERR_NOT_FOUND');
    expect(file.stderr).toContain(nowhere);
    const tree = await sockit(
      ['files', 'download', where, 'tree', path.join(nowhere, 'deeper', 'tree'), '-u', 'ann'],
      {
        env,
      },
    );
    expectCoded(tree, 'ERR_NOT_FOUND');
    expect(existsSync(nowhere)).toBe(false);
  });

  it('download into a read-only folder: ERR_PATH_DENIED, a file or a folder', async () => {
    const locked = path.join(open, 'locked');
    await mkdir(locked);
    await chmod(locked, 0o555);
    const file = await sockitUnprivileged(['files', 'download', where, 'f.txt', locked, '-u', 'ann'], {
      env,
    });
    expectCoded(file, 'ERR_PATH_DENIED');
    const tree = await sockitUnprivileged(['files', 'download', where, 'tree', locked, '-u', 'ann'], { env });
    expectCoded(tree, 'ERR_PATH_DENIED');
    expect(await readdir(locked)).toEqual([]);
  });

  it('a missing --tls-ca file: ERR_NOT_FOUND naming the flag', async () => {
    const r = await sockit(['files', 'ls', where, '-u', 'ann', '--tls-ca', path.join(open, 'ca.pem')], {
      env,
    });
    expectCoded(r, 'ERR_NOT_FOUND');
    expect(r.stderr).toContain('--tls-ca');
  });
});
