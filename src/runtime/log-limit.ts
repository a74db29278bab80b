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

/**
 * Windows open at once, at most; past it a new source's warnings are counted together, in
 * one window per kind (`source: '*'`), so that many sources cannot bring the flood back.
 */
const MAX_WINDOWS = 256;

export type LimitedLevel = 'warn' | 'info';

interface Window {
  level: LimitedLevel;
  msg: string;
  count: number;
  log: Logger;
  fields: Record<string, unknown>;
  timer: NodeJS.Timeout;
}

const windows = new Map<string, Window>();

/**
 * Logs the count of every window still open now, and closes them: at shutdown, so that the
 * last seconds of a flood are not lost with the process.
 */
export function flushLimitedLogs(): void {
  for (const [key, window] of windows) {
    clearTimeout(window.timer);
    windows.delete(key);
    summarize(window);
  }
}

function summarize(window: Window): void {
  if (window.count === 0) return;
  window.log[window.level](
    { ...window.fields, suppressed: window.count, windowSeconds: LOG_WINDOW_MS / 1000 },
    `${window.msg} (${window.count} more like it not logged)`,
  );
}

/**
 * Logs `msg` at `level`, unless a line of the same `kind` (a service's name and the message
 * are a good one) from the same `source` (an address group; none for a source that is
 * easily forged, such as a UDP sender's) was logged within LOG_WINDOW_MS: then it is
 * counted for the line that closes that window. One source's flood does not hide another's.
 * `info` is for what a flood repeats that is no trouble in itself (an eviction).
 *
 * @example
 * ```ts
 * logLimited('warn', log, 'chat:address', { remote }, 'connection refused: too many from this address', '192.0.2.7');
 * ```
 */
export function logLimited(
  level: LimitedLevel,
  log: Logger,
  kind: string,
  fields: Record<string, unknown>,
  msg: string,
  source?: string,
): void {
  let key = source === undefined ? kind : `${kind}\0${source}`;
  if (!windows.has(key) && windows.size >= MAX_WINDOWS) key = `${kind}\0*`;
  const open = windows.get(key);
  if (open) {
    open.count++;
    open.log = log;
    open.fields = fields;
    return;
  }
  log[level](fields, msg);
  const window: Window = {
    level,
    msg,
    count: 0,
    log,
    fields,
    timer: setTimeout(() => {
      windows.delete(key);
      summarize(window);
    }, LOG_WINDOW_MS).unref(),
  };
  windows.set(key, window);
}
