/**
 * Structured logs: readable lines on a terminal, one JSON object per line otherwise.
 * Logs go to stderr so that commands whose stdout is data (`sockit nc`) stay binary-clean.
 *
 * `pino-pretty` is an optional peer dependency, loaded only when pretty output is wanted:
 * a library user who logs JSON (or nothing) need not install it, and without it a terminal
 * gets JSON lines instead of an error.
 */
import { createRequire } from 'node:module';
import { type DestinationStream, type Logger, pino } from 'pino';
import type { LogLevel } from './log-levels.js';

export type { Logger } from 'pino';

export { LOG_LEVELS, type LogLevel } from './log-levels.js';

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
  const pretty = (options.pretty ?? process.stderr.isTTY) ? loadPretty() : undefined;
  if (pretty) {
    return pino(
      { level },
      pretty({
        destination: 2,
        sync: true,
        // https://no-color.org: a set, non-empty NO_COLOR turns colour off.
        colorize: !noColor(),
        singleLine: true,
        translateTime: 'HH:MM:ss.l',
        ignore: 'pid,hostname',
      }),
    );
  }
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}

/**
 * True when the user asked for no colour (https://no-color.org: NO_COLOR set and not empty).
 *
 * @example
 * ```ts
 * const paint = noColor() ? (s: string) => s : (s: string) => `\x1b[1m${s}\x1b[22m`;
 * ```
 */
export function noColor(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.NO_COLOR ?? '') !== '';
}

/** The part of pino-pretty's API used here; its own types are not needed to build against. */
type PrettyFactory = (options: Record<string, unknown>) => DestinationStream;

/**
 * `pino-pretty`, required synchronously on first use (createLogger is synchronous), or
 * undefined when it is not installed. The name is a parameter so tests can ask for a module
 * that does not exist.
 */
export function loadPretty(name = 'pino-pretty'): PrettyFactory | undefined {
  try {
    const mod = createRequire(import.meta.url)(name) as PrettyFactory | { default: PrettyFactory };
    return typeof mod === 'function' ? mod : mod.default;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}

/** A logger that drops everything: the library's default when the caller passes none. */
export const silentLogger: Logger = pino({ level: 'silent' });
