/**
 * The process that holds one command's pseudo-terminal for `sockit exec serve` (process.ts
 * starts it, as the command's user when the server runs commands as another).
 *
 * The terminal's master side lives here, not in the server: node-pty opens it without
 * close-on-exec, so in the server every other command started meanwhile, of any account,
 * would inherit it and could type into this one's terminal. Here only the command itself
 * (which owns the terminal anyway) could. This process talks to the server over its stdin
 * and stdout only, which the command does not inherit (its 0, 1 and 2 are the terminal), in
 * frames (wire/frame) whose first byte says what follows:
 *
 *   server → helper: S{command as JSON}  D<input bytes>  E (end of input)  R{"cols","rows"}
 *   helper → server: P{"pid"}  D<output bytes>  X{"exit"} or X{"signal"}  F{"failed"}
 */
import { constants } from 'node:os';
import type { Writable } from 'node:stream';
import { PtyFrameReader, ptyFrame } from './pty-frames.js';

interface Start {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  cols: number;
  rows: number;
}

const SIGNAL_NAMES = new Map(
  Object.entries(constants.signals).map(([name, n]) => [n as number, name.replace(/^SIG/, '')]),
);

const report = (type: string, o: Record<string, unknown>) =>
  process.stdout.write(ptyFrame(type, JSON.stringify(o)));

let term: import('@lydell/node-pty').IPty | undefined;
let last = 0x0a;
let inputEnded = false;
const frames = new PtyFrameReader();
process.stdin.on('data', (chunk: Buffer) => {
  for (const { type, body } of frames.push(chunk)) {
    if (type === 'S' && term === undefined) void start(JSON.parse(body.toString()) as Start);
    else if (type === 'D' && term && body.length > 0 && !inputEnded) {
      last = body[body.length - 1] ?? last;
      term.write(body as unknown as string); // typed as a string; bytes go to the terminal as they are
    } else if (type === 'E' && term && !inputEnded) {
      // The end of the input, as typed: ^D, twice after a line without its newline (the first
      // only hands over that line).
      inputEnded = true;
      term.write(last === 0x0a || last === 0x04 ? '\u0004' : '\u0004\u0004');
    } else if (type === 'R' && term) {
      const { cols, rows } = JSON.parse(body.toString()) as { cols: number; rows: number };
      try {
        term.resize(cols, rows);
      } catch {
        // the terminal closed as the command ended: nothing to resize
      }
    }
  }
});
// The server went away: so does the command (the terminal's hang-up reaches its session).
process.stdin.on('end', () => term?.kill('SIGHUP'));

async function start(s: Start): Promise<void> {
  const pty = await import('@lydell/node-pty');
  try {
    term = pty.spawn(s.file, s.args, {
      name: s.env.TERM ?? 'xterm-256color',
      cols: s.cols,
      rows: s.rows,
      cwd: s.cwd,
      env: s.env,
      encoding: null,
    });
  } catch (err) {
    report('F', { failed: (err as Error).message });
    process.exit(1);
  }
  const t = term;
  report('P', { pid: t.pid });
  // Output with backpressure: a reader that stops stops the reads from the terminal.
  t.onData((data) => {
    if (!process.stdout.write(ptyFrame('D', data as unknown as Buffer))) t.pause();
  });
  process.stdout.on('drain', () => t.resume());
  // Input is paced by the terminal's socket (node-pty writes to it).
  const socket = (t as unknown as { _socket?: Writable })._socket;
  socket?.on('drain', () => process.stdin.resume());
  process.stdin.on('data', () => {
    if (socket?.writableNeedDrain) process.stdin.pause();
  });
  t.onExit(({ exitCode, signal }) => {
    const name = signal ? SIGNAL_NAMES.get(signal) : undefined;
    process.stdout.end(ptyFrame('X', JSON.stringify(name ? { signal: name } : { exit: exitCode })), () =>
      process.exit(0),
    );
  });
}
