/**
 * A download on the server: the file is opened once (never through a link), its size and
 * modification time announced, and the bytes sent as one raw run with their SHA-256 after.
 * A client that offers the first bytes it already has (their length and hash) gets only the
 * rest, when its hash matches the server's first bytes.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { ErrorCode, SockitError } from '../errors.js';
import { closeSignal, type Req, type RequestIo, startTransfer } from './session-io.js';
import type { UserFiles } from './storage.js';
import { hashPrefix, peekHex, readAtOnce, sendRange } from './transfer.js';

/** Files up to this size are read whole at once, on the event loop (a few microseconds from the page cache). */
export const SMALL_READ = 64 * 1024;

/**
 * Answers a `get` of a file of at most SMALL_READ bytes at once: opened, read and closed
 * without the thread pool (three round trips through it cost more than the reading). False,
 * with nothing sent, for a larger one.
 */
function serveSmall(io: RequestIo, files: UserFiles, request: Req<'get'>): boolean {
  const fd = files.openReadFd(request.path);
  let data: Buffer;
  let mtime: number;
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new SockitError(ErrorCode.INVALID_ARGUMENT, `"${request.path}" is not a file`);
    if (info.size > SMALL_READ) return false;
    // A file that shrank meanwhile is sent as it is now; its size is announced from what was read.
    data = readAtOnce(fd, info.size);
    mtime = Math.round(info.mtimeMs);
  } finally {
    closeSync(fd);
  }
  const began = Date.now();
  const offset = request.offset ?? 0;
  let from = 0;
  if (offset > 0 && offset <= data.length && request.prefixSha256) {
    const prefix = createHash('sha256').update(data.subarray(0, offset));
    if (peekHex(prefix) === request.prefixSha256) from = offset;
  }
  const end = startTransfer('out', data.length - from);
  io.ok({ size: data.length, from, mtime });
  if (data.length > from) io.channel.write(from === 0 ? data : data.subarray(from));
  io.ok({ sha256: createHash('sha256').update(data).digest('hex') });
  end(data.length - from);
  io.log.info(
    {
      user: files.user,
      path: files.display(request.path),
      bytes: data.length,
      resumedFrom: from,
      ms: Date.now() - began,
    },
    'downloaded',
  );
  return true;
}

/**
 * Answers one `get` request on `io`.
 *
 * @example
 * ```ts
 * await serveGet(io, files, { op: 'get', path: 'docs/report.pdf' });
 * ```
 */
export async function serveGet(io: RequestIo, files: UserFiles, request: Req<'get'>): Promise<void> {
  if (serveSmall(io, files, request)) return;
  const handle: FileHandle = await files.openRead(request.path);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new SockitError(ErrorCode.INVALID_ARGUMENT, `"${request.path}" is not a file`);
    const size = info.size;
    let from = 0;
    let hash = createHash('sha256');
    const offset = request.offset ?? 0;
    if (offset > 0 && offset <= size && request.prefixSha256) {
      // Not for a client that has gone meanwhile.
      const closed = closeSignal(io.channel.socket);
      const prefix = await hashPrefix(handle, offset, { signal: closed.signal }).finally(closed.release);
      if (prefix && peekHex(prefix) === request.prefixSha256) {
        from = offset;
        hash = prefix;
      }
    }
    io.ok({ size, from, mtime: Math.round(info.mtimeMs) });
    const began = Date.now();
    const end = startTransfer('out', size - from);
    let sent = from;
    try {
      await sendRange(io.channel, handle, from, size, hash, (position) => {
        sent = position;
      });
      io.ok({ sha256: hash.digest('hex') });
    } catch (err) {
      end(sent - from, err);
      throw err;
    }
    end(size - from);
    io.log.info(
      {
        user: files.user,
        path: files.display(request.path),
        bytes: size,
        resumedFrom: from,
        ms: Date.now() - began,
      },
      'downloaded',
    );
  } finally {
    await handle.close();
  }
}
