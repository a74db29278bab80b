/** The requests a client makes of `sockit exec serve`, as zod schemas for the server to check. */
import * as z from '../runtime/schema.js';
import { CLIENT_ENV, EXEC_SIGNALS } from './protocol.js';

const noNul = z.refine<string>((s) => !s.includes('\u0000'), 'no NUL character');
const arg = z.string().check(z.maxLength(32 * 1024), noNul);

/** A terminal's width or height, in characters. */
const size = z.int().check(z.minimum(1), z.maximum(1000));

export const ExecRequest = z
  .object({
    kind: z.literal('exec'),
    argv: z.optional(z.array(arg).check(z.minLength(1), z.maxLength(4096))),
    shell: z.optional(arg),
    cwd: z.optional(z.string().check(z.maxLength(4096), noNul)),
    /** A pseudo-terminal of this size, for an interactive program. */
    tty: z.optional(z.object({ cols: size, rows: size })),
    env: z.optional(
      z.record(
        z.string().check(z.regex(CLIENT_ENV)),
        z.string().check(
          z.maxLength(4096),
          z.refine((s) => !s.includes('\u0000')),
        ),
      ),
    ),
  })
  .check(z.refine((r) => (r.argv === undefined) !== (r.shell === undefined), 'give argv or shell, not both'));
export type ExecRequest = z.infer<typeof ExecRequest>;

export const SignalRequest = z.object({
  kind: z.literal('signal'),
  exec: z.int().check(z.positive()),
  signal: z.enum(EXEC_SIGNALS),
});

/** A new size for a command's terminal (the window was resized). */
export const ResizeRequest = z.object({
  kind: z.literal('resize'),
  exec: z.int().check(z.positive()),
  cols: size,
  rows: size,
});
