/** `sockit files` without --user: USER@HOST, SOCKIT_USER, or the login name, against a real server. */
import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitStatus } from '../../src/cli/exit-status.js';
import { sockit } from '../helpers.js';
import { type FilesFixture, startFilesFixture } from './files-fixture.js';

const { SOCKIT_USER: _u, SOCKIT_PASSWORD: _p, ...rest } = process.env;
const base = { ...rest, SOCKIT_KEY_CACHE: 'off' };
const me = userInfo().username;

describe('sockit files chooses the account without --user', () => {
  let files: FilesFixture;
  let where: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    // Each account has its own password: a log-in succeeds only as the account meant.
    files = await startFilesFixture(
      'sockit-files-user-',
      { ann: 'password of ann', [me]: 'password of me' },
      base,
    );
    ({ where, env } = files);
  });
  afterAll(() => files?.stop());

  it('logs in as USER of USER@HOST:PORT', async () => {
    const r = await sockit(['files', 'ls', `ann@${where}`], {
      env: { ...env, SOCKIT_PASSWORD: 'password of ann' },
    });
    expect(r.code, r.stderr).toBe(0);
  });

  it('logs in as SOCKIT_USER', async () => {
    const ok = await sockit(['files', 'ls', where], {
      env: { ...env, SOCKIT_USER: 'ann', SOCKIT_PASSWORD: 'password of ann' },
    });
    expect(ok.code, ok.stderr).toBe(0);
    const wrong = await sockit(['files', 'ls', where], {
      env: { ...env, SOCKIT_USER: 'ann', SOCKIT_PASSWORD: 'password of me' },
    });
    expect(wrong.stderr).toMatch(/\[ERR_AUTH_FAILED\]\n$/);
  });

  it('logs in under the login name when nothing names a user', async () => {
    const r = await sockit(['files', 'ls', where], { env: { ...env, SOCKIT_PASSWORD: 'password of me' } });
    expect(r.code, r.stderr).toBe(0);
    const wrong = await sockit(['files', 'ls', where], {
      env: { ...env, SOCKIT_PASSWORD: 'password of ann' },
    });
    expect(wrong.stderr).toMatch(/\[ERR_AUTH_FAILED\]\n$/);
  });

  it('refuses USER@ and a different --user', async () => {
    const r = await sockit(['files', 'ls', `ann@${where}`, '--user', me], {
      env: { ...env, SOCKIT_PASSWORD: 'password of ann' },
    });
    expect(r.code).toBe(ExitStatus.USAGE);
    expect(r.stderr).toMatch(/^sockit: [^\n]*\[ERR_INVALID_ARGUMENT\]\n$/);
  });
});
