/**
 * `sockit secret new` and the log-ins that use its keys, and the client's key cache, as a
 * user runs them: the built CLI against a file server it started.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitStatus } from '../../src/cli/exit-status.js';
import { type Server, sockit, startServer } from '../helpers.js';

describe('sockit secret and machine log-ins', () => {
  let dir: string;
  let key: string;
  let server: Server;
  let target: string;
  const env = (extra: Record<string, string> = {}) => ({
    ...process.env,
    SOCKIT_PASSWORD: 'a long pass phrase',
    SOCKIT_CACHE_DIR: path.join(dir, 'cache'),
    ...extra,
  });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-secret-cli-'));
    key = path.join(dir, 'machines.key');
    const made = await sockit(['secret', 'new', key]);
    expect(made.code, made.stderr).toBe(0);
    const data = path.join(dir, 'data');
    const added = await sockit(['users', 'add', 'ann', '--data-dir', data, '--iterations', '4096'], {
      env: env(),
    });
    expect(added.code, added.stderr).toBe(0);
    server = await startServer(
      ['files', 'serve', '--data-dir', data, '--host', '127.0.0.1', '--port', '0', '--secret-file', key],
      1,
    );
    target = `127.0.0.1:${server.listening[0]?.port}`;
  });

  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes a key of mode 0600 in its text form, and never over an existing file', async () => {
    expect((await stat(key)).mode & 0o777).toBe(0o600);
    expect(await readFile(key, 'utf8')).toMatch(/^sockit-secret-v1:[A-Za-z0-9_-]{43}\n$/);
    const again = await sockit(['secret', 'new', key]);
    expect(again.code).toBe(ExitStatus.REFUSED);
    expect(again.stderr).toContain('[ERR_EXISTS]');
  });

  it('says where it wrote the key, and with -q says nothing', async () => {
    const said = await sockit(['secret', 'new', path.join(dir, 'said.key')]);
    expect(said.code, said.stderr).toBe(0);
    expect(said.stderr).toBe(`wrote a new key to ${path.join(dir, 'said.key')} (mode 0600)\n`);
    const quiet = await sockit(['secret', 'new', path.join(dir, 'quiet.key'), '-q']);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout.toString()).toBe('');
    expect(await readFile(path.join(dir, 'quiet.key'), 'utf8')).toMatch(/^sockit-secret-v1:/);
  });

  it('logs a machine in with the key, and refuses a passphrase file on both sides', async () => {
    const ok = await sockit(['files', 'ls', target, '--user', 'ann', '--secret-file', key], { env: env() });
    expect(ok.code, ok.stderr).toBe(0);
    const passphrase = path.join(dir, 'passphrase');
    await writeFile(passphrase, 'correct horse battery staple and more words\n');
    const client = await sockit(['files', 'ls', target, '--user', 'ann', '--secret-file', passphrase], {
      env: env(),
    });
    expect(client.code).toBe(ExitStatus.AUTH);
    expect(client.stderr).toContain('[ERR_BAD_SECRET]');
    const serve = await sockit(
      ['files', 'serve', '--data-dir', path.join(dir, 'data2'), '--port', '0', '--secret-file', passphrase],
      { env: env() },
    );
    expect(serve.code).toBe(ExitStatus.AUTH);
    expect(serve.stderr).toContain('[ERR_BAD_SECRET]');
  });

  it('keeps salted keys in the cache (mode 0600) and then needs no password; --no-key-cache does not', async () => {
    const first = await sockit(['files', 'ls', target, '--user', 'ann'], { env: env() });
    expect(first.code, first.stderr).toBe(0);
    const entries = await readdir(path.join(dir, 'cache', 'scram'));
    expect(entries.length).toBe(1);
    expect((await stat(path.join(dir, 'cache', 'scram', entries[0] as string))).mode & 0o777).toBe(0o600);
    // The password is not needed (nor checked) while the keys fit.
    const cached = await sockit(['files', 'ls', target, '--user', 'ann'], {
      env: env({ SOCKIT_PASSWORD: 'x' }),
    });
    expect(cached.code, cached.stderr).toBe(0);
    const off = await sockit(['files', 'ls', target, '--user', 'ann', '--no-key-cache'], {
      env: env({ SOCKIT_PASSWORD: 'x' }),
    });
    expect(off.code).toBe(ExitStatus.AUTH);
    expect(off.stderr).toContain('[ERR_AUTH_FAILED]');
  });
});
