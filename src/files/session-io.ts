/**
 * What the parts of a file-service connection share: the request type of one op, the
 * narrow view of the connection that an upload or a download works through, and how an
 * error becomes the refusal the peer is sent (and whether the connection survives it).
 */
import type { Duplex } from 'node:stream';
import type { SockitError } from '../errors.js';
import { ErrorCode, SockitError as Refusal } from '../errors.js';
import type { Channel } from '../runtime/channel.js';
import { type Direction, events } from '../runtime/events.js';
import type { Logger } from '../runtime/log.js';
import type { Request } from './protocol.js';

export { PROGRESS_MS } from './protocol.js';

/** The request of one op. */
export type Req<K extends Request['op']> = Extract<Request, { op: K }>;

/** The connection as a transfer sees it: its channel, its log, and its next requests. */
export interface RequestIo {
  readonly channel: Channel;
  readonly log: Logger;
  /** Answers `{ok: true, ...fields}`. */
  ok(fields?: Record<string, unknown>): void;
  /**
   * Until the next answer, sends `message()` about once a second (PROGRESS_MS), when the
   * request being served asked to hear that it is being worked on (a sum always does; see
   * protocol.ts, Busy). A later call replaces the message. Never while a raw run is sent.
   */
  aloud(message: () => Record<string, unknown>): void;
  /**
   * Runs `work`, sending `{busy: what}` about once a second while it (or another such wait of
   * the connection) is pending, when `asked`: for an eager put waiting for a count of the
   * usage, whose answer may be behind others (`aloud` stops at the first answer). Used only
   * where no raw run goes out meanwhile: eager puts are never served beside a get.
   */
  waiting<T>(asked: boolean, what: string, work: () => Promise<T>): Promise<T>;
  /** The next request, which must be `op`; anything else ends the connection (ERR_BAD_REQUEST). */
  expect<K extends Request['op']>(op: K): Promise<Req<K>>;
  /**
   * This connection's batch of eager puts: which was refused first since the batch began. A
   * batch's first put replaces it with a new one; each put keeps the one it belongs to.
   */
  batch: EagerBatch;
}

/**
 * A batch of eager puts (see protocol.ts): stored only up to its first refusal. Its puts are
 * numbered in the order they came; a later one may be refused before an earlier one lands.
 */
export interface EagerBatch {
  /** The number the next put of the batch gets. */
  next: number;
  /** The number of the first put refused (Infinity: none yet). */
  firstRefused: number;
}

/**
 * An eager put's place among the connection's requests: once its bytes and its put-end are
 * read, `readOn` lets the connection read the next request while this one's sync runs; it is
 * named and answered only after `previous`, so that answers keep the requests' order.
 */
export interface LandingTurn {
  /** Whether `readOn` was called: the put's bytes are all read, and it is landing. */
  readonly landing: boolean;
  readOn(): void;
  /** Settles (never rejects) once every earlier request has been answered. */
  previous: Promise<void>;
}

/** Errors after which the connection closes (its refusal is still sent). */
const FATAL = new WeakSet<Error>();

/**
 * Marks `err` as ending the connection: after it the stream cannot be trusted to be in step.
 *
 * @example
 * ```ts
 * throw fatal(new SockitError(ErrorCode.BAD_REQUEST, 'expected put-end'));
 * ```
 */
export function fatal(err: SockitError): SockitError {
  FATAL.add(err);
  return err;
}

/** Whether `err` was marked by `fatal`. */
export function isFatal(err: unknown): boolean {
  return err instanceof Error && FATAL.has(err);
}

/** System errors a request can meet on the disk, as the refusals they mean. */
const ERRNO_REFUSALS: Record<string, [SockitError['code'], string]> = {
  ENOENT: [ErrorCode.NOT_FOUND, 'no such file or folder'],
  ENOTDIR: [ErrorCode.NOT_FOUND, 'a part of the path is a file, not a folder'],
  EEXIST: [ErrorCode.EXISTS, 'it already exists'],
  ENOTEMPTY: [ErrorCode.EXISTS, 'the folder is not empty'],
  EISDIR: [ErrorCode.EXISTS, 'it is a folder'],
  ELOOP: [ErrorCode.PATH_DENIED, 'symbolic links are not followed'],
  EACCES: [ErrorCode.FORBIDDEN, 'permission denied on the server'],
  EPERM: [ErrorCode.FORBIDDEN, 'permission denied on the server'],
  ENOSPC: [ErrorCode.QUOTA_EXCEEDED, 'the server is out of disk space'],
  EDQUOT: [ErrorCode.QUOTA_EXCEEDED, 'the disk quota of the server is exhausted'],
  ENAMETOOLONG: [ErrorCode.INVALID_ARGUMENT, 'name too long'],
  EMFILE: [ErrorCode.BUSY, 'the server has too many files open; try again shortly'],
  ENFILE: [ErrorCode.BUSY, 'the server has too many files open; try again shortly'],
  // The server's storage failing is the server's trouble, said as such, not a cut connection.
  EROFS: [ErrorCode.IO, "the server's storage is read-only"],
  EIO: [ErrorCode.IO, "the server's storage failed (input/output error)"],
  EFBIG: [ErrorCode.FILE_TOO_LARGE, "the file is too large for the server's storage"],
  ETXTBSY: [ErrorCode.BUSY, 'the file is in use on the server'],
  EBUSY: [ErrorCode.BUSY, 'the file or folder is in use on the server'],
  ESTALE: [ErrorCode.IO, "the server's storage changed under it (stale handle); try again"],
};

/**
 * A refusal to send for `err`, or undefined for an error that is a bug.
 *
 * @example
 * ```ts
 * const refusal = asRefusal(err); // ENOENT -> SockitError ERR_NOT_FOUND
 * ```
 */
export function asRefusal(err: unknown): SockitError | undefined {
  if (err instanceof Refusal) return err;
  const known = ERRNO_REFUSALS[(err as NodeJS.ErrnoException)?.code ?? ''];
  return known ? new Refusal(known[0], known[1]) : undefined;
}

/**
 * Publishes the start of a transfer of `size` bytes now; the function returned publishes its
 * end, with the bytes that crossed the wire and, on failure, the error's code.
 *
 * @example
 * ```ts
 * const end = startTransfer('out', size);
 * try { await send(); end(size); } catch (err) { end(sent, err); throw err; }
 * ```
 */
export function startTransfer(direction: Direction, size: number): (bytes: number, err?: unknown) => void {
  const began = performance.now();
  events.transferStart.publish({ service: 'files', direction, size });
  return (bytes, err) => {
    const code = err === undefined ? undefined : ((err as { code?: unknown }).code ?? ErrorCode.INTERNAL);
    events.transferEnd.publish({
      service: 'files',
      direction,
      bytes,
      ok: err === undefined,
      durationMs: performance.now() - began,
      ...(code === undefined ? {} : { code: String(code) }),
    });
  };
}

/**
 * A signal that aborts when the connection closes (at once when it has), for work a gone
 * client must not wait for; `release` stops listening.
 *
 * @example
 * ```ts
 * const closed = closeSignal(io.channel.socket);
 * try { await hashPrefix(handle, offset, { signal: closed.signal }); } finally { closed.release(); }
 * ```
 */
export function closeSignal(socket: Duplex): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  const gone = (): void => controller.abort();
  socket.once('close', gone);
  if (socket.destroyed) gone();
  return { signal: controller.signal, release: () => socket.off('close', gone) };
}
