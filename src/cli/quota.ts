/**
 * Quotas on the command line: read as a size or a word, and printed as what they mean, so
 * that 0 is never taken for "no limit" (it means that nothing may be stored).
 */
import { InvalidArgumentError } from 'commander';
import type { Quota } from '../auth/store.js';
import { parseBytes } from './args.js';
import { formatBytes } from './progress.js';

/**
 * A server-wide quota (`sockit files serve --quota`): a size, or `unlimited` (also `none`).
 *
 * @example
 * ```ts
 * parseServerQuota('10GiB'); // 10737418240
 * parseServerQuota('unlimited'); // 'unlimited'
 * ```
 */
export function parseServerQuota(value: string): Quota {
  const word = value.trim().toLowerCase();
  if (word === 'unlimited' || word === 'none') return 'unlimited';
  try {
    return parseBytes(value);
  } catch {
    throw new InvalidArgumentError("expected a size such as 500MiB or 10GiB, or 'unlimited'");
  }
}

/**
 * A user's quota (`sockit users quota`, `users add --quota`): a size, `unlimited`, or
 * `default` (`null`: the server's). `none` is refused: it has meant either of the last two.
 *
 * @example
 * ```ts
 * parseUserQuota('default'); // null
 * parseUserQuota('0'); // 0: nothing may be stored
 * ```
 */
export function parseUserQuota(value: string): Quota | null {
  const word = value.trim().toLowerCase();
  if (word === 'default') return null;
  if (word === 'unlimited') return 'unlimited';
  if (word === 'none') {
    throw new InvalidArgumentError("'none' is ambiguous: say 'default' (the server's) or 'unlimited'");
  }
  try {
    return parseBytes(value);
  } catch {
    throw new InvalidArgumentError("expected a size such as 500MiB or 5GiB, 'unlimited' or 'default'");
  }
}

/**
 * What a quota means, in words: `unlimited`, `0 B (nothing may be stored)`, `1.0 GiB`, or
 * `the server's default`.
 *
 * @example
 * ```ts
 * describeQuota(0); // '0 B (nothing may be stored)'
 * ```
 */
export function describeQuota(quota: Quota | null): string {
  if (quota === null) return "the server's default";
  if (quota === 'unlimited') return 'unlimited';
  return quota === 0 ? '0 B (nothing may be stored)' : formatBytes(quota);
}
