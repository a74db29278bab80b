/**
 * Structured logs: readable lines on a terminal, one JSON object per line otherwise.
 * Logs go to stderr so that commands whose stdout is data (`sockit nc`) stay binary-clean.
 */
import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  level?: LogLevel;
  /** Human-readable output; default: when stderr is a terminal. */
  pretty?: boolean;
}

/**
 * A logger writing to stderr.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: 'debug' });
 * log.info({ port: 7 }, 'echo listening');
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  if (options.pretty ?? process.stderr.isTTY) {
    return pino(
      { level },
      pretty({
        destination: 2,
        sync: true,
        colorize: true,
        singleLine: true,
        translateTime: 'HH:MM:ss.l',
        ignore: 'pid,hostname',
      }),
    );
  }
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything: the library's default when the caller passes none. */
export const silentLogger: Logger = pino({ level: 'silent' });
