/**
 * What a person reads: NO_COLOR (https://no-color.org) turns colour off in every log line,
 * and `nc -v` speaks in plain lines even when stderr is a pipe; counts in log lines agree with
 * their noun.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, requireTools, startServer } from '../helpers.js';

beforeAll(() => requireTools());

/** Runs `sockit ARGS`, returns its stderr once `until` matches, then kills it. */
function stderrUntil(args: string[], until: RegExp, env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['pipe', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no match for ${until} in: ${text}`));
    }, 15_000);
    child.stderr.on('data', (d: Buffer) => {
      text += d.toString();
      const m = until.exec(text);
      if (!m) return;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve(text);
    });
  });
}

function envWith(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.FORCE_COLOR;
  return env;
}

describe('NO_COLOR', () => {
  const serve = ['--log-format', 'pretty', 'echo', 'serve', '--tcp', '--host', '127.0.0.1', '--port', '0'];

  it('pretty logs are coloured without it (the control)', async () => {
    const { NO_COLOR: _, ...rest } = envWith({});
    const text = await stderrUntil(serve, /listening on[^\n]*\n/, rest);
    expect(text).toContain('\x1b[');
  });

  it('pretty logs carry no escape sequence with NO_COLOR=1', async () => {
    const text = await stderrUntil(serve, /listening on[^\n]*\n/, envWith({ NO_COLOR: '1' }));
    expect(text).toMatch(/listening on/);
    expect(text).not.toContain('\x1b');
  });
});

describe('sockit nc -v', () => {
  it('writes plain "nc: ..." lines, not JSON, when stderr is a pipe', async () => {
    const child = spawn(process.execPath, [CLI, 'nc', '-l', '-v', '-H', '127.0.0.1', '-p', '0'], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    child.stdin.end();
    let text = '';
    const port = await new Promise<number>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        text += d.toString();
        const m = /listening on 127\.0\.0\.1:(\d+)\n/.exec(text);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', () => reject(new Error(`exited: ${text}`)));
    });
    const client = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => client.once('connect', resolve));
    client.end();
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect(code).toBe(0);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe(`nc: listening on 127.0.0.1:${port}`);
    expect(lines[1]).toMatch(/^nc: connection from 127\.0\.0\.1:\d+$/);
  });
});

describe('counted nouns in log lines', () => {
  it('says "1 worker" for a cluster of one', async () => {
    const args = [
      'echo',
      'serve',
      '--tcp',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--model',
      'cluster',
      '-w',
      '1',
    ];
    const server = await startServer(args, 1);
    try {
      expect(server.log()).toMatch(/listening on 127\.0\.0\.1:\d+ \(cluster, 1 worker\)/);
    } finally {
      await server.stop();
    }
  });
});
