/** Helpers for tests that run the real `sockit` command and real third-party tools. */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { expect } from 'vitest';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const CLI = path.join(ROOT, 'dist/cli/main.cjs');

/** `sockit serve`'s port flags, every one 0 (a free port each); add `--http-port 0` or `--no-http`. */
export const SERVE_ON_FREE_PORTS = ['--echo-port', '0', '--tftp-port', '0', '--files-port', '0'].concat([
  '--chat-port',
  '0',
  '--irc-port',
  '0',
]);

/** Fails loudly when the build or a required system tool is missing: nothing is skipped. */
export function requireTools(...tools: string[]): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does)`);
  for (const tool of tools) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(
        `${tool} is not installed; .ci/run installs it (apt-get install -y netcat-openbsd socat)`,
      );
    }
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  input?: Buffer | string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Sends `signal` (default SIGINT) once `when` resolves, as a Ctrl-C would. */
  interrupt?: { when: Promise<unknown>; signal?: NodeJS.Signals };
}

/** Runs a program to completion, feeding `input` to its stdin; kills it after `timeoutMs`. */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    options.interrupt?.when.then(() => child.kill(options.interrupt?.signal ?? 'SIGINT'), reject);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr });
    });
    child.stdin.on('error', () => {});
    // An interrupted command may still be reading: stdin stays open until then.
    if (options.interrupt) child.stdin.write(options.input ?? '');
    else child.stdin.end(options.input ?? '');
  });
}

/** Runs `sockit ARGS...` to completion. */
export function sockit(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], options);
}

/**
 * Runs `sockit ARGS...` as a user whom file permissions stop: as root (who reads and writes
 * anything), as `nobody` through runuser; otherwise as this user.
 */
export function sockitUnprivileged(
  args: string[],
  options: Parameters<typeof run>[2] = {},
): Promise<RunResult> {
  const asUser = process.getuid?.() === 0 ? ['runuser', '-u', 'nobody', '--'] : [];
  const [command, ...rest] = [...asUser, process.execPath, CLI, ...args];
  return run(command as string, rest, options);
}

export interface Listening {
  service: string;
  protocol: 'tcp' | 'udp';
  address: string;
  port: number;
}

export interface Server {
  child: ChildProcess;
  listening: Listening[];
  /** Everything logged so far (JSON lines). */
  log(): string;
  /** Sends SIGTERM and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts a long-running `sockit` server with JSON logs and waits until it has printed
 * `expect` start-up lines (one per service and protocol).
 */
export function startServer(args: string[], expect: number, timeoutMs = 15_000): Promise<Server> {
  const child = spawn(process.execPath, [CLI, '--log-format', 'json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const listening: Listening[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start in ${timeoutMs} ms; it said:\n${text}`));
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      text += d.toString();
    });
    let partial = '';
    child.stderr.on('data', (d: Buffer) => {
      text += d.toString();
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.includes('listening on')) continue;
        const entry = JSON.parse(line) as Listening;
        if (!listening.some((l) => l.protocol === entry.protocol && l.service === entry.service)) {
          listening.push(entry);
        }
      }
      if (listening.length >= expect) {
        clearTimeout(timer);
        resolve({
          child,
          listening,
          log: () => text,
          stop: (signal = 'SIGTERM') => {
            child.kill(signal);
            return exited;
          },
        });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening; it said:\n${text}`));
    });
  });
}

/** A TCP port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The one line a failure printed on stderr, `sockit: ... [ERR_X]`, checked to be all there is
 * (no stack trace), but for the `database: ...` line every `sockit users` command starts with.
 */
export function errorLine(stderr: string): string {
  const lines = stderr
    .trimEnd()
    .split('\n')
    .filter((line) => !line.startsWith('database: '));
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(lines, stderr).toHaveLength(1);
  return lines[0] as string;
}
