/**
 * The log lines of a command run by a person: `NAME: what key=value` on stderr, the form of
 * `-v` (see output.ts) and of `--log-level debug` while `--log-format` is left at auto.
 */
import type { Command } from 'commander';
import { pino } from 'pino';
import { type Logger, type LogLevel, lazyLogger } from '../runtime/log.js';
import { loggerFor } from './context.js';

/**
 * The logger of a command run by a person: plain `NAME: message key=value` lines on stderr,
 * at `--log-level` or else `fallbackLevel`. An explicit `--log-format pretty|json` gets the
 * usual structured logger instead, for scripts and tests that parse the lines.
 *
 * @example
 * ```ts
 * const log = plainLogger(command, 'tftp', levelOf(flags));
 * log.debug({ blksize: 1428 }, 'options negotiated'); // tftp: options negotiated blksize=1428
 * ```
 */
export function plainLogger(command: Command, name: string, fallbackLevel: LogLevel): Logger {
  const opts = command.optsWithGlobals<{ logFormat?: string; logLevel?: LogLevel }>();
  if (opts.logFormat !== undefined && opts.logFormat !== 'auto') return loggerFor(command, fallbackLevel);
  const level = opts.logLevel ?? fallbackLevel;
  // Made at the first line logged: a command that logs nothing does not load pino.
  return lazyLogger(level, () =>
    pino(
      { level, base: undefined, timestamp: false },
      { write: (line: string) => process.stderr.write(plainLine(name, JSON.parse(line))) },
    ),
  );
}

/** One pino entry as a plain line: the message, then each field as `key=value`. */
export function plainLine(name: string, entry: Record<string, unknown>): string {
  const { level: _level, msg, err, ...fields } = entry;
  const error = (err as { message?: unknown } | undefined)?.message ?? err;
  const message = typeof msg === 'string' ? msg : typeof error === 'string' ? error : '';
  if (typeof msg === 'string' && error !== undefined) fields.err = error;
  const rest = Object.entries(fields).map(([key, value]) => ` ${key}=${plainValue(value)}`);
  return `${name}: ${message}${rest.join('')}\n`;
}

function plainValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}
