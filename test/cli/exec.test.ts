/**
 * `sockit exec` and `sockit exec serve` as commands: the remote status as the client's own
 * (128 + N for signal N), stdout and stderr to their own streams, stdin piped in, arguments
 * literal, Ctrl-C forwarded, and each refusal one line with status 255.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLI, type RunResult, type Server, sockit, startServer } from '../helpers.js';

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

  it('gives a command no descriptor but its stdin, stdout and stderr', async () => {
    const listed = await exec(['sh', '-c', 'ls /proc/$$/fd']);
    expect(listed.stdout.toString().trim().split('\n')).toEqual(['0', '1', '2']);
  });

  it('runs a command on a pseudo-terminal with -t: 80x24 without a terminal here, piped input ended by ^D', async () => {
    const onTerminal = await sockit(
      ['exec', '-t', target, '--', 'sh', '-c', 'stty size; echo to-err >&2; exit 4'],
      {
        env,
      },
    );
    expect([onTerminal.code, onTerminal.stdout.toString(), onTerminal.stderr]).toEqual([
      4,
      '24 80\r\nto-err\r\n',
      '',
    ]);
    const piped = await sockit(
      ['exec', '-t', target, '--', 'sh', '-c', 'stty -echo; while read l; do echo "got $l"; done; echo eof'],
      { env, input: 'one\ntwo\n' },
    );
    expect(piped.code).toBe(0);
    expect(piped.stdout.toString()).toMatch(/got one\r\ngot two\r\neof\r\n$/);
  });

  it('puts this terminal in raw mode with -t: keys reach the remote program as typed, no Enter needed', async () => {
    // script(1) gives the command a terminal here; what is written to script's stdin is typed on it.
    const line = [
      process.execPath,
      CLI,
      'exec',
      '-t',
      target,
      '--',
      'sh',
      '-c',
      'stty -icanon -echo; echo ready; head -c 3; echo; echo done',
    ]
      .map((a) => `'${a.replaceAll("'", "'\\''")}'`)
      .join(' ');
    const child = spawn('script', ['-qec', line, '/dev/null'], { env });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const status = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await vi.waitFor(() => expect(out).toMatch(/ready/), { timeout: 10_000 });
      child.stdin.write('abc'); // no Enter: a terminal in line mode would hold these
      await vi.waitFor(() => expect(out).toMatch(/done/), { timeout: 10_000 });
    } finally {
      child.stdin.end();
    }
    expect(await status).toBe(0);
    // Node's raw mode leaves the local terminal's output processing on: \r\n arrives as \r\r\n,
    // which a terminal shows the same.
    expect(out).toMatch(/ready\r+\nabc\r+\ndone\r+\n/);
  });

  describe('--keep', () => {
    let keptEnv: NodeJS.ProcessEnv;
    /** Neither a password nor cached keys: only a kept connection can run anything. */
    let noLogin: NodeJS.ProcessEnv;

    beforeAll(() => {
      const run = path.join(dir, 'run');
      mkdirSync(run, { mode: 0o700 });
      keptEnv = { ...env, XDG_RUNTIME_DIR: run };
      const { SOCKIT_PASSWORD: _p, ...rest } = keptEnv;
      noLogin = { ...rest, SOCKIT_KEY_CACHE: 'off' };
    });

    afterAll(async () => {
      await sockit(['exec', target, '--stop'], { env: keptEnv });
      for (const pid of keptProcesses()) process.kill(pid, 'SIGKILL');
    });

    /** The kept connections' processes to the test server (their command lines name its port). */
    const keptProcesses = (): number[] =>
      readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .filter((d) => {
          try {
            const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
            return argv.includes('--serve-kept') && argv.includes(target.replace('ann@', ''));
          } catch {
            return false;
          }
        })
        .map(Number);

    it('keeps the connection for later commands, which need no log-in, until --stop', async () => {
      const first = await sockit(['exec', target, '--keep', '--', 'sh', '-c', 'echo first; exit 3'], {
        env: keptEnv,
      });
      expect([first.code, first.stdout.toString(), first.stderr]).toEqual([3, 'first\n', '']);
      expect(keptProcesses()).toHaveLength(1);
      // No password, no key cache: this runs through the kept connection or not at all.
      const later = await sockit(['exec', target, '--', 'sh', '-c', 'cat; echo to-err >&2; kill -TERM $$'], {
        env: noLogin,
        input: 'through the kept connection\n',
      });
      expect([later.code, later.stdout.toString(), later.stderr]).toEqual([
        128 + 15,
        'through the kept connection\n',
        'to-err\n',
      ]);
      const refused = await sockit(['exec', target, '--', 'rm', '-rf', '/'], { env: noLogin });
      expect(refused.code).toBe(255);
      expect(refused.stderr).toMatch(/^sockit: rm is not a program this server runs .*\[ERR_FORBIDDEN\]\n$/);
      const stop = await sockit(['exec', target, '--stop'], { env: keptEnv });
      expect([stop.code, stop.stderr]).toEqual([0, `sockit: ended the kept connection to ${target}\n`]);
      await vi.waitFor(() => expect(keptProcesses()).toHaveLength(0), { timeout: 10_000 });
      const again = await sockit(['exec', target, '--stop'], { env: keptEnv });
      expect([again.code, again.stderr]).toEqual([
        255,
        `sockit: no kept connection to ${target} [ERR_NOT_FOUND]\n`,
      ]);
      const gone = await sockit(['exec', target, '--', 'true'], { env: noLogin });
      expect(gone.code).toBe(255);
    });

    it('starts with --keep alone, ends by itself after --keep-for unused', async () => {
      const started = await sockit(['exec', target, '--keep', '--keep-for', '1'], { env: keptEnv });
      expect([started.code, started.stdout.toString(), started.stderr]).toEqual([0, '', '']);
      expect((await sockit(['exec', target, '--', 'true'], { env: noLogin })).code).toBe(0);
      await vi.waitFor(() => expect(keptProcesses()).toHaveLength(0), { timeout: 15_000 });
      expect((await sockit(['exec', target, '--', 'true'], { env: noLogin })).code).toBe(255);
    });

    it('logs in afresh when the kept process was killed, and keeps anew over its socket file', async () => {
      expect((await sockit(['exec', target, '--keep'], { env: keptEnv })).code).toBe(0);
      const [pid] = keptProcesses();
      expect(pid).toBeDefined();
      process.kill(pid as number, 'SIGKILL');
      await vi.waitFor(() => expect(keptProcesses()).toHaveLength(0));
      expect(readdirSync(path.join(dir, 'run', 'sockit'))).toHaveLength(1); // its socket file, left
      expect((await sockit(['exec', target, '--', 'true'], { env: noLogin })).code).toBe(255);
      const fresh = await sockit(['exec', target, '--keep', '--', 'echo', 'fresh'], { env: keptEnv });
      expect([fresh.code, fresh.stdout.toString()]).toEqual([0, 'fresh\n']);
      expect((await sockit(['exec', target, '--', 'true'], { env: noLogin })).code).toBe(0);
      expect((await sockit(['exec', target, '--stop'], { env: keptEnv })).code).toBe(0);
    });

    it('will not use or make a socket folder that others may enter', async () => {
      const open = path.join(dir, 'open-run');
      mkdirSync(path.join(open, 'sockit'), { recursive: true, mode: 0o755 });
      chmodSync(path.join(open, 'sockit'), 0o755);
      const refused = await sockit(['exec', target, '--keep', '--', 'true'], {
        env: { ...keptEnv, XDG_RUNTIME_DIR: open },
      });
      expect(refused.code).toBe(255);
      expect(refused.stderr).toMatch(
        /open-run\/sockit is not a folder of yours that only you may enter .*\[ERR_FORBIDDEN\]\n$/,
      );
      expect(keptProcesses()).toHaveLength(0);
      // A command without --keep does not look in there, and runs on a connection of its own.
      const plain = await sockit(['exec', target, '--', 'echo', 'direct'], {
        env: { ...keptEnv, XDG_RUNTIME_DIR: open },
      });
      expect([plain.code, plain.stdout.toString()]).toEqual([0, 'direct\n']);
    });
  });
});
