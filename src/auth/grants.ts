/**
 * What an account may do beyond the file service and chat. Kept apart from the store so that
 * the command line can name grants without loading a database driver.
 */

/**
 * `admin`: the dashboard's admin view and actions, operator of every chat room;
 * `exec`: run commands through `sockit exec serve`.
 */
export const GRANTS = ['admin', 'exec'] as const;
export type Grant = (typeof GRANTS)[number];

/**
 * True when `value` names a grant.
 *
 * @example
 * ```ts
 * isGrant('admin'); // true
 * isGrant('root'); // false
 * ```
 */
export function isGrant(value: string): value is Grant {
  return (GRANTS as readonly string[]).includes(value);
}
