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
import type { LogEntry, LogLevel } from './log-levels.js';

export type { Logger } from 'pino';

export { LOG_LEVELS, type LogEntry, type LogLevel } from './log-levels.js';

export interface LoggerOptions {
  level?: LogLevel;
  /** Human-readable output; default: when stderr is a terminal. */
  pretty?: boolean;
  /** Also keeps the last lines here (as JSON), for a status page to show. */
  tail?: LogTail;
}

/**
 * The last lines a logger wrote, as pino's JSON, at most `maxLines` of at most `maxLineBytes`
 * each (a longer line is cut and marked): a bounded memory of what happened, for the admin
 * view of a dashboard.
 *
 * @example
 * ```ts
 * const tail = new LogTail();
 * const log = createLogger({ tail });
 * log.info('ready');
 * tail.entries(); // [{ time: 1764748800000, level: 'info', msg: 'ready', fields: {...} }]
 * ```
 */
export class LogTail {
  readonly #lines: string[] = [];
  /** Lines written since the start: an entry's number, so a reader can tell new from seen. */
  #written = 0;

  constructor(
    readonly maxLines = 200,
    readonly maxLineBytes = 4096,
  ) {}

  /** Takes one line (pino writes each with its newline); a stream for `pino.multistream`. */
  write(chunk: string): void {
    let line = chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk;
    if (line.length > this.maxLineBytes) line = `${line.slice(0, this.maxLineBytes)}\u2026`;
    this.#lines.push(line);
    this.#written++;
    if (this.#lines.length > this.maxLines) this.#lines.shift();
  }

  /** Lines written so far, including those no longer kept. */
  get written(): number {
    return this.#written;
  }

  /** The last `count` lines, oldest first, each read back from its JSON (a cut line as its text). */
  entries(count = this.maxLines): LogEntry[] {
    return this.#lines.slice(-count).map(parseLine);
  }
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

function parseLine(line: string): LogEntry {
  try {
    const {
      time,
      level,
      msg,
      pid: _pid,
      hostname: _host,
      ...fields
    } = JSON.parse(line) as Record<string, unknown>;
    return {
      time: typeof time === 'number' ? time : 0,
      level: LEVEL_NAMES[level as number] ?? String(level),
      msg: typeof msg === 'string' ? msg : '',
      fields,
    };
  } catch {
    return { time: 0, level: 'info', msg: line, fields: {} };
  }
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
  const { tail } = options;
  const withTail = (main: DestinationStream): DestinationStream =>
    tail === undefined
      ? main
      : pino.multistream([
          { level, stream: main },
          { level, stream: tail },
        ]);
  if (pretty) {
    return pino(
      { level },
      withTail(
        pretty({
          destination: 2,
          sync: true,
          // https://no-color.org: a set, non-empty NO_COLOR turns colour off.
          colorize: !noColor(),
          singleLine: true,
          translateTime: 'HH:MM:ss.l',
          ignore: 'pid,hostname',
        }),
      ),
    );
  }
  return pino({ level, base: { pid: process.pid } }, withTail(pino.destination({ fd: 2, sync: true })));
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

const LEVEL_VALUES: Record<LogLevel, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Number.POSITIVE_INFINITY,
};

/**
 * A logger at `level` that makes the real one (`make`) only when a line at that level or
 * above is first logged: a client that logs nothing never loads pino (a tenth of a short
 * command's start-up). Children are as lazy.
 *
 * @example
 * ```ts
 * const log = lazyLogger('warn', () => pino({ level: 'warn' }));
 * log.debug('dropped, and pino not loaded');
 * ```
 */
export function lazyLogger(level: LogLevel, make: () => Logger): Logger {
  let real: Logger | undefined;
  const get = (): Logger => {
    real ??= make();
    return real;
  };
  const least = LEVEL_VALUES[level];
  const method =
    (name: Exclude<LogLevel, 'silent'>) =>
    (...args: unknown[]): void => {
      if (LEVEL_VALUES[name] < least) return;
      (get()[name] as (...a: unknown[]) => void)(...args);
    };
  const logger = {
    level,
    trace: method('trace'),
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
    fatal: method('fatal'),
    silent: () => {},
    isLevelEnabled: (name: string) => (LEVEL_VALUES[name as LogLevel] ?? 0) >= least,
    child: (bindings: Record<string, unknown>, options?: Record<string, unknown>): Logger =>
      lazyLogger(level, () => get().child(bindings, options)),
  };
  return logger as unknown as Logger;
}

/** A logger that drops everything: the library's default when the caller passes none. */
export const silentLogger: Logger = lazyLogger('silent', () => pino({ level: 'silent' }));
