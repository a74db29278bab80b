/**
 * `sockit exec --keep`: a connection kept open in the background after a command, used by the
 * later `sockit exec` commands to the same USER@HOST:PORT (no connection, no log-in), as ssh's
 * ControlMaster with ControlPersist. It is a process of its own (`sockit exec --serve-kept`),
 * started detached, that logs in as the command that started it did and listens on a Unix
 * socket in a folder only this user may enter (see exec/control.ts).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { ErrorCode, formatHostPort, SockitError } from '../errors.js';
import { privateSocketPath } from './private-socket.js';

export interface KeptTarget {
  host: string;
  port: number;
  user: string;
  tls: boolean;
}

/** The control socket of the kept connection to `target` (see private-socket.ts for where). */
export function keptSocketPath(
  target: KeptTarget,
  options: { create?: boolean; env?: NodeJS.ProcessEnv } = {},
): string | undefined {
  const name = `exec-${createHash('sha256')
    .update(`${target.user}\n${target.host}\n${target.port}\n${target.tls ? 'tls' : 'tcp'}`)
    .digest('hex')
    .slice(0, 20)}.sock`;
  return privateSocketPath(name, options);
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
