/**
 * A download on the server: the file is opened once (never through a link), its size and
 * modification time announced, and the bytes sent as one raw run with their SHA-256 after.
 * A client that offers the first bytes it already has (their length and hash) gets only the
 * rest, when its hash matches the server's first bytes.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { ErrorCode, SockitError } from '../errors.js';
import { type Req, type RequestIo, startTransfer } from './session-io.js';
import type { UserFiles } from './storage.js';
import { hashPrefix, peekHex, sendRange } from './transfer.js';

/**
 * Answers one `get` request on `io`.
 *
 * @example
 * ```ts
 * await serveGet(io, files, { op: 'get', path: 'docs/report.pdf' });
 * ```
 */
export async function serveGet(io: RequestIo, files: UserFiles, request: Req<'get'>): Promise<void> {
  const handle: FileHandle = await files.openRead(request.path);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new SockitError(ErrorCode.INVALID_ARGUMENT, `"${request.path}" is not a file`);
    const size = info.size;
    let from = 0;
    let hash = createHash('sha256');
    const offset = request.offset ?? 0;
    if (offset > 0 && offset <= size && request.prefixSha256) {
      const prefix = await hashPrefix(handle, offset);
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
