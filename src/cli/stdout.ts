/**
 * Standard output without building `process.stdout`: the stream (and, for a terminal, the
 * tty and net modules behind it) costs a short command such as `sockit ip` 4 to 10 ms of its
 * start-up. Writes go straight to descriptor 1 and block until done, as `process.stdout`
 * itself does on Linux for files, pipes and terminals, so the two can be mixed in order.
 */
import { writeSync } from 'node:fs';

/**
 * Set by `onStdoutFailure`, which the entry point calls: the process is the `sockit` command
 * and owns descriptor 1. A global, not a module variable: the entry point and the command's
 * bundle each have their own copy of this module. Elsewhere (the library, a command run in
 * a test's process) output goes through `process.stdout`, where it can be captured.
 */
const DIRECT = Symbol.for('sockit.cli.stdout.direct');

/**
 * Writes all of `text` to stdout. A descriptor someone made non-blocking (EAGAIN) hands the
 * rest to `process.stdout`, which waits for it; a reader that went away ends the command as
 * `stdoutFailed` says.
 */
export function writeStdout(text: string): void {
  if (!(globalThis as Record<symbol, unknown>)[DIRECT]) {
    process.stdout.write(text);
    return;
  }
  const bytes = Buffer.from(text, 'utf8');
  let done = 0;
  while (done < bytes.length) {
    try {
      done += writeSync(1, bytes, done);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') stdoutFailed(err as NodeJS.ErrnoException);
      process.stdout.write(bytes.subarray(done));
      return;
    }
  }
}

/**
 * A reader that stops early (`sockit ports | head -1`): stop without a word, with the status of
 * a C tool killed by SIGPIPE (ExitStatus.BROKEN_PIPE). Any other stdout error is one line.
 */
export function stdoutFailed(err: NodeJS.ErrnoException): never {
  if (err.code !== 'EPIPE') process.stderr.write(`sockit: cannot write to stdout: ${err.message} [ERR_IO]\n`);
  process.exit(err.code === 'EPIPE' ? 141 : 1);
}

/**
 * Makes every use of `process.stdout` fail as `stdoutFailed` says, without building the
 * stream now: the handler is added the first time something asks for it.
 */
export function onStdoutFailure(): void {
  (globalThis as Record<symbol, unknown>)[DIRECT] = true;
  const own = Object.getOwnPropertyDescriptor(process, 'stdout');
  const get = own?.get;
  if (!own?.configurable || !get) {
    process.stdout.on('error', stdoutFailed);
    return;
  }
  Object.defineProperty(process, 'stdout', {
    configurable: true,
    enumerable: own.enumerable,
    get() {
      const stream = get.call(process) as NodeJS.WriteStream;
      Object.defineProperty(process, 'stdout', { ...own, get: () => stream });
      stream.on('error', stdoutFailed);
      return stream;
    },
  });
}
