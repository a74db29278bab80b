/**
 * An upload on the server. The request is checked before any byte comes (size limit, the
 * folder exists, no silent replacement, one writer per path, the quota); the bytes go to a
 * part outside the home, hashed as they arrive, and only a part whose SHA-256 matches the
 * client's gets the real name, in one link or rename. A cut connection keeps its part, and
 * the next upload of the same path and size may continue from it.
 */
import { createHash, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { ErrorCode, SockitError } from '../errors.js';
import { fatal, type Req, type RequestIo, startTransfer } from './session-io.js';
import type { UserFiles } from './storage.js';
import { FileSink, hashPrefix, peekHex, receiveRange } from './transfer.js';

/** What every upload of one server shares. */
export interface UploadShared {
  /** Uploads in progress, as "user/path": one writer per part. */
  busy: Set<string>;
  /** Bytes of uploads under way, per user: counted against the quota until they land. */
  reserved: Map<string, number>;
  limits: {
    /** Largest file, in bytes. */
    maxFileSize: number;
  };
}

/**
 * Answers one `put` request on `io`, and the `put-from` and `put-end` that follow it.
 *
 * @example
 * ```ts
 * await servePut(io, shared, files, { op: 'put', path: 'a.bin', size: 5 }, quota);
 * ```
 */
export async function servePut(
  io: RequestIo,
  shared: UploadShared,
  files: UserFiles,
  request: Req<'put'>,
  quota: number,
): Promise<void> {
  const { maxFileSize } = shared.limits;
  if (request.size > maxFileSize) {
    throw new SockitError(
      ErrorCode.FILE_TOO_LARGE,
      `${request.size} bytes is over the limit of ${maxFileSize}`,
    );
  }
  if (files.display(request.path) === '.')
    throw new SockitError(ErrorCode.EXISTS, 'the home folder is not a file');
  const existing = await files.entry(request.path);
  if (existing?.isDirectory()) throw new SockitError(ErrorCode.EXISTS, `"${request.path}" is a folder`);
  // Refused now, not after the whole file has come.
  if (!(await files.folderExists(request.path))) {
    throw new SockitError(
      ErrorCode.NOT_FOUND,
      `the folder of "${request.path}" does not exist (make it first)`,
    );
  }
  if (existing && !request.overwrite) {
    throw new SockitError(
      ErrorCode.EXISTS,
      `"${request.path}" already exists (upload with overwrite to replace it)`,
    );
  }
  const key = `${files.user}/${files.display(request.path)}`;
  if (shared.busy.has(key)) {
    throw new SockitError(ErrorCode.FORBIDDEN, `"${request.path}" is being uploaded by another connection`);
  }
  shared.busy.add(key);
  // Reserved before anything is awaited, so that a parallel upload's quota check sees it.
  const { reserved } = shared;
  reserved.set(files.user, (reserved.get(files.user) ?? 0) + request.size);
  try {
    await receiveUpload(io, shared, files, request, existing?.size ?? 0, quota);
  } finally {
    shared.busy.delete(key);
    const left = (reserved.get(files.user) ?? 0) - request.size;
    if (left > 0) reserved.set(files.user, left);
    else reserved.delete(files.user);
  }
}

async function receiveUpload(
  io: RequestIo,
  shared: UploadShared,
  files: UserFiles,
  request: Req<'put'>,
  replaced: number,
  quota: number,
): Promise<void> {
  const part = files.partFor(request.path);
  let offset = 0;
  let prefix: Hash | undefined;
  if (await files.partMatches(part, request.path, request.size)) {
    const handle = await files.openPart(part, constants.O_RDONLY).catch(() => undefined);
    if (handle) {
      try {
        const length = Math.min((await handle.stat()).size, request.size);
        prefix = await hashPrefix(handle, length);
        if (prefix) offset = length;
      } finally {
        await handle.close();
      }
    }
  }
  if (quota > 0) {
    const partBytes = await files.partSize(part);
    // On disk now, minus what this upload replaces, plus every upload under way (this one too).
    const used = (await files.usage()) - replaced - partBytes;
    const underWay = shared.reserved.get(files.user) ?? request.size;
    if (used + underWay > quota) {
      throw new SockitError(
        ErrorCode.QUOTA_EXCEEDED,
        `${request.size} more bytes would exceed the quota (${used} of ${quota} used)`,
      );
    }
  }
  io.ok({ offset, prefixSha256: prefix ? peekHex(prefix) : undefined });

  const start = await io.expect('put-from');
  if (start.offset !== 0 && start.offset !== offset) {
    throw fatal(new SockitError(ErrorCode.BAD_REQUEST, 'put-from must start at 0 or at the offered offset'));
  }
  const from = start.offset;
  if (from === 0) await files.describePart(part, request.path, request.size);
  const hash = from === 0 ? createHash('sha256') : (prefix as Hash);
  const began = Date.now();
  const end = startTransfer('in', request.size - from);
  let received = 0;
  let digest = '';
  try {
    const flags = from === 0 ? constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC : constants.O_RDWR;
    const sink = new FileSink(await files.openPart(part, flags), from);
    try {
      await receiveRange(io.channel, sink, request.size - from, hash, (n) => {
        received = n;
      });
    } catch (err) {
      // Keep what arrived, even from a cut connection: it is what a resume starts from.
      await sink.abandon().catch(() => undefined);
      throw err;
    }
    // Synced before it gets its name: once named, the bytes are on disk.
    await sink.finish();
    const last = await io.expect('put-end');
    digest = hash.digest('hex');
    if (digest !== last.sha256) {
      await files.dropPart(part);
      throw new SockitError(
        ErrorCode.INTEGRITY,
        'the received bytes do not match their SHA-256; nothing was stored',
      );
    }
    await files.place(part, request.path, request.overwrite ?? false);
    await files.dropMeta(part);
  } catch (err) {
    end(received, err);
    throw err;
  }
  end(received);
  io.log.info(
    {
      user: files.user,
      path: files.display(request.path),
      bytes: request.size,
      resumedFrom: from,
      ms: Date.now() - began,
      replaced: replaced > 0,
    },
    'uploaded',
  );
  io.ok({ sha256: digest, size: request.size });
}
