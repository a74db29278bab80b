/**
 * The schema library that every server checks its peers' messages with: zod's functional
 * build, `zod/mini`, with zod's English messages (`malformed request: Invalid input: expected
 * string, received number`).
 *
 * Not the `zod` package's chained build: it loads about a hundred modules, every locale among
 * them, and took 50-70 ms of each `sockit files`, `chat` or `exec` command's start-up here,
 * where the schemas sockit uses, built from zod/mini and bundled (scripts/build-cli.mjs), load
 * in about 5 ms. Import it from here as a namespace, never from zod itself, so that the
 * messages are set: `import * as z from '../runtime/schema.js'` (a namespace import, which
 * esbuild can trim to the functions used; a `z` object exported from here would keep all of
 * zod/mini and every locale).
 *
 * @example
 * ```ts
 * const Ping = z.object({ op: z.literal('ping'), n: z.int().check(z.minimum(0)) });
 * Ping.safeParse({ op: 'ping', n: -1 }).success; // false
 * ```
 */

import { config, type core } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';

/** The first problem zod found, as one line: `argv.0: Too big: expected string to have <=32768 characters`. */
export function firstIssue(error: core.$ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const at = issue.path.map(String).join('.');
  return at ? `${at}: ${issue.message}` : issue.message;
}
