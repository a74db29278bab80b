/**
 * Warnings that a flood repeats (a connection refused at a limit, one dropped because it does
 * not read): logged once per kind and window, not once per event. The first of a kind is
 * logged at once; the others within LOG_WINDOW_MS are only counted, and when the window
 * closes one line says how many there were (`suppressed`), with the fields of the last. A
 * reconnect flood against a chat server made 7,900 such lines in 15 s before.
 */
import type { Logger } from 'pino';

/** How long the warnings of one kind are counted after one is logged, in ms. */
export const LOG_WINDOW_MS = 10_000;

/** Kinds counted at once, at most; past it a warning is logged as it comes. */
const MAX_KINDS = 256;

type Level = 'warn' | 'info';

interface Window {
  level: Level;
  count: number;
  log: Logger;
  fields: Record<string, unknown>;
}

const windows = new Map<string, Window>();

/**
 * Logs `msg` at warn, unless a warning of the same `kind` (a service's name and the message
 * are a good one) was logged within LOG_WINDOW_MS: then it is counted for the line that
 * closes that window.
 *
 * @example
 * ```ts
 * warnLimited(log, `chat:${reason}`, { remote }, 'connection refused: too many from this address');
 * ```
 */
export function warnLimited(log: Logger, kind: string, fields: Record<string, unknown>, msg: string): void {
  logLimited('warn', log, kind, fields, msg);
}

/** As warnLimited, at info: for what a flood repeats that is no trouble in itself (an eviction). */
export function infoLimited(log: Logger, kind: string, fields: Record<string, unknown>, msg: string): void {
  logLimited('info', log, kind, fields, msg);
}

function logLimited(
  level: Level,
  log: Logger,
  kind: string,
  fields: Record<string, unknown>,
  msg: string,
): void {
  const open = windows.get(kind);
  if (open) {
    open.count++;
    open.log = log;
    open.fields = fields;
    return;
  }
  log[level](fields, msg);
  if (windows.size >= MAX_KINDS) return;
  const window: Window = { level, count: 0, log, fields };
  windows.set(kind, window);
  setTimeout(() => {
    windows.delete(kind);
    if (window.count === 0) return;
    window.log[level](
      { ...window.fields, suppressed: window.count, windowSeconds: LOG_WINDOW_MS / 1000 },
      `${msg} (${window.count} more like it not logged)`,
    );
  }, LOG_WINDOW_MS).unref();
}
