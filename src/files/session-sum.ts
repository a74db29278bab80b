/**
 * A `sum` on the server: the entry at a path and, for a file of exactly the size the client
 * names, its SHA-256. The file is opened once through the confined root (never through a
 * link), its size compared before a byte is read, files above the server's file size limit
 * are not hashed, and the hashing itself goes through `FileSums` (a bounded number at once,
 * one per user, kept per file version). While the sum waits or runs, `{hashed}` goes out
 * about once a second: neither the client's stall timer nor the server's idle timer should
 * take a long sum for a dead connection.
 */
import type { BigIntStats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { ErrorCode, SockitError } from '../errors.js';
import type { Entry } from './protocol.js';
import { closeSignal, type Req, type RequestIo } from './session-io.js';
import type { UserFiles } from './storage.js';
import type { FileSums } from './sums.js';

/** What every sum of one server shares. */
export interface SumShared {
  sums: FileSums;
  limits: {
    /** Largest file, in bytes: larger ones (put there by hand) are not hashed. */
    maxFileSize: number;
  };
}

/**
 * Answers one `sum` request on `io`.
 *
 * @example
 * ```ts
 * await serveSum(io, shared, files, { op: 'sum', path: 'photos/a.jpg', size: 52_311 });
 * ```
 */
export async function serveSum(
  io: RequestIo,
  shared: SumShared,
  files: UserFiles,
  request: Req<'sum'>,
): Promise<void> {
  const handle = await files.openRead(request.path);
  try {
    const info = await handle.stat({ bigint: true });
    if (!info.isFile() && !info.isDirectory()) {
      throw new SockitError(ErrorCode.INVALID_ARGUMENT, `"${request.path}" is neither a file nor a folder`);
    }
    const entry: Entry = {
      path: files.display(request.path),
      type: info.isDirectory() ? 'dir' : 'file',
      size: info.isDirectory() ? 0 : Number(info.size),
      mtime: Math.round(Number(info.mtimeNs) / 1e6),
    };
    if (entry.type !== 'file' || entry.size !== request.size || entry.size > shared.limits.maxFileSize) {
      io.ok({ entry });
      return;
    }
    const began = Date.now();
    const sha256 = await sumAloud(io, shared.sums, files.user, handle, info);
    io.log.debug({ user: files.user, path: entry.path, bytes: entry.size, ms: Date.now() - began }, 'summed');
    io.ok(sha256 === undefined ? { entry } : { entry, sha256 });
  } finally {
    await handle.close();
  }
}

/** The sum, with `{hashed}` sent about once a second meanwhile (until the answer); stops when the connection closes. */
async function sumAloud(
  io: RequestIo,
  sums: FileSums,
  user: string,
  handle: FileHandle,
  info: BigIntStats,
): Promise<string | undefined> {
  const closed = closeSignal(io.channel.socket);
  let hashed = 0;
  io.aloud(() => ({ hashed }));
  try {
    return await sums.sha256(user, handle, info, {
      signal: closed.signal,
      progress: (n) => {
        hashed = n;
      },
    });
  } catch (err) {
    if (!closed.signal.aborted) throw err;
    throw new SockitError(ErrorCode.CONNECTION_CLOSED, 'the connection closed during a sum', { cause: err });
  } finally {
    closed.release();
  }
}
