/** What every command shares: the logger chosen by the global flags, and error reporting. */
import cluster from 'node:cluster';
import type { Command } from 'commander';
import { isSockitError } from '../errors.js';
import { reportWorkerFailure } from '../runtime/launch.js';
import { createLogger, type Logger, type LogLevel } from '../runtime/log.js';

export interface GlobalOptions {
  logLevel: LogLevel;
  logFormat: 'auto' | 'pretty' | 'json';
}

export function loggerFor(command: Command, fallbackLevel: LogLevel = 'info'): Logger {
  const opts = command.optsWithGlobals<Partial<GlobalOptions>>();
  const format = opts.logFormat ?? 'auto';
  return createLogger({
    level: opts.logLevel ?? fallbackLevel,
    pretty: format === 'auto' ? undefined : format === 'pretty',
  });
}

/**
 * Prints a failure as one line and sets a non-zero exit code. A `SockitError` (or a
 * system error, such as a refused connection) is the user's to fix and gets no stack
 * trace; anything else is a bug and keeps its stack.
 */
export function reportFailure(err: unknown): void {
  process.exitCode = 1;
  if (isSockitError(err)) {
    if (cluster.isWorker && reportWorkerFailure(err)) return;
    process.stderr.write(`sockit: ${err.message} [${err.code}]\n`);
    return;
  }
  const sys = err as NodeJS.ErrnoException;
  if (sys && typeof sys.code === 'string' && typeof sys.syscall === 'string') {
    process.stderr.write(`sockit: ${sys.message}\n`);
    return;
  }
  process.stderr.write(`sockit: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
}
