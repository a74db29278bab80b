/**
 * An upload on the server. The request is checked before any byte comes (size limit, the
 * folder exists, no silent replacement, one writer per path, the quota); the bytes go to a
 * part outside the home, hashed as they arrive, and only a part whose SHA-256 matches the
 * client's gets the real name, in one link or rename. A cut connection keeps its part, and
 * the next upload of the same path and size may continue from it.
 */
import { createHash, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import { EAGER_PUT_MAX } from './protocol.js';
import {
  asRefusal,
  type EagerBatch,
  fatal,
  isFatal,
  type LandingTurn,
  type Req,
  type RequestIo,
  startTransfer,
} from './session-io.js';
import type { PartInfo, UploadTarget, UserFiles } from './storage.js';
import { descriptorFile, FileSink, hashPrefix, peekHex, receiveRange } from './transfer.js';
import { checkQuota, countsSettled, type QuotaShared, recordUsage } from './usage.js';

/** What every upload of one server shares. */
export interface UploadShared extends QuotaShared {
  /** Uploads in progress, as "user/path": one writer per part. */
  busy: Set<string>;
  limits: {
    /** Largest file, in bytes. */
    maxFileSize: number;
  };
}

/**
 * Answers one `put` request on `io`, and the `put-from` and `put-end` that follow it.
 *
 * An eager put given a `turn` lets the connection read on once its bytes are in (see
 * LandingTurn): its sync, a round trip through the thread pool, then overlaps the next
 * file's check and bytes instead of leaving the connection idle for each small file.
 *
 * @example
 * ```ts
 * await servePut(io, shared, files, { op: 'put', path: 'a.bin', size: 5 });
 * ```
 */
export async function servePut(
  io: RequestIo,
  shared: UploadShared,
  files: UserFiles,
  request: Req<'put'>,
  turn?: LandingTurn,
): Promise<void> {
  if (!request.eager) return checkAndReceive(io, shared, files, request);
  if (request.size > EAGER_PUT_MAX) {
    throw fatal(
      new SockitError(ErrorCode.BAD_REQUEST, `an eager put carries at most ${EAGER_PUT_MAX} bytes`),
    );
  }
  if (!request.chained) io.batch = { next: 0, firstRefused: Number.POSITIVE_INFINITY };
  const { batch } = io;
  const step: EagerStep = {
    started: false,
    receiving: false,
    batch,
    index: batch.next++,
    turn,
  };
  try {
    if (batch.firstRefused < step.index) throw batchRefused(request.path);
    await checkAndReceive(io, shared, files, request, step);
  } catch (err) {
    batch.firstRefused = Math.min(batch.firstRefused, step.index);
    // Refused before its bytes were read: they are on their way all the same.
    if (!step.receiving && !isFatal(err)) await discardEager(io, request.size, step);
    // Refused at its check while an earlier file of the batch was landing: if that one is
    // refused too, this one is what follows a refusal, as one at a time it would have been.
    if (turn && !turn.landing && !isFatal(err)) {
      await turn.previous;
      if (batch.firstRefused < step.index) throw batchRefused(request.path);
    }
    throw err;
  }
}

function batchRefused(path: string): SockitError {
  return new SockitError(ErrorCode.ABORTED, `"${path}" not stored: an earlier file of the batch was refused`);
}

/** Reads (and drops) an eager upload that was refused: its put-from, its bytes, its put-end. */
async function discardEager(io: RequestIo, size: number, step: EagerStep): Promise<void> {
  if (!step.started) {
    const start = await io.expect('put-from');
    if (start.offset !== 0) throw fatal(new SockitError(ErrorCode.BAD_REQUEST, 'an eager put starts at 0'));
  }
  await io.channel.receiveRun(
    size,
    () => true,
    async () => {},
  );
  await io.expect('put-end');
}

/**
 * How far an eager upload's reading went: its put-from read, its bytes being taken (from
 * then on it ends as any upload does); the batch it belongs to, and its turn, if any.
 */
interface EagerStep {
  started: boolean;
  receiving: boolean;
  batch: EagerBatch;
  /** This put's number in its batch. */
  index: number;
  turn: LandingTurn | undefined;
}

async function checkAndReceive(
  io: RequestIo,
  shared: UploadShared,
  files: UserFiles,
  request: Req<'put'>,
  eager?: EagerStep,
): Promise<void> {
  const { maxFileSize } = shared.limits;
  if (request.size > maxFileSize) {
    throw new SockitError(
      ErrorCode.FILE_TOO_LARGE,
      `${request.size} bytes is over the limit of ${maxFileSize}`,
    );
  }
  const key = `${files.user}/${files.display(request.path)}`;
  // An earlier file of this connection still landing at this name is let land first, so
  // that this one is checked against it as if they came one after the other.
  if (eager?.turn && shared.busy.has(key)) await eager.turn.previous;
  // Refuses the home itself ('.': not a file) and a link at the name or on the way.
  const target = await files.target(request.path);
  // The folder stays open until the part is placed in it (or the upload ends otherwise).
  try {
    const existing = target.entry;
    if (existing?.isDirectory()) throw new SockitError(ErrorCode.EXISTS, `"${request.path}" is a folder`);
    // Refused now, not after the whole file has come.
    if (!target.dir) {
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
    if (shared.busy.has(key)) {
      throw new SockitError(ErrorCode.FORBIDDEN, `"${request.path}" is being uploaded by another connection`);
    }
    shared.busy.add(key);
    // Reserved before anything is awaited, so that a parallel upload's quota check sees it.
    const { reserved } = shared;
    reserved.set(files.user, (reserved.get(files.user) ?? 0) + request.size);
    try {
      await receiveUpload(io, shared, files, request, target, eager);
    } finally {
      shared.busy.delete(key);
      const left = (reserved.get(files.user) ?? 0) - request.size;
      if (left > 0) reserved.set(files.user, left);
      else reserved.delete(files.user);
    }
  } finally {
    await target.dir?.close();
  }
}

async function receiveUpload(
  io: RequestIo,
  shared: UploadShared,
  files: UserFiles,
  request: Req<'put'>,
  target: UploadTarget,
  eager: EagerStep | undefined,
): Promise<void> {
  const replaced = target.entry?.size ?? 0;
  const part = files.partFor(request.path);
  // An eager upload starts at 0: a kept part is not looked at.
  const prefix = eager ? undefined : await keptPrefix(io, files, part, request);
  const offset = prefix?.length ?? 0;
  const partBytes = await files.partSize(part);
  const plan = { size: request.size, replaced, partBytes };
  // An eager put's check may wait for a walk counting the usage: said so, if asked (a
  // put's own check is within its `aloud`).
  const counted = (): Promise<boolean> =>
    io.waiting(eager !== undefined && request.progress === true, 'counting', () =>
      checkQuota(shared, files, plan),
    );
  let tracked: boolean;
  try {
    tracked = await counted();
  } catch (err) {
    // Earlier files of the connection still landing may make room (an overwrite with fewer
    // bytes): checked again once they have landed, as one at a time.
    if (!eager?.turn || !isSockitError(err, ErrorCode.QUOTA_EXCEEDED)) throw err;
    await eager.turn.previous;
    tracked = await counted();
  }
  if (!eager) io.ok({ offset, prefixSha256: prefix ? peekHex(prefix.hash) : undefined });

  const start = await io.expect('put-from');
  if (eager) eager.started = true;
  if (start.offset !== 0 && start.offset !== offset) {
    throw fatal(new SockitError(ErrorCode.BAD_REQUEST, 'put-from must start at 0 or at the offered offset'));
  }
  const from = start.offset;
  const began = Date.now();
  // From here on the disk changes: whatever happens, the stored usage moves by what did.
  let placed: Placed | undefined;
  try {
    placed = await writeUpload(
      io,
      shared,
      files,
      part,
      target,
      request,
      from,
      from === 0 ? undefined : prefix?.hash,
      eager,
    );
    // An eager upload describes no part: a description is left only by an earlier upload's part.
    if (!eager || partBytes > 0) await files.dropMeta(part);
  } finally {
    // An eager upload is never resumed: what a failed one left is of no use.
    if (eager && !placed) await files.dropPart(part);
    // A placed part was renamed or linked and unlinked: none is left (one stat less a file).
    const partNow = placed ? 0 : await files.partSize(part);
    // The file replaced is the one there when the upload landed, not when it was checked.
    const delta = partNow - partBytes + (placed ? request.size - placed.replaced : 0);
    if (tracked) await recordUsage(shared.store, files.user, delta, io.log);
  }
  const digest = placed.digest;
  io.log.info(
    {
      user: files.user,
      path: files.display(request.path),
      bytes: request.size,
      resumedFrom: from,
      ms: Date.now() - began,
      replaced: placed.replaced > 0,
    },
    'uploaded',
  );
  io.ok({ sha256: digest, size: request.size });
}

/** The hash of the bytes a kept part already holds for this upload, when they can be reused. */
async function keptPrefix(
  io: RequestIo,
  files: UserFiles,
  part: PartInfo,
  request: Req<'put'>,
): Promise<{ hash: Hash; length: number } | undefined> {
  if (!(await files.partMatches(part, request.path, request.size))) return undefined;
  const handle = await files.openPart(part, constants.O_RDONLY).catch(() => undefined);
  if (!handle) return undefined;
  try {
    const length = Math.min((await handle.stat()).size, request.size);
    io.aloud(() => ({ busy: 'hashing' }));
    const hash = await hashPrefix(handle, length);
    io.aloud(() => ({ busy: 'checking' }));
    return hash ? { hash, length } : undefined;
  } finally {
    await handle.close();
  }
}

/** What landed: the file's SHA-256, and the bytes of the file it replaced. */
interface Placed {
  digest: string;
  replaced: number;
}

/**
 * Receives the bytes from `prefix`'s end (or from 0 without one) into the part, checks
 * their SHA-256 and gives the part its name. Resolves to what landed once the file is placed.
 */

async function writeUpload(
  io: RequestIo,
  shared: UploadShared,
  files: UserFiles,
  part: PartInfo,
  target: UploadTarget,
  request: Req<'put'>,
  from: number,
  prefix: Hash | undefined,
  eager: EagerStep | undefined,
): Promise<Placed> {
  // What a resume would look for; an eager upload is never resumed.
  if (from === 0 && !eager) await files.describePart(part, request.path, request.size);
  const hash = prefix ?? createHash('sha256');
  const end = startTransfer('in', request.size - from);
  let received = 0;
  try {
    const flags = from === 0 ? constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC : constants.O_RDWR;
    const sink = new FileSink(descriptorFile(await files.openPartFd(part, flags)), from, request.size - from);
    if (eager) eager.receiving = true;
    let last: Req<'put-end'>;
    try {
      await receiveRange(io.channel, sink, request.size - from, hash, (n) => {
        received = n;
      });
      last = await io.expect('put-end');
      // Syncing a large file, or waiting out a count of the usage, may take a while.
      if (!eager) io.aloud(() => ({ busy: 'storing' }));
    } catch (err) {
      // Keep what arrived, even from a cut connection: it is what a resume starts from.
      await sink.abandon().catch(() => undefined);
      // The rest of the bytes (or the put-end) were not read: the stream is out of step.
      throw isSockitError(err)
        ? fatal(err)
        : fatal(asRefusal(err) ?? new SockitError(ErrorCode.IO, (err as Error).message, { cause: err }));
    }
    // Synced before it gets its name: once named, the bytes are on disk. The put-end was
    // read first, so that a failure here leaves the connection in step.
    if (eager?.turn) {
      const finishing = sink.finish();
      finishing.catch(() => undefined); // awaited below, after the earlier requests
      eager.turn.readOn();
      await eager.turn.previous;
      // An earlier file of the batch, still landing when this one came, was refused.
      if (eager.batch.firstRefused < eager.index) {
        await finishing.catch(() => undefined);
        throw batchRefused(request.path);
      }
      await finishing;
    } else {
      await sink.finish();
    }
    const digest = hash.digest('hex');
    if (digest !== last.sha256) {
      await files.dropPart(part);
      throw new SockitError(
        ErrorCode.INTEGRITY,
        'the received bytes do not match their SHA-256; nothing was stored',
      );
    }
    // Not while the user's usage is being counted by a walk, which could miss it.
    await io.waiting(eager !== undefined && request.progress === true, 'counting', () =>
      countsSettled(shared, files.user),
    );
    const replaced = await files.place(part, target, request.overwrite ?? false);
    end(received);
    return { digest, replaced };
  } catch (err) {
    end(received, err);
    throw err;
  }
}
