/** The requests a client makes of `sockit exec serve`, as zod schemas for the server to check. */
import { z } from 'zod';
import { CLIENT_ENV, EXEC_SIGNALS } from './protocol.js';

const arg = z
  .string()
  .max(32 * 1024)
  .refine((s) => !s.includes('\u0000'), 'no NUL in an argument');

/** A terminal's width or height, in characters. */
const size = z.number().int().min(1).max(1000);

export const ExecRequest = z
  .object({
    kind: z.literal('exec'),
    argv: z.array(arg).min(1).max(4096).optional(),
    shell: arg.optional(),
    cwd: z.string().max(4096).optional(),
    /** A pseudo-terminal of this size, for an interactive program. */
    tty: z.object({ cols: size, rows: size }).optional(),
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

/** A new size for a command's terminal (the window was resized). */
export const ResizeRequest = z.object({
  kind: z.literal('resize'),
  exec: z.number().int().positive(),
  cols: size,
  rows: size,
});
