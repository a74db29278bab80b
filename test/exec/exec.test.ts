/**
 * Remote commands over real sockets: exit codes and signals round trip, stdout and stderr
 * stay apart and in order, stdin and its EOF reach the command, arguments arrive literally;
 * refusals (a program off the allowlist, a wrong password, an account without the grant);
 * a timeout, the output cap and a lost client each end the whole process group.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { scramLogin } from '../../src/auth/login-client.js';
import { deriveCredentials } from '../../src/auth/scram.js';
import type { ExecClient } from '../../src/exec/client.js';
import { parseExecEnd } from '../../src/exec/protocol.js';
import type { ExecService } from '../../src/exec/server.js';
import { Channel } from '../../src/runtime/channel.js';
import { Mux } from '../../src/wire/mux.js';
import { codeOf } from '../codes.js';
import { TEST_ITERATIONS } from '../files/serve.js';
import { alive, type ExecFixture, execFixture, PASSWORD, startSleeper } from './fixture.js';

let f: ExecFixture;
let server: ExecService;
let ann: ExecClient;

beforeAll(async () => {
  f = await execFixture();
  server = await f.serve({ timeoutMs: 0 });
  ann = await f.connect(server);
});

afterAll(async () => {
  await f?.close();
});

describe('sockit exec: commands', () => {
  it('returns every exit code from 0 to 255', async () => {
    const codes: (number | null)[] = [];
    for (let n = 0; n <= 255; n++) codes.push((await ann.run(['sh', '-c', `exit ${n}`])).exit);
    expect(codes).toEqual(Array.from({ length: 256 }, (_, n) => n));
  });

  it('reports the signal that ended a command: TERM, KILL, SEGV', async () => {
    for (const signal of ['TERM', 'KILL', 'SEGV']) {
      expect(await ann.run(['sh', '-c', `kill -${signal} $$`])).toMatchObject({ exit: null, signal });
    }
  });

  it('keeps stdout and stderr apart, each in order', async () => {
    const script = 'i=0; while [ $i -lt 2000 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done';
    const { stdout, stderr, exit } = await ann.run(['sh', '-c', script]);
    expect(exit).toBe(0);
    const lines = (b: Buffer) => b.toString().trimEnd().split('\n');
    expect(lines(stdout)).toEqual(Array.from({ length: 2000 }, (_, i) => `out${i}`));
    expect(lines(stderr)).toEqual(Array.from({ length: 2000 }, (_, i) => `err${i}`));
  });

  it('passes stdin through, and its EOF: cat ends when the input does', async () => {
    const input = randomBytes(3 * 1024 * 1024);
    const { stdout, exit } = await ann.run(['cat'], { stdin: input });
    expect(exit).toBe(0);
    expect(stdout.equals(input)).toBe(true);
    expect((await ann.run(['wc', '-c'])).stdout.toString().trim()).toBe('0');
  });

  it('gives arguments literally, never to a shell', async () => {
    const hostile = "'; rm -rf / #";
    const { stdout } = await ann.run(['echo', hostile, '$(id)', '`id`', '*']);
    expect(stdout.toString()).toBe(`${hostile} $(id) \`id\` *\n`);
  });

  it('runs in a clean environment: none of the server’s variables but those passed on', async () => {
    process.env.SOCKIT_TEST_SECRET = 'do not leak';
    const { stdout } = await ann.run(['env'], { env: { LANG: 'C', TERM: 'dumb' } });
    const env = new Map(
      stdout
        .toString()
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect([...env.keys()].sort()).toEqual(['HOME', 'LANG', 'PATH', 'SOCKIT_USER', 'TERM']);
    expect(env.get('SOCKIT_USER')).toBe('ann');
    expect(env.get('LANG')).toBe('C');
    expect(env.get('PATH')).toBe('/usr/local/bin:/usr/bin:/bin');
  });

  it('runs in the working folder or a folder inside it, and nowhere else', async () => {
    await mkdir(path.join(f.dir, 'sub'), { recursive: true });
    expect((await ann.run(['pwd'])).stdout.toString().trim()).toBe(f.dir);
    expect((await ann.run(['pwd'], { cwd: 'sub' })).stdout.toString().trim()).toBe(path.join(f.dir, 'sub'));
    expect(await codeOf(ann.run(['pwd'], { cwd: '..' }))).toBe('ERR_PATH_DENIED');
    expect(await codeOf(ann.run(['pwd'], { cwd: 'missing' }))).toBe('ERR_NOT_FOUND');
    // A missing folder, or a file, on the way: refused, and the server goes on.
    await writeFile(path.join(f.dir, 'file.txt'), 'x');
    expect(await codeOf(ann.run(['pwd'], { cwd: 'nosuch/x' }))).toBe('ERR_NOT_FOUND');
    expect(await codeOf(ann.run(['pwd'], { cwd: 'file.txt/y' }))).toBe('ERR_NOT_FOUND');
    expect(await codeOf(ann.run(['pwd'], { cwd: 'x'.repeat(300) }))).toBe('ERR_NOT_FOUND');
    expect((await ann.run(['true'])).exit).toBe(0);
  });

  it('starts nothing for a client that left while its folder was being checked', async () => {
    const client = await f.connect(server);
    const p = client.start(['sleep', '27.75'], { cwd: 'sub' });
    p.done.catch(() => {});
    client.close();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const { execFileSync } = await import('node:child_process');
    const left = (() => {
      try {
        return execFileSync('pgrep', ['-f', 'sleep 27.75'], { encoding: 'utf8' }).trim();
      } catch {
        return '';
      }
    })();
    if (left !== '')
      await vi.waitFor(() => expect(left.split('\n').every((pid) => !alive(Number(pid)))).toBe(true));
    expect((await ann.run(['true'])).exit).toBe(0);
  });

  it('forwards a signal to the process group', async () => {
    const p = ann.start(['sleep', '60']);
    p.stdin.end();
    await new Promise((resolve) => setTimeout(resolve, 200));
    p.kill('INT');
    expect(await p.done).toEqual({ exit: null, signal: 'INT' });
  });

  it('carries 1 GiB of stdout intact', { timeout: 120_000 }, async () => {
    const block = randomBytes(64 * 1024 * 1024);
    await writeFile(path.join(f.dir, 'block.bin'), block);
    const expected = createHash('sha256');
    for (let i = 0; i < 16; i++) expected.update(block);
    const p = ann.start(['cat', ...Array.from({ length: 16 }, () => 'block.bin')]);
    p.stdin.end();
    const got = createHash('sha256');
    let bytes = 0;
    p.stdout.on('data', (chunk: Buffer) => {
      got.update(chunk);
      bytes += chunk.length;
    });
    expect(await p.done).toEqual({ exit: 0 });
    expect(bytes).toBe(1024 ** 3);
    expect(got.digest('hex')).toBe(expected.digest('hex'));
  });
});

describe('sockit exec: refusals', () => {
  it('refuses a program off the allowlist, and a command line without --allow-shell', async () => {
    await expect(ann.run(['rm', '-rf', '/nonexistent'])).rejects.toMatchObject({
      code: 'ERR_FORBIDDEN',
      message: 'rm is not a program this server runs (its --allow list)',
    });
    await expect(ann.run(['/bin/rm'])).rejects.toMatchObject({ code: 'ERR_FORBIDDEN' });
    await expect(ann.run({ shell: 'echo hi' })).rejects.toMatchObject({ code: 'ERR_FORBIDDEN' });
    // The connection goes on.
    expect((await ann.run(['true'])).exit).toBe(0);
  });

  it('closes a connection that keeps sending refused commands', async () => {
    const client = await f.connect(server);
    const codes: string[] = [];
    for (let i = 0; i < 40; i++) codes.push(await codeOf(client.run(['rm'])));
    expect(codes.slice(0, 32)).toEqual(Array.from({ length: 32 }, () => 'ERR_FORBIDDEN'));
    expect(codes.at(-1)).toBe('ERR_CONNECTION_CLOSED');
    expect((await (await f.connect(server)).run(['true'])).exit).toBe(0);
  });

  it('refuses the commands of a client that takes no channels from the server (their stderr would pile up)', async () => {
    const socket = net.connect(server.address.port, '127.0.0.1');
    const channel = new Channel(socket);
    await channel.receive(); // the greeting
    await scramLogin(
      { send: (m) => void channel.send(m), receive: async () => (await channel.receive()).header },
      'ann',
      PASSWORD,
    );
    const rest = channel.release();
    if (rest.length > 0) socket.unshift(rest);
    const mux = new Mux(socket, { role: 'client', maxInfoSize: 64 * 1024, maxChannels: 0 });
    socket.resume();
    mux.on('channel', (ch) => ch.reset('none wanted'));
    const ch = mux.open({ kind: 'exec', argv: ['true'] });
    ch.end();
    ch.resume();
    const end = await new Promise((resolve) => ch.once('remoteclose', resolve));
    expect(parseExecEnd(end)).toMatchObject({ refused: 'ERR_BUSY' });
    mux.close();
    socket.destroy();
    await vi.waitFor(() => expect(server.running).toBe(0));
  });

  it('refuses a wrong password, and an account without the exec grant, each with one clear error', async () => {
    expect(await codeOf(f.connect(server, 'ann', 'wrong password'))).toBe('ERR_AUTH_FAILED');
    await expect(f.connect(server, 'bob')).rejects.toMatchObject({
      code: 'ERR_FORBIDDEN',
      message: 'bob may not run commands here (an admin can allow it: sockit users grant bob exec)',
    });
  });
});

describe('sockit exec: an account that changes', () => {
  it('ends what a connection may do when its grant is taken back, its password changes or it is removed', async () => {
    const credentials = await deriveCredentials(PASSWORD, { iterations: TEST_ITERATIONS });
    for (const change of ['revoke', 'password', 'remove'] as const) {
      const name = `cara-${change}`;
      await f.store.add(name, credentials, { grants: ['exec'] });
      const client = await f.connect(server, name);
      const running = client.start(['sleep', '30']);
      running.stdin.end();
      expect((await client.run(['true'])).exit).toBe(0);
      if (change === 'revoke') await f.store.setGrants(name, []);
      if (change === 'password')
        await f.store.setCredentials(
          name,
          await deriveCredentials('another 1', { iterations: TEST_ITERATIONS }),
        );
      if (change === 'remove') await f.store.remove(name);
      // Looked up again once a second at most: within that, the next command is the last.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect(await codeOf(client.run(['true']))).toBe('ERR_AUTH_FAILED');
      await client.closed; // the connection is closed, and the command running on it ended
      await expect(running.done).rejects.toThrow();
    }
  });
});

describe('sockit exec: ends', () => {
  it('kills the whole process group at the timeout, grandchildren included', async () => {
    const timed = await f.serve({ timeoutMs: 500, graceMs: 500 });
    const client = await f.connect(timed);
    const p = client.start(['sh', '-c', 'sleep 60 & echo $!; wait']);
    p.stdin.end();
    let out = '';
    p.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const result = await p.done;
    expect(result).toMatchObject({ timedOut: true, exit: null, signal: 'TERM' });
    const pid = Number(out.trim());
    expect(pid).toBeGreaterThan(1);
    await vi.waitFor(() => expect(alive(pid)).toBe(false), { timeout: 5000 });
  });

  it('kills the commands of a client that goes away', async () => {
    const client = await f.connect(server);
    const { pid } = await startSleeper(client);
    expect(alive(pid)).toBe(true);
    client.close();
    await vi.waitFor(() => expect(alive(pid)).toBe(false), { timeout: 10_000 });
    await vi.waitFor(() => expect(server.running).toBe(0));
  });

  it('cuts output at the cap, to the byte, kills the command and says so', async () => {
    const capped = await f.serve({ maxOutputBytes: 1000 });
    const client = await f.connect(capped);
    const result = await client.run(['head', '-c', '10000000', '/dev/zero']);
    expect(result.truncated).toBe(true);
    expect(result.stdout.length).toBe(1000);
  });

  it('ends what a command left running in its process group when it exits', async () => {
    const result = await ann.run(['sh', '-c', 'sleep 61.25 >/dev/null 2>&1 & echo $!']);
    expect(result.exit).toBe(0);
    const pid = Number(result.stdout.toString().trim());
    await vi.waitFor(() => expect(alive(pid)).toBe(false), { timeout: 5000 });
  });

  it('frees the slot and ends the command when the client resets its channel or goes away mid-output', async () => {
    const few = await f.serve({ maxPerUser: 1 });
    for (const how of ['reset', 'disconnect'] as const) {
      const client = await f.connect(few);
      const p = client.start(['head', '-c', '100000000', '/dev/zero']);
      p.stdin.end();
      // Some output arrives, then nobody reads.
      await new Promise((resolve) => p.stdout.once('data', resolve));
      p.stdout.pause();
      await vi.waitFor(() => expect(few.running).toBe(1));
      if (how === 'reset') (p.stdin as unknown as { reset(r: string): void }).reset('not wanted');
      else client.close();
      await vi.waitFor(() => expect(few.running).toBe(0), { timeout: 10_000 });
    }
    const after = await f.connect(few);
    expect((await after.run(['true'])).exit).toBe(0);
  });

  it('runs at most maxPerUser commands of one account at once', async () => {
    const few = await f.serve({ maxPerUser: 2 });
    const client = await f.connect(few);
    const running = [client.start(['sleep', '5']), client.start(['sleep', '5'])];
    for (const p of running) p.stdin.end();
    await vi.waitFor(() => expect(few.running).toBe(2));
    await expect(client.run(['true'])).rejects.toMatchObject({ code: 'ERR_BUSY' });
    for (const p of running) p.kill('KILL');
    await Promise.all(running.map((p) => p.done));
    expect((await client.run(['true'])).exit).toBe(0);
  });
});

describe('sockit exec: on a terminal', () => {
  /** All of a stream's output so far, and a wait for a pattern to show up in it. */
  const collect = (stream: NodeJS.ReadableStream) => {
    let text = '';
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    return {
      get text() {
        return text;
      },
      until: (pattern: RegExp) =>
        vi.waitFor(
          () => {
            const match = pattern.exec(text);
            if (!match) throw new Error(`no ${pattern} in ${JSON.stringify(text)}`);
            return match;
          },
          { timeout: 10_000 },
        ),
    };
  };

  it('runs a command on a terminal of the size asked, stdout and stderr as one stream', async () => {
    const { stdout, stderr, exit } = await ann.run(
      [
        'sh',
        '-c',
        'test -t 0 && test -t 1 && test -t 2 && echo all-terminals; stty size; echo to-err >&2; exit 5',
      ],
      { tty: { cols: 123, rows: 45 }, env: { TERM: 'xterm' } },
    );
    expect(exit).toBe(5);
    expect(stdout.toString()).toBe('all-terminals\r\n45 123\r\nto-err\r\n');
    expect(stderr.length).toBe(0);
    // Without one, as before: no terminal.
    expect((await ann.run(['sh', '-c', 'test -t 1 || echo no-terminal'])).stdout.toString()).toBe(
      'no-terminal\n',
    );
  });

  it('takes keys as typed, follows a resize, and ends input with ^D', async () => {
    const p = ann.start(
      [
        'sh',
        '-c',
        'trap "stty size" WINCH; echo ready; while read line; do echo "got $line"; done; echo eof',
      ],
      {
        tty: { cols: 80, rows: 24 },
      },
    );
    const out = collect(p.stdout);
    await out.until(/ready/);
    p.stdin.write('hello\r');
    await out.until(/got hello/);
    p.resize(132, 50);
    await out.until(/50 132/);
    p.stdin.end();
    expect(await p.done).toEqual({ exit: 0 });
    expect(out.text).toMatch(/got hello\r\n(.|\n)*50 132\r\n(.|\n)*eof\r\n$/);
  });

  it('reports the signal that ended a command on a terminal, and ends its group at the timeout', async () => {
    expect(await ann.run(['sh', '-c', 'kill -TERM $$'], { tty: { cols: 80, rows: 24 } })).toMatchObject({
      exit: null,
      signal: 'TERM',
    });
    const short = await f.serve({ timeoutMs: 300, graceMs: 200 });
    const client = await f.connect(short);
    const p = client.start(['sh', '-c', 'sleep 60 & echo $!; wait'], { tty: { cols: 80, rows: 24 } });
    const pid = Number((await collect(p.stdout).until(/(\d+)\r\n/))[1]);
    expect(alive(pid)).toBe(true);
    expect(await p.done).toMatchObject({ timedOut: true });
    await vi.waitFor(() => expect(alive(pid)).toBe(false), { timeout: 10_000 });
    client.close();
  });

  it('keeps a terminal to its own command: no other command holds its master side', async () => {
    const shell = ann.start(['sh', '-c', 'echo ready; sleep 5'], { tty: { cols: 80, rows: 24 } });
    await collect(shell.stdout).until(/ready/);
    // Any descriptor of another command that leads to /dev/ptmx could type into that terminal.
    const fds = await ann.run(['sh', '-c', 'ls -l /proc/$$/fd/ | grep -c ptmx || true']);
    expect(fds.stdout.toString().trim()).toBe('0');
    const onTty = await ann.run(['sh', '-c', 'ls -l /proc/$$/fd/ | grep -c ptmx || true'], {
      tty: { cols: 80, rows: 24 },
    });
    expect(onTty.stdout.toString().trim()).toBe('0');
    shell.kill('KILL');
    await shell.done;
  });

  it("ends a terminal's whole session: jobs an interactive shell put in groups of their own", async () => {
    const p = ann.start(['sh', '-i'], { tty: { cols: 80, rows: 24 }, env: { TERM: 'dumb' } });
    const out = collect(p.stdout);
    p.stdin.write('sleep 300 & echo "job=$!"\n');
    const pid = Number((await out.until(/job=(\d+)/))[1]);
    expect(alive(pid)).toBe(true);
    p.stdin.write('exit\n');
    await p.done;
    await vi.waitFor(() => expect(alive(pid)).toBe(false), { timeout: 10_000 });
  });

  it('ends piped input without a final newline, and survives a resize as the command ends', async () => {
    const cat = await ann.run(['sh', '-c', 'stty -echo; cat; echo "[end]"'], {
      tty: { cols: 80, rows: 24 },
      stdin: 'no newline',
    });
    expect(cat.stdout.toString()).toMatch(/no newline\s*\[end\]/);
    for (let i = 0; i < 20; i++) {
      const p = ann.start(['sh', '-c', 'exit 3'], { tty: { cols: 80, rows: 24 } });
      p.stdin.end();
      const resizing = setInterval(() => p.resize(81 + (i % 5), 25), 1);
      expect((await p.done).exit).toBe(3);
      clearInterval(resizing);
    }
    expect((await ann.run(['true'])).exit).toBe(0); // the connection lives on
  });

  it('refuses a terminal of a size out of bounds, and a resize of a command without one', async () => {
    expect(await codeOf(ann.run(['true'], { tty: { cols: 0, rows: 24 } }))).toBe('ERR_BAD_REQUEST');
    expect(await codeOf(ann.run(['true'], { tty: { cols: 80, rows: 100_000 } }))).toBe('ERR_BAD_REQUEST');
    const p = ann.start(['sh', '-c', 'trap "echo winch" WINCH; echo ready; sleep 0.3; echo done']);
    p.stdin.end();
    const out = collect(p.stdout);
    await out.until(/ready/);
    p.resize(100, 40); // refused: no terminal, no signal
    expect((await p.done).exit).toBe(0);
    expect(out.text).toBe('ready\ndone\n');
  });
});
