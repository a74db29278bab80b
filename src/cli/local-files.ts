/**
 * Local files as a command meets them: the system's errors on them (`ENOENT: no such file or
 * directory, stat 'x'`) turned into one coded line that says what to do, and the checks a
 * command makes before it starts (a source to read, a folder to write into).
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, SockitError } from '../errors.js';

/** What each system error on a local path means, and what to do about it. */
const LOCAL_ERRORS: Record<string, [ErrorCode, string]> = {
  ENOENT: [ErrorCode.NOT_FOUND, 'no such file or folder; check the path'],
  ENOTDIR: [ErrorCode.NOT_FOUND, 'a part of the path is not a folder; check the path'],
  EACCES: [ErrorCode.PATH_DENIED, 'permission denied; check its permissions (ls -l) or use another path'],
  EPERM: [
    ErrorCode.PATH_DENIED,
    'operation not permitted; check its permissions (ls -l) or use another path',
  ],
  EROFS: [ErrorCode.PATH_DENIED, 'read-only file system; use a path on a writable one'],
  EEXIST: [ErrorCode.EXISTS, 'exists already; remove it or use another path'],
  EISDIR: [ErrorCode.INVALID_ARGUMENT, 'is a folder, not a file; name a file'],
  ELOOP: [ErrorCode.INVALID_ARGUMENT, 'too many symbolic links; name the file itself'],
  ENAMETOOLONG: [ErrorCode.INVALID_ARGUMENT, 'the name is too long; use a shorter one'],
  ENOSPC: [ErrorCode.IO, 'no space left on the device; free some or use another disk'],
  EDQUOT: [ErrorCode.IO, 'the disk quota is exhausted; free some space or use another disk'],
  EMFILE: [ErrorCode.IO, 'too many open files; raise the limit (ulimit -n) or close some'],
  EIO: [ErrorCode.IO, 'input/output error; check the disk'],
};

/**
 * `err` as a coded SockitError when it is a system error on a local file (it names a path),
 * prefixed with `what` (e.g. `--tls-ca ca.pem`, else the path); anything else unchanged.
 *
 * @example
 * ```ts
 * await stat('nope').catch((err) => { throw localFileError(err); });
 * // SockitError ERR_NOT_FOUND: "nope: no such file or folder; check the path"
 * ```
 */
export function localFileError(err: unknown, what?: string): unknown {
  const sys = err as NodeJS.ErrnoException | undefined;
  if (!sys || typeof sys.code !== 'string' || typeof sys.path !== 'string' || err instanceof SockitError)
    return err;
  const known = LOCAL_ERRORS[sys.code];
  const where = what ?? sys.path;
  const [code, words] = known ?? [ErrorCode.IO, `${sys.code}; check the file`];
  return new SockitError(code, `${where}: ${words}`, { cause: err });
}

/** Runs `work`, giving a local file error a code (see `localFileError`). */
export async function onLocalFile<T>(work: () => Promise<T>, what?: string): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw localFileError(err, what);
  }
}

/**
 * Checks that `local` can be read before anything is sent: a file or a folder (whose names
 * can be listed), readable by this process.
 */
export async function checkReadable(local: string): Promise<void> {
  await onLocalFile(async () => {
    const info = await stat(local);
    if (!info.isFile() && !info.isDirectory()) {
      throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${local} is neither a file nor a folder`);
    }
    await access(local, info.isDirectory() ? constants.R_OK | constants.X_OK : constants.R_OK);
  });
}

/**
 * Checks that files can be made in the folder `dir` before a transfer starts: it exists, is a
 * folder, and this process may write there (`ERR_NOT_FOUND`, `ERR_PATH_DENIED`).
 */
export async function checkWritableFolder(dir: string): Promise<void> {
  await onLocalFile(async () => {
    const info = await stat(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      throw new SockitError(
        ErrorCode.NOT_FOUND,
        `the folder ${dir} does not exist; make it first (mkdir -p ${JSON.stringify(dir)}) or choose another`,
      );
    });
    if (!info.isDirectory())
      throw new SockitError(ErrorCode.NOT_FOUND, `${dir} is not a folder; choose a folder`);
    await access(dir, constants.W_OK | constants.X_OK).catch((err: NodeJS.ErrnoException) => {
      throw new SockitError(
        ErrorCode.PATH_DENIED,
        `cannot write into ${dir} (${err.code === 'EROFS' ? 'a read-only file system' : 'permission denied'}); choose another folder`,
        { cause: err },
      );
    });
  });
}

/** The folder a new file or folder `local` would be made in, as the user wrote it. */
export function folderOf(local: string): string {
  return path.dirname(local);
}
