/**
 * The remote-command protocol (see docs/exec.md). A connection starts as every sockit
 * service does: the server's greeting and the shared log-in exchange, as envelopes
 * (`runtime/channel`). Once logged in, both sides run a `Mux` (`wire/mux`) on the same
 * socket, and each command is a channel the client opens:
 *
 *   client OPEN {kind:'exec', argv | shell, cwd?, env?}      the command; client DATA is its stdin
 *   server OPEN {kind:'stderr', exec: ID}                     its stderr (server DATA), before any output
 *   server DATA on the exec channel                           its stdout
 *   server CLOSE {exit, signal?, truncated?, timedOut?}       how it ended, after all output
 *   server CLOSE {refused: ERR_CODE, message}                 it did not start
 *   client OPEN {kind:'signal', exec: ID, signal} + CLOSE     a signal for its process group
 */
import { z } from 'zod';

export const EXEC_SERVICE = 'sockit-exec';
export const EXEC_PROTOCOL_VERSION = 1;

/** The signals a client may send to its command's process group. */
export const EXEC_SIGNALS = ['INT', 'TERM', 'HUP', 'QUIT', 'KILL', 'USR1', 'USR2', 'WINCH'] as const;
export type ExecSignal = (typeof EXEC_SIGNALS)[number];

/** Environment variables a client may set for its command (the rest is the server's choice). */
export const CLIENT_ENV = /^(TERM|LANG|LC_[A-Z]+|COLUMNS|LINES|TZ)$/;

/** The largest OPEN or CLOSE object: room for an argv of several KiB. */
export const MAX_INFO_BYTES = 64 * 1024;

const arg = z
  .string()
  .max(32 * 1024)
  .refine((s) => !s.includes('\u0000'), 'no NUL in an argument');

export const ExecRequest = z
  .object({
    kind: z.literal('exec'),
    argv: z.array(arg).min(1).max(4096).optional(),
    shell: arg.optional(),
    cwd: z.string().max(4096).optional(),
    env: z
      .record(
        z.string().regex(CLIENT_ENV),
        z
          .string()
          .max(4096)
          .refine((s) => !s.includes('\u0000')),
      )
      .optional(),
  })
  .refine((r) => (r.argv === undefined) !== (r.shell === undefined), 'give argv or shell, not both');
export type ExecRequest = z.infer<typeof ExecRequest>;

export const SignalRequest = z.object({
  kind: z.literal('signal'),
  exec: z.number().int().positive(),
  signal: z.enum(EXEC_SIGNALS),
});

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

export const ExecEnd = z.union([
  z.object({
    exit: z.number().int().min(0).max(255).nullable(),
    signal: z.string().max(16).optional(),
    truncated: z.literal(true).optional(),
    timedOut: z.literal(true).optional(),
  }),
  z.object({ refused: z.string().max(64), message: z.string().max(1024) }),
]);
