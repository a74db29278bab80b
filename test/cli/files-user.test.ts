/** `sockit files` without --user: USER@HOST, SOCKIT_USER, or the login name, against a real server. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools, type Server, sockit, startServer } from '../helpers.js';

const { SOCKIT_USER: _u, SOCKIT_PASSWORD: _p, ...rest } = process.env;
const base = { ...rest, SOCKIT_KEY_CACHE: 'off' };
const me = userInfo().username;

describe('sockit files chooses the account without --user', () => {
  let dir: string;
  let server: Server;
  let where: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    requireTools();
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-files-user-'));
    const dataDir = path.join(dir, 'data');
    env = { ...base, SOCKIT_DATA_DIR: dataDir };
    // Each account has its own password: a log-in succeeds only as the account meant.
    for (const [user, password] of [
      ['ann', 'password of ann'],
      [me, 'password of me'],
    ] as const) {
      const added = await sockit(['users', 'add', user, '--data-dir', dataDir, '--iterations', '4096'], {
        env: { ...env, SOCKIT_PASSWORD: password },
      });
      expect(added.code, added.stderr).toBe(0);
    }
    server = await startServer(
      [
        'files',
        'serve',
        '--data-dir',
        dataDir,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--min-iterations',
        '4096',
      ],
      1,
    );
    where = `127.0.0.1:${server.listening[0]?.port}`;
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

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
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sockit: [^\n]*\[ERR_INVALID_ARGUMENT\]\n$/);
  });
});
