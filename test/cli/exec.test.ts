/**
 * `sockit exec` and `sockit exec serve` as commands: the remote status as the client's own
 * (128 + N for signal N), stdout and stderr to their own streams, stdin piped in, arguments
 * literal, Ctrl-C forwarded, and each refusal one line with status 255.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunResult, type Server, sockit, startServer } from '../helpers.js';

const PASSWORD = 'exec password 1';

describe('sockit exec', () => {
  let dir = '';
  let server: Server;
  let target = '';
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-exec-cli-'));
    env = {
      ...process.env,
      SOCKIT_DATA_DIR: path.join(dir, 'data'),
      SOCKIT_CACHE_DIR: path.join(dir, 'cache'),
      SOCKIT_PASSWORD: PASSWORD,
    };
    for (const args of [
      ['users', 'add', 'ann', '--iterations', '4096', '-q'],
      ['users', 'grant', 'ann', 'exec', '-q'],
      ['users', 'add', 'bob', '--iterations', '4096', '-q'],
    ]) {
      const done = await sockit(args, { env });
      expect(done.code, done.stderr).toBe(0);
    }
    server = await startServer(
      [
        'exec',
        'serve',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--data-dir',
        path.join(dir, 'data'),
        '--cwd',
        dir,
        ...['sh', 'cat', 'echo', 'true', 'sleep'].flatMap((p) => ['--allow', p]),
      ],
      1,
    );
    target = `ann@127.0.0.1:${server.listening[0]?.port}`;
  });

  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const exec = (
    args: string[],
    options: { input?: string; env?: NodeJS.ProcessEnv } = {},
  ): Promise<RunResult> =>
    sockit(['exec', target, '--', ...args], {
      env: options.env ?? env,
      ...(options.input === undefined ? {} : { input: options.input }),
    });

  it('exits with the remote status, 128 + N for a signal', async () => {
    expect((await exec(['true'])).code).toBe(0);
    expect((await exec(['sh', '-c', 'exit 42'])).code).toBe(42);
    expect((await exec(['sh', '-c', 'kill -TERM $$'])).code).toBe(128 + 15);
    expect((await exec(['sh', '-c', 'kill -SEGV $$'])).code).toBe(128 + 11);
  });

  it('writes stdout and stderr to its own, reads stdin, and gives arguments literally', async () => {
    const both = await exec(['sh', '-c', 'echo to-out; echo to-err >&2']);
    expect(both.stdout.toString()).toBe('to-out\n');
    expect(both.stderr).toBe('to-err\n');
    for (let i = 0; i < 5; i++) {
      const piped = await exec(['cat'], { input: `line ${i}\n` });
      expect([piped.code, piped.stdout.toString()]).toEqual([0, `line ${i}\n`]);
    }
    const literal = await exec(['echo', "'; rm -rf / #"]);
    expect(literal.stdout.toString()).toBe("'; rm -rf / #\n");
  });

  it('logs in again from the key cache, without a password', async () => {
    const { SOCKIT_PASSWORD: _p, ...noPassword } = env;
    const again = await exec(['echo', 'cached'], { env: noPassword });
    expect([again.code, again.stdout.toString()]).toEqual([0, 'cached\n']);
  });

  it('forwards Ctrl-C to the remote command', async () => {
    const result = await sockit(['exec', target, '--', 'sleep', '30'], {
      env,
      interrupt: { when: new Promise((resolve) => setTimeout(resolve, 1500)) },
    });
    expect(result.code).toBe(128 + 2);
  });

  it('refuses, in one line with status 255: a program off the list, a wrong password, no grant, no server', async () => {
    const line = (r: RunResult) => [r.code, r.stderr.trim().split('\n')];
    expect(line(await exec(['rm', '-rf', '/tmp/x']))).toEqual([
      255,
      ['sockit: rm is not a program this server runs (its --allow list) [ERR_FORBIDDEN]'],
    ]);
    const wrong = await sockit(['exec', target, '--no-key-cache', '--', 'true'], {
      env: { ...env, SOCKIT_PASSWORD: 'not it' },
    });
    expect(line(wrong)).toEqual([255, ['sockit: invalid username or password [ERR_AUTH_FAILED]']]);
    const bob = await sockit(['exec', target.replace('ann@', 'bob@'), '--', 'true'], { env });
    expect(line(bob)).toEqual([
      255,
      [
        'sockit: bob may not run commands here (an admin can allow it: sockit users grant bob exec) [ERR_FORBIDDEN]',
      ],
    ]);
    const none = await sockit(['exec', 'ann@127.0.0.1:1', '--', 'true'], { env });
    expect(none.code).toBe(255);
    expect(none.stderr).toMatch(/^sockit: cannot connect to 127\.0\.0\.1:1 .*\[ERR_CONNECT_FAILED\]\n$/);
  });

  it('runs commands in serve --cwd, and will not start in a folder that is not there', async () => {
    const here = await exec(['sh', '-c', 'pwd']);
    expect(here.stdout.toString().trim()).toBe(dir);
    const missing = await sockit(
      [
        'exec',
        'serve',
        '--port',
        '0',
        '--data-dir',
        path.join(dir, 'data'),
        '--allow',
        'true',
        '--cwd',
        '/nonexistent/dir',
      ],
      { env },
    );
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/--cwd \/nonexistent\/dir: no such folder \[ERR_NOT_FOUND\]/);
  });

  it('will not start a server that could run nothing', async () => {
    const result = await sockit(['exec', 'serve', '--port', '0', '--data-dir', path.join(dir, 'data')], {
      env,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/nothing could run: allow programs .*\[ERR_INVALID_ARGUMENT\]/);
  });
});
