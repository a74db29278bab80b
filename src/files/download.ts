/**
 * The local side of a download: the part file beside the destination, the checks on what
 * the server announces before a byte is written, and the placing of the verified file.
 *
 * A download is written to `LOCAL.sockit-part` in the destination folder and gets its real
 * name only after its SHA-256 matched; an existing `LOCAL` is never replaced unless the
 * caller asked for it (`link` refuses an existing name in one step, as the server's uploads do).
 *
 * The metadata calls (lstat, statfs, link, rename, unlink) are made synchronously: each takes
 * microseconds, a round trip through Node's thread pool far more, and a folder of small files
 * makes a dozen per file.
 */
import type { Hash } from 'node:crypto';
import {
  closeSync,
  constants,
  ftruncateSync,
  linkSync,
  lstatSync,
  openSync,
  renameSync,
  statfsSync,
  unlinkSync,
} from 'node:fs';
import { lstat, mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, SockitError } from '../errors.js';
import { checkRelativePath } from './names.js';
import type { Entry } from './protocol.js';
import { descriptorFile, hashPrefix, peekHex, type SinkFile } from './transfer.js';

/** Suffix of a download in progress, beside its destination. */
export const PART_SUFFIX = '.sockit-part';

export interface DownloadOptions {
  /** Replace `local` when it exists. Default false: the download fails with `ERR_EXISTS`. */
  overwrite?: boolean;
  /** Largest size the server may announce, in bytes; above it the download fails before writing. Default: no limit but the free disk space. */
  maxFileSize?: number;
  /** Aborting destroys the connection, removes the part file and rejects with `ERR_ABORTED`. */
  signal?: AbortSignal;
  progress?: (received: number, total: number) => void;
}

/** What an earlier attempt left: its length and the SHA-256 state of its bytes. */
export interface KeptPart {
  offset: number;
  /** Hex SHA-256 of the part, offered to the server; undefined for no part. */
  prefix: string | undefined;
  /** The same hash, open for the bytes still to come. */
  hash: Hash | undefined;
}

/** Refuses to start when `local` exists and may not be replaced. */
export async function checkDestination(local: string, overwrite: boolean): Promise<void> {
  if (overwrite) return;
  if (lstatSync(local, { throwIfNoEntry: false })) {
    throw new SockitError(ErrorCode.EXISTS, `${local} exists (download with overwrite to replace it)`);
  }
}

/** No part: a download from the start. */
export const NO_PART: KeptPart = Object.freeze({ offset: 0, prefix: undefined, hash: undefined });

/** The part an earlier attempt left at `partPath`, if any (a link there is not followed). */
export async function keptPart(partPath: string): Promise<KeptPart> {
  // Usually there is none: found out without the thread pool, and without an exception (a
  // failed open throws one, whose stack trace cost a folder of small files' download ~10%).
  // A link is no part (the open below does not follow one either).
  if (!lstatSync(partPath, { throwIfNoEntry: false })?.isFile()) return NO_PART;
  const handle = await open(partPath, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
  if (!handle) return NO_PART;
  try {
    const offset = (await handle.stat()).size;
    const hash = await hashPrefix(handle, offset);
    return { offset, hash, prefix: hash && offset > 0 ? peekHex(hash) : undefined };
  } finally {
    await handle.close();
  }
}

/**
 * Checks the server's `{size, from}` against what was offered, before anything is written:
 * `from` is 0 (start again) or exactly the offered part's length, and `size` is within the
 * limit and the free space of the destination's file system.
 */
export async function checkStart(
  start: { size: number; from: number },
  offered: number,
  local: string,
  maxFileSize: number | undefined,
): Promise<void> {
  if ((start.from !== 0 && start.from !== offered) || start.from > start.size) {
    throw new SockitError(
      ErrorCode.BAD_REQUEST,
      `the server resumes at byte ${start.from} of ${start.size}, but ${offered} were offered`,
    );
  }
  if (maxFileSize !== undefined && start.size > maxFileSize) {
    throw new SockitError(
      ErrorCode.FILE_TOO_LARGE,
      `the server announces ${start.size} bytes, above the limit of ${maxFileSize}`,
    );
  }
  let fs: { bavail: number; bsize: number } | undefined;
  try {
    fs = statfsSync(path.dirname(path.resolve(local)));
  } catch {
    fs = undefined;
  }
  if (fs && start.size - start.from > fs.bavail * fs.bsize) {
    throw new SockitError(
      ErrorCode.FILE_TOO_LARGE,
      `the server announces ${start.size} bytes; ${fs.bavail * fs.bsize} are free on the destination's disk`,
    );
  }
}

/** Opens the part for writing from `from` on, cut to exactly `from` bytes; links are not followed. */
export async function openPart(partPath: string, from: number): Promise<SinkFile> {
  const flags =
    from > 0
      ? constants.O_RDWR | constants.O_NOFOLLOW
      : constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
  let fd: number;
  try {
    fd = openSync(partPath, flags, 0o666);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOOP') throw err;
    throw new SockitError(
      ErrorCode.PATH_DENIED,
      `${partPath} is a symbolic link: a download is never written through one; remove it`,
    );
  }
  try {
    if (from > 0) ftruncateSync(fd, from);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return descriptorFile(fd);
}

/**
 * Gives the verified part its real name. Without `overwrite`, `link` fails if the name
 * exists, so a file that appeared meanwhile is not replaced either; where the file system has
 * no hard links, a check and a rename do.
 */
export async function placePart(partPath: string, local: string, overwrite: boolean): Promise<void> {
  if (overwrite) {
    renameSync(partPath, local);
    return;
  }
  try {
    linkSync(partPath, local);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      removeQuietly(partPath);
      throw new SockitError(
        ErrorCode.EXISTS,
        `${local} appeared meanwhile; download with overwrite to replace it`,
      );
    }
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK') throw err;
    await checkDestination(local, false);
    renameSync(partPath, local);
    return;
  }
  unlinkSync(partPath);
}

/** Removes a part that is of no more use; a failure to is not the caller's concern. */
export function removeQuietly(partPath: string): void {
  try {
    unlinkSync(partPath);
  } catch {
    // gone already, or not ours to remove
  }
}

/** One step of a folder download: a folder to make or a file to fetch, at a local path. */
export interface TreeStep {
  entry: Entry;
  /** The path relative to the requested folder, as the server listed it. */
  listed: string;
  /** Where it goes: always strictly inside the chosen local folder. */
  local: string;
}

/**
 * Turns a server's recursive listing into local steps under `base`, refusing with
 * `ERR_BAD_REQUEST` any listing that could write elsewhere or twice: an unsafe name, a path
 * that does not lie strictly inside `base`, a path listed twice (a file and a folder of one
 * name included), or an entry whose folder was not listed as a folder before it (a file
 * cannot be a folder, and nothing is made that the listing did not announce).
 *
 * @example
 * ```ts
 * planTree('photos', [{ path: 'a', type: 'dir', size: 0, mtime: 0 }, { path: 'a/b.jpg', type: 'file', size: 3, mtime: 0 }]);
 * // [{ listed: 'a', local: 'photos/a', ... }, { listed: 'a/b.jpg', local: 'photos/a/b.jpg', ... }]
 * ```
 */
export function planTree(base: string, entries: readonly Entry[]): TreeStep[] {
  const root = path.resolve(base);
  const folders = new Set<string>(['']);
  const seen = new Set<string>();
  const steps: TreeStep[] = [];
  const refuse = (listed: string, why: string): never => {
    throw new SockitError(
      ErrorCode.BAD_REQUEST,
      `the server listed ${JSON.stringify(listed)}: ${why}; refused`,
    );
  };
  for (const entry of entries) {
    const segments = checkRelativePath(entry.path);
    const listed = segments.join('/');
    if (seen.has(listed)) refuse(listed, 'listed twice');
    seen.add(listed);
    if (!folders.has(segments.slice(0, -1).join('/'))) refuse(listed, 'its folder was not listed before it');
    const local = path.join(base, ...segments);
    const inside = path.relative(root, path.resolve(local));
    if (inside === '' || inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside)) {
      refuse(listed, 'not inside the destination folder');
    }
    if (entry.type === 'dir') folders.add(listed);
    steps.push({ entry, listed, local });
  }
  // A file's part is written beside it: a listed name that is another's part would be
  // overwritten by it, after being counted as downloaded.
  for (const step of steps) {
    if (step.entry.type === 'file' && seen.has(`${step.listed}${PART_SUFFIX}`)) {
      refuse(
        `${step.listed}${PART_SUFFIX}`,
        `it is where ${JSON.stringify(step.listed)} is written while it downloads`,
      );
    }
  }
  return steps;
}

/**
 * Makes the folder `local` of a folder download: new (true), or already a real folder
 * (false). A link or a file there is refused (`ERR_PATH_DENIED`): the download never writes
 * through a link.
 */
export async function makeLocalFolder(local: string): Promise<boolean> {
  try {
    await mkdir(local, { mode: 0o777 });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const info = await lstat(local);
    if (!info.isDirectory()) {
      throw new SockitError(
        ErrorCode.PATH_DENIED,
        `${local} exists and is not a folder (a link is not followed)`,
      );
    }
    return false;
  }
}
