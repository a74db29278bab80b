/**
 * The remote-command protocol (see docs/exec.md). A connection starts as every sockit
 * service does: the server's greeting and the shared log-in exchange, as envelopes
 * (`runtime/channel`). Once logged in, both sides run a `Mux` (`wire/mux`) on the same
 * socket, and each command is a channel the client opens:
 *
 *   client OPEN {kind:'exec', argv | shell, cwd?, env?, tty?} the command; client DATA is its stdin
 *   server OPEN {kind:'stderr', exec: ID}                     its stderr (server DATA), before any output
 *   server DATA on the exec channel                           its stdout
 *   server CLOSE {exit, signal?, truncated?, timedOut?}       how it ended, after all output
 *   server CLOSE {refused: ERR_CODE, message}                 it did not start
 *   client OPEN {kind:'signal', exec: ID, signal} + CLOSE     a signal for its process group
 *   client OPEN {kind:'resize', exec: ID, cols, rows} + CLOSE a new size for its terminal (tty only)
 */
export const EXEC_SERVICE = 'sockit-exec';
export const EXEC_PROTOCOL_VERSION = 1;

/** The signals a client may send to its command's process group. */
export const EXEC_SIGNALS = ['INT', 'TERM', 'HUP', 'QUIT', 'KILL', 'USR1', 'USR2', 'WINCH'] as const;
export type ExecSignal = (typeof EXEC_SIGNALS)[number];

/** Environment variables a client may set for its command (the rest is the server's choice). */
export const CLIENT_ENV = /^(TERM|LANG|LC_[A-Z]+|COLUMNS|LINES|TZ)$/;

/** The largest OPEN or CLOSE object: room for an argv of several KiB. */
export const MAX_INFO_BYTES = 64 * 1024;

/** How a command ended, as the server's CLOSE of its channel says. */
export interface ExecResult {
  /** The exit code; null when a signal ended it. */
  exit: number | null;
  /** The signal that ended it (`TERM`, `KILL`, `SEGV`, ...), without `SIG`. */
  signal?: string;
  /** Its output went past the server's cap: the rest was dropped and the command killed. */
  truncated?: true;
  /** It ran past the server's time limit and was killed. */
  timedOut?: true;
}

/**
 * The server's CLOSE of an exec channel, checked by hand (a client loads no schema library):
 * how the command ended, a refusal, or undefined for anything else.
 */
export function parseExecEnd(info: unknown): ExecResult | { refused: string; message: string } | undefined {
  if (typeof info !== 'object' || info === null) return undefined;
  const o = info as Record<string, unknown>;
  if (typeof o.refused === 'string' && typeof o.message === 'string') {
    return { refused: o.refused.slice(0, 64), message: o.message.slice(0, 1024) };
  }
  const exit = o.exit;
  const code = typeof exit === 'number' && Number.isInteger(exit) && exit >= 0 && exit <= 255;
  if (exit !== null && !code) return undefined;
  const result: ExecResult = { exit: exit as number | null };
  if (typeof o.signal === 'string' && /^[A-Z0-9]{1,16}$/.test(o.signal)) result.signal = o.signal;
  else if (exit === null) return undefined;
  if (o.truncated === true) result.truncated = true;
  if (o.timedOut === true) result.timedOut = true;
  return result;
}
