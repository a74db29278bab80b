/**
 * A read of a whole buffer from a file on the calling thread, for what must be read at once:
 * a small file, a code cache, a block of a file the page cache holds.
 */
import { readSync } from 'node:fs';

/**
 * Fills `buffer` from the open file `fd`, from `position` on, with as many reads as the system
 * needs (each may return less than asked); fewer bytes only where the file ends. Returns how
 * many were read.
 *
 * @example
 * ```ts
 * const n = readFullSync(fd, Buffer.allocUnsafe(size)); // n < size: the file is shorter
 * ```
 */
export function readFullSync(fd: number, buffer: Buffer, position = 0): number {
  let length = 0;
  while (length < buffer.length) {
    const n = readSync(fd, buffer, length, buffer.length - length, position + length);
    if (n === 0) break;
    length += n;
  }
  return length;
}
