/**
 * The log levels, apart from the logger itself so that a command line can list them cheaply
 * (and a browser page can share the types).
 */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One line of a `LogTail`: its time (ms), level name, message, and the other fields. */
export interface LogEntry {
  time: number;
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}
