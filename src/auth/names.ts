/**
 * What a user name may be. Names become database keys, log fields and the folder names of
 * user homes, so they are kept to a short, portable set: no path separators, no spaces, no
 * leading dot (hidden files, `.` and `..`) or dash (read as an option by other tools).
 */
import { ErrorCode, SockitError } from '../errors.js';

/** The longest user name, in characters (each is one ASCII byte). */
export const MAX_USER_NAME_LENGTH = 32;

const USER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/;

/**
 * Returns `name` when it is an acceptable user name: 1 to 32 characters of `A-Z a-z 0-9 _ . -`,
 * not starting with `.` or `-`. Otherwise throws `ERR_BAD_USER_NAME`.
 *
 * @example
 * ```ts
 * checkUserName('ann.lee');  // 'ann.lee'
 * checkUserName('../etc');   // throws SockitError ERR_BAD_USER_NAME
 * ```
 */
export function checkUserName(name: string): string {
  if (USER_NAME.test(name)) return name;
  throw new SockitError(ErrorCode.BAD_USER_NAME, `bad user name ${describe(name)}: ${problem(name)}`);
}

function problem(name: string): string {
  if (name.length === 0) return 'it is empty';
  if (name.length > MAX_USER_NAME_LENGTH) return `it is longer than ${MAX_USER_NAME_LENGTH} characters`;
  if (name.startsWith('.') || name.startsWith('-')) return "it may not start with '.' or '-'";
  return 'use only letters A-Z a-z, digits, and _ . -';
}

/** The name quoted for an error line: control characters escaped, long names cut. */
function describe(name: string): string {
  const shown = name.length > 40 ? `${name.slice(0, 40)}...` : name;
  return JSON.stringify(shown);
}
