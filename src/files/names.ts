/**
 * Names a file server sends, checked before they become local paths.
 *
 * A client that writes where a server's listing says must not trust the listing: a hostile
 * server that answers `stat` with `..` or lists `../.bashrc` would otherwise aim the download
 * outside the folder the user chose (the scp flaw, CVE-2019-6111). Every segment of every
 * name must be one plain component; anything else is a protocol violation by the peer.
 */
import { ErrorCode, SockitError } from '../errors.js';
import type { Entry } from './protocol.js';

/** Longest single name accepted from a server, in UTF-16 units (file systems allow 255 bytes). */
const MAX_COMPONENT = 1024;

/**
 * Throws `ERR_BAD_REQUEST` unless `name` is one safe path component: not empty, `.` or `..`,
 * and without `/`, `\` or NUL.
 *
 * @example
 * ```ts
 * checkComponent('report.pdf'); // ok
 * checkComponent('..');         // throws ERR_BAD_REQUEST
 * ```
 */
export function checkComponent(name: string): string {
  if (name === '' || name === '.' || name === '..' || name.length > MAX_COMPONENT || /[/\\\0]/.test(name)) {
    throw new SockitError(
      ErrorCode.BAD_REQUEST,
      `the server sent an unsafe name ${JSON.stringify(name)}: refused`,
    );
  }
  return name;
}

/**
 * The segments of a relative, `/`-separated path from a server, each checked with
 * `checkComponent`. Absolute paths and empty segments (`a//b`, a trailing `/`) are refused.
 *
 * @example
 * ```ts
 * checkRelativePath('photos/2026/a.jpg'); // ['photos', '2026', 'a.jpg']
 * checkRelativePath('a/../../x');         // throws ERR_BAD_REQUEST
 * ```
 */
export function checkRelativePath(listed: string): string[] {
  if (listed.startsWith('/'))
    throw new SockitError(
      ErrorCode.BAD_REQUEST,
      `the server sent an absolute path ${JSON.stringify(listed)}`,
    );
  return listed.split('/').map(checkComponent);
}

/** Checks every entry of a listing; returns the entries unchanged when all are safe. */
export function checkEntries(entries: Entry[]): Entry[] {
  for (const entry of entries) checkRelativePath(entry.path);
  return entries;
}

/**
 * The form in which the server names a requested path in its answers: '' and '.' segments
 * dropped, `.` for the home itself (as the server's `display` does).
 *
 * @example
 * ```ts
 * requestedForm('a//b/./c'); // 'a/b/c'
 * requestedForm('');         // '.'
 * ```
 */
export function requestedForm(requested: string): string {
  return (
    requested
      .split('/')
      .filter((s) => s !== '' && s !== '.')
      .join('/') || '.'
  );
}

/**
 * A `stat` answer must name exactly what was asked: the home as `.`, anything else as the
 * requested relative path. A server that answers for `report.pdf` with `.bash_profile` would
 * otherwise choose the name a caller writes to: refused with `ERR_BAD_REQUEST`.
 *
 * @example
 * ```ts
 * checkStatPath({ path: 'a/b', type: 'file', size: 1, mtime: 0 }, 'a//b'); // ok
 * checkStatPath({ path: '.bash_profile', type: 'file', size: 1, mtime: 0 }, 'report.pdf'); // throws
 * ```
 */
export function checkStatPath(entry: Entry, requested: string): Entry {
  if (entry.path !== '.') checkRelativePath(entry.path);
  if (entry.path !== requestedForm(requested)) {
    throw new SockitError(
      ErrorCode.BAD_REQUEST,
      `the server answered for ${JSON.stringify(entry.path)} when asked about ${JSON.stringify(requested)}: refused`,
    );
  }
  return entry;
}
