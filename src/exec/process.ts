/**
 * Starting a command for `sockit exec serve`: with pipes (stdin, stdout and stderr apart), or
 * on a pseudo-terminal (`tty`: stdout and stderr are the terminal's one stream, for
 * interactive programs). Either way the command leads a process group of its own, so that
 * signals, the timeout and clean-up reach its children too.
 *
 * The terminal comes from @lydell/node-pty (node-pty with prebuilt Node-API binaries, loaded
 * only when a client asks for a terminal).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { PassThrough, type Readable, Writable } from 'node:stream';
import type { ExecResult } from './protocol.js';

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

/** Signal names by number, for the terminal's exit report (it gives numbers). */
const SIGNAL_NAMES = new Map(
  Object.entries(constants.signals).map(([name, n]) => [n as number, name.replace(/^SIG/, '')]),
);

async function startOnTerminal(
  program: Program,
  options: StartOptions,
  size: { cols: number; rows: number },
): Promise<Started> {
  const pty = await import('@lydell/node-pty');
  const term = pty.spawn(program.file, program.args, {
    name: options.env.TERM ?? 'xterm-256color',
    cols: size.cols,
    rows: size.rows,
    cwd: options.cwd,
    env: options.env,
    encoding: null, // bytes as they are
    ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
  });
  // The terminal's output, as a stream with backpressure: a client that stops reading stops
  // the reads from the terminal, and so, once its buffer is full, the command.
  const stdout = new PassThrough({ highWaterMark: 64 * 1024 });
  term.onData((data) => {
    if (!stdout.write(data)) term.pause();
  });
  stdout.on('drain', () => term.resume());
  // Its input: node-pty writes to the terminal's socket; waiting for that socket's drain
  // keeps a flood of input from piling up here when the command does not read.
  const socket = (term as unknown as { _socket?: Writable })._socket;
  const stdin = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      // Typed as taking a string; it hands bytes to the terminal's socket as they are.
      term.write(chunk as unknown as string);
      if (socket?.writableNeedDrain) socket.once('drain', () => callback());
      else callback();
    },
    // The end of the input is the terminal's end-of-file character (^D), as typed: a program
    // reading lines (cat, a shell) sees its input end.
    final(callback) {
      term.write('\u0004');
      callback();
    },
  });
  const exited = new Promise<ExecResult>((resolve) => {
    term.onExit(({ exitCode, signal }) => {
      stdout.end();
      const name = signal ? SIGNAL_NAMES.get(signal) : undefined;
      resolve(name ? { exit: null, signal: name } : { exit: exitCode });
    });
  });
  return {
    pid: term.pid,
    stdin,
    stdout,
    stderr: null,
    exited,
    resize: (cols, rows) => term.resize(cols, rows),
  };
}
