/**
 * `sockit exec --keep`: a connection kept open in the background after a command, used by the
 * later `sockit exec` commands to the same USER@HOST:PORT (no connection, no log-in), as ssh's
 * ControlMaster with ControlPersist. It is a process of its own (`sockit exec --serve-kept`),
 * started detached, that logs in as the command that started it did and listens on a Unix
 * socket in a folder only this user may enter (see exec/control.ts).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErrorCode, formatHostPort, SockitError } from '../errors.js';
import { cacheDir } from './data-dir.js';

/** The longest Unix socket path this code uses (the kernel's limit is 107 bytes). */
const MAX_SOCKET_PATH = 100;

export interface KeptTarget {
  host: string;
  port: number;
  user: string;
  tls: boolean;
}

/**
 * The control socket of the kept connection to `target`: in `$XDG_RUNTIME_DIR/sockit`, else in
 * the cache folder (`kept/`), else, when that path is too long for a Unix socket, in
 * `/tmp/sockit-UID`; the folder is made 0700 and refused when another user could enter it.
 */
export function keptSocketPath(
  target: KeptTarget,
  { create = false, env = process.env }: { create?: boolean; env?: NodeJS.ProcessEnv } = {},
): string {
  const name = `exec-${createHash('sha256')
    .update(`${target.user}\n${target.host}\n${target.port}\n${target.tls ? 'tls' : 'tcp'}`)
    .digest('hex')
    .slice(0, 20)}.sock`;
  const runtime = env.XDG_RUNTIME_DIR;
  const candidates = [
    ...(runtime && path.isAbsolute(runtime) ? [path.join(runtime, 'sockit')] : []),
    path.join(cacheDir(env), 'kept'),
    path.join(os.tmpdir(), `sockit-${process.getuid?.() ?? 'user'}`),
  ];
  const dir = candidates.find((d) => path.join(d, name).length <= MAX_SOCKET_PATH);
  if (dir === undefined) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, 'no folder with a short enough path for a Unix socket');
  }
  privateFolder(dir, create);
  return path.join(dir, name);
}

/**
 * Checks that `dir` is this user's own, as ssh checks ~/.ssh (a socket in a folder others may
 * write could be theirs, and see the commands and their input); makes it (mode 0700) when
 * `create`, else a folder not there is fine (nothing is kept).
 */
function privateFolder(dir: string, create: boolean): void {
  if (create) mkdirSync(dir, { recursive: true, mode: 0o700 });
  let st: import('node:fs').Stats;
  try {
    st = lstatSync(dir);
  } catch (err) {
    if (!create && (err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) {
    throw new SockitError(
      ErrorCode.FORBIDDEN,
      `${dir} is not a folder of yours that only you may enter (chmod 700 it, or remove it)`,
    );
  }
}

export interface KeptFlags {
  tls?: boolean;
  tlsCa?: string;
  secretFile?: string;
  keyCache?: boolean;
  connectTimeout?: number;
  keepFor: number;
}

export interface KeptStart {
  /** Resolves when the kept connection listens, or rejects with why it could not start. */
  readonly ready: Promise<void>;
}

/**
 * Starts the kept connection to `target` in a detached process of its own. It logs in as this
 * command did: the password typed here (if one was) goes to it through a pipe, never argv.
 */
export function startKept(target: KeptTarget, flags: KeptFlags, password: string | undefined): KeptStart {
  const args = [
    ...process.execArgv,
    process.argv[1] as string,
    'exec',
    '--serve-kept',
    '--keep-for',
    String(flags.keepFor / 1000),
    '--user',
    target.user,
    ...(flags.tls ? ['--tls'] : []),
    ...(flags.tlsCa ? ['--tls-ca', path.resolve(flags.tlsCa)] : []),
    ...(flags.secretFile ? ['--secret-file', path.resolve(flags.secretFile)] : []),
    ...(flags.keyCache === false ? ['--no-key-cache'] : []),
    ...(flags.connectTimeout === undefined ? [] : ['--connect-timeout', String(flags.connectTimeout / 1000)]),
    formatHostPort(target.host, target.port),
  ];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['pipe', 'pipe', 'ignore'] });
  child.stdin?.end(JSON.stringify({ password }));
  const ready = new Promise<void>((resolve, reject) => {
    let said = '';
    let settled = false;
    // The first line it writes: `ready`, or the failure line that ended it.
    const settle = (): void => {
      if (settled) return;
      settled = true;
      child.stdout?.destroy();
      child.unref();
      const line = said.split('\n')[0] ?? '';
      if (line === 'ready') resolve();
      else {
        reject(
          new SockitError(
            ErrorCode.IO,
            `could not keep the connection: ${line.replace(/^sockit: /, '') || 'its process ended'}`,
          ),
        );
      }
    };
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => {
      said += text;
      if (said.includes('\n')) settle();
    });
    child.stdout?.once('close', settle);
    child.once('error', (err) => {
      said = err.message;
      settle();
    });
  });
  ready.catch(() => {});
  return { ready };
}

/** What `startKept` hands the kept connection's process on its stdin. */
export async function readHandover(): Promise<{ password?: string }> {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += chunk as string;
  try {
    const value = JSON.parse(text) as { password?: unknown };
    return typeof value.password === 'string' ? { password: value.password } : {};
  } catch {
    return {};
  }
}
