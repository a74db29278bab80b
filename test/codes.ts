import { isSockitError } from '../src/errors.js';

/**
 * The code a promise is rejected with, or 'resolved'. Anything but a SockitError is thrown
 * again: a test that expects a code must not pass on a crash.
 */
export async function codeOf(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (err) {
    if (isSockitError(err)) return err.code;
    throw err;
  }
  return 'resolved';
}
