/**
 * Starting a command for `sockit exec serve`: with pipes (stdin, stdout and stderr apart), or
 * on a pseudo-terminal (`tty`: stdout and stderr are the terminal's one stream, for
 * interactive programs). Either way the command leads a process group of its own, so that
 * signals, the timeout and clean-up reach its children too.
 *
 * The terminal comes from @lydell/node-pty (node-pty with prebuilt Node-API binaries), in a
 * helper process of its own per command (pty-helper.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { PassThrough, type Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ErrorCode, SockitError } from '../errors.js';
import type { ExecResult } from './protocol.js';
import { PtyFrameReader, ptyFrame } from './pty-frames.js';

export interface Program {
  file: string;
  args: string[];
  argv0: string;
}

export interface StartOptions {
  cwd: string;
  env: Record<string, string>;
  runAs?: { uid: number; gid: number } | undefined;
  /** A pseudo-terminal of this size instead of pipes. */
  tty?: { cols: number; rows: number } | undefined;
}

export interface Started {
  /** Its pid, which is also its process group's id. */
  pid: number | undefined;
  stdin: Writable;
  stdout: Readable;
  /** Null on a terminal: what it writes to stderr is in stdout. */
  stderr: Readable | null;
  /** How it ended; `failed` when it could not start at all (ENOENT, EACCES, ...). */
  exited: Promise<ExecResult & { failed?: string }>;
  /** A new terminal size (the kernel tells the foreground group with SIGWINCH); terminals only. */
  resize?(cols: number, rows: number): void;
  /** It leads a session (on a terminal): signals for it go to the whole session. */
  session?: boolean;
}

/** Starts `program` with pipes or on a terminal; throws when it cannot be started at all. */
export async function startProcess(program: Program, options: StartOptions): Promise<Started> {
  return options.tty ? startOnTerminal(program, options, options.tty) : startWithPipes(program, options);
}

function startWithPipes(program: Program, options: StartOptions): Started {
  const child = spawn(program.file, program.args, {
    argv0: program.argv0,
    cwd: options.cwd,
    env: options.env,
    detached: true, // a process group of its own, for signals and clean-up
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
  });
  const stdin = child.stdin as Writable;
  stdin.on('error', () => {}); // a command that does not read its stdin
  const exited = new Promise<ExecResult & { failed?: string }>((resolve) => {
    child.once('error', (err) => {
      // Failed to start (ENOENT, EACCES for the folder, ...): no 'exit' follows.
      resolve({ exit: 127, failed: (err as NodeJS.ErrnoException).code ?? err.message });
    });
    child.once('exit', (code, signal) => {
      resolve(signal ? { exit: null, signal: signal.replace(/^SIG/, '') } : { exit: code ?? 0 });
    });
  });
  return {
    pid: child.pid,
    stdin,
    stdout: child.stdout as Readable,
    stderr: child.stderr as Readable,
    exited,
  };
}

/**
 * Where pty-helper.js is: beside this file (tsc's output), two folders up from a CLI bundle
 * (dist/cli/one/), or in the build when this runs from src/ (the tests).
 */
function helperPath(): string {
  for (const rel of ['./pty-helper.js', '../../exec/pty-helper.js', '../../dist/exec/pty-helper.js']) {
    const file = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(file)) return file;
  }
  throw new SockitError(ErrorCode.INTERNAL, 'pty-helper.js is missing from the build: run npm run build');
}

/**
 * Starts the command on a terminal held by a helper process of its own (see pty-helper.ts
 * for why), as the command's user: the helper is spawned with the uid and gid (and so without
 * the server's supplementary groups), and the command inherits them.
 */
async function startOnTerminal(
  program: Program,
  options: StartOptions,
  size: { cols: number; rows: number },
): Promise<Started> {
  const helper = spawn(process.execPath, [helperPath()], {
    stdio: ['pipe', 'pipe', 'ignore'],
    env: {},
    ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
  });
  const toHelper = helper.stdin as Writable;
  toHelper.on('error', () => {});
  const send = (type: string, body?: Buffer | string): boolean => toHelper.write(ptyFrame(type, body));
  send(
    'S',
    JSON.stringify({ file: program.file, args: program.args, cwd: options.cwd, env: options.env, ...size }),
  );
  const stdout = new PassThrough({ highWaterMark: 64 * 1024 });
  const reader = new PtyFrameReader();
  let pidOf!: (pid: number | undefined, failed?: string) => void;
  const pid = new Promise<{ pid: number | undefined; failed?: string }>((resolve) => {
    pidOf = (p, failed) => resolve({ pid: p, ...(failed ? { failed } : {}) });
  });
  let ended: ExecResult | undefined;
  const fromHelper = helper.stdout as Readable;
  fromHelper.on('data', (chunk: Buffer) => {
    let frames: { type: string; body: Buffer }[];
    try {
      frames = reader.push(chunk);
    } catch {
      helper.kill('SIGKILL');
      return;
    }
    for (const { type, body } of frames) {
      if (type === 'D') {
        // The terminal's output, with backpressure: the helper stops reading it meanwhile.
        if (!stdout.write(body)) {
          fromHelper.pause();
          stdout.once('drain', () => fromHelper.resume());
        }
      } else if (type === 'P') pidOf((JSON.parse(body.toString()) as { pid: number }).pid);
      else if (type === 'F') pidOf(undefined, (JSON.parse(body.toString()) as { failed: string }).failed);
      else if (type === 'X') {
        const x = JSON.parse(body.toString()) as { exit?: number; signal?: string };
        ended = x.signal ? { exit: null, signal: x.signal } : { exit: x.exit ?? 0 };
      }
    }
  });
  const exited = new Promise<ExecResult & { failed?: string }>((resolve) => {
    helper.once('error', (err) => {
      pidOf(undefined, err.message);
      stdout.end();
      resolve({ exit: 127, failed: (err as NodeJS.ErrnoException).code ?? err.message });
    });
    helper.once('close', () => {
      pidOf(undefined, 'the terminal helper ended');
      stdout.end();
      resolve(ended ?? { exit: null, signal: 'KILL' });
    });
  });
  const started = await pid;
  if (started.failed !== undefined && started.pid === undefined) {
    throw new SockitError(ErrorCode.IO, `no terminal for it: ${started.failed}`);
  }
  // stdin: frames to the helper, paced by its pipe; its end, the terminal's ^D.
  const stdin = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (send('D', chunk)) callback();
      else toHelper.once('drain', () => callback());
    },
    final(callback) {
      send('E');
      callback();
    },
  });
  return {
    pid: started.pid,
    stdin,
    stdout,
    stderr: null,
    exited,
    resize: (cols, rows) => {
      send('R', JSON.stringify({ cols, rows }));
    },
    session: true,
  };
}

/**
 * Sends `signal` to every process of the session `sid` (read from /proc): a shell on a
 * terminal puts each job in a process group of its own, inside the session it leads, so the
 * command's group alone would miss them. True when some process got it.
 */
export function signalSession(sid: number, signal: NodeJS.Signals): boolean {
  let any = false;
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return false;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp session ...: comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[3]) !== sid) continue;
    try {
      process.kill(Number(name), signal);
      any = true;
    } catch {
      // gone meanwhile
    }
  }
  return any;
}
