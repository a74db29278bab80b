/** A logger for tests: every entry it is given, parsed, to look at afterwards. */
import { type Logger, pino } from 'pino';
import type { LogLevel } from '../src/runtime/log.js';

export interface LogRecord {
  log: Logger;
  /** Every entry logged so far, as pino wrote it (`level`, `msg` and the fields). */
  entries: Record<string, unknown>[];
}

/**
 * @example
 * ```ts
 * const { log, entries } = recordLog('debug');
 * await serveTftp({ root, port: 0, log });
 * expect(entries.some((e) => e.msg === 'request')).toBe(true);
 * ```
 */
export function recordLog(level: LogLevel = 'debug'): LogRecord {
  const entries: Record<string, unknown>[] = [];
  const write = (line: string): void => {
    entries.push(JSON.parse(line) as Record<string, unknown>);
  };
  return { log: pino({ level }, { write }), entries };
}

/** The JSON lines of a process's log (`--log-format json`), parsed; other lines are left out. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
