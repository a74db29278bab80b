/**
 * The file service's messages. Every message is an envelope (`wire/envelope`): a JSON header
 * with an `op` (requests) or `ok` (answers). File bytes travel as raw runs whose length was
 * announced in the message before them, so bulk data is never framed or copied.
 *
 *   server: hello {mechanisms, register}
 *   client: auth SCRAM-SHA-256 (RFC 5802/7677) or SECRET, or register, then requests:
 *   list | stat | mkdir | rm                                  -> one answer
 *   put {path, size} -> {offset, prefixSha256} -> put-from {offset} + raw bytes + put-end {sha256}
 *                                                        -> {sha256}
 *   put {path, size, eager} + put-from {0} + raw bytes + put-end {sha256} -> {sha256}  (version 3 on)
 *   get {path, offset, prefixSha256} -> {size, from} + raw bytes + {sha256}
 *   sum {path, size} -> {hashed}... -> {entry, sha256?}              (version 2 on)
 *
 * Resume: a put answer offers the length of the part the server already holds and the
 * SHA-256 of it; the client sends from there only if its own first bytes hash the same.
 * A get names the length and hash of the client's part; the server restarts at 0 when they
 * do not match its file.
 *
 * Eager put: for a file of at most EAGER_PUT_MAX bytes, the client sends the whole upload at
 * once, without waiting for an offer (none comes: a small file is not resumed), and may send
 * the next requests before the answer: a folder of small files goes at the pace of the link,
 * not of one round trip per file. The server reads the whole upload before it answers, even
 * when it refuses it, so that the stream stays in step; answers come in the order of the
 * requests. A `chained` eager put is stored only if no eager put was refused since the last
 * eager put without `chained` (the first of a batch): a batch stops at its first refusal,
 * as uploads one by one do, and the rest is refused with ERR_ABORTED (read and dropped).
 *
 * Sum: the entry at a path and, only when it is a file of exactly the `size` the client
 * gives (no larger than the server's file size limit), its SHA-256, so that a transfer can
 * skip a file both sides already hold. While the server waits for its turn or hashes, it
 * sends `{hashed}` about once a second, so that neither side takes the silence for a stall.
 *
 * Busy: a list, rm, get or (not eager) put that says `progress: true` is told `{busy: what}`
 * about once a second while the server works on it before an answer: hashing the prefix a
 * resume names, counting the user's usage, removing or listing a large tree, syncing an
 * upload; and an eager put that says so, while it waits for a count of the usage. Never
 * within a raw run. A client that does not ask hears nothing of it (a server that does not
 * know the flag ignores it, as it does any field it does not know).
 *
 * The other way, a client at work on its own while the server waits for it (hashing a kept
 * part before it asks to resume, hashing a file for --skip-identical, syncing a download)
 * sends `busy` requests about once a second to a server of version 4 or later: they are
 * not answered, and keep the server's idle timer from taking the wait for a dead client.
 */
import { AuthFinal, AuthRequest, authData, RegisterRequest } from '../auth/login-transport.js';
import * as z from '../runtime/schema.js';

/**
 * 2 added `sum`, 3 eager puts, 4 `{busy}` answers (see Busy); a client checks the greeting's
 * version before it uses them.
 */
export const FILES_PROTOCOL_VERSION = 4;
/** The first version with `sum`. */
export const SUM_VERSION = 2;
/** The first version with eager puts. */
export const EAGER_PUT_VERSION = 3;
/** The first version that says it is busy when asked: a client may take its silence for a stall. */
export const BUSY_VERSION = 4;
/** Largest file an eager put may carry. */
export const EAGER_PUT_MAX = 1024 * 1024;
export { FILES_PORT } from './port.js';
/**
 * How often a side at work before its next message says so (`{busy}` answers, `busy`
 * requests: see Busy), in ms.
 */
export const PROGRESS_MS = 1000;
/** Largest path a request may carry, in bytes of UTF-8. */
export const MAX_PATH_LENGTH = 4096;

/** At most MAX_PATH_LENGTH bytes of UTF-8 (zod's lengths count UTF-16 units). */
const pathBytes = z.refine<string>(
  (s) => Buffer.byteLength(s) <= MAX_PATH_LENGTH,
  `at most ${MAX_PATH_LENGTH} bytes of UTF-8`,
);
const path = z.string().check(z.minLength(1), z.maxLength(MAX_PATH_LENGTH), pathBytes);
const size = z.int().check(z.minimum(0));
const sha256 = z.string().check(z.regex(/^[0-9a-f]{64}$/));
const flag = z.optional(z.boolean());

export const Request = z.discriminatedUnion('op', [
  AuthRequest,
  AuthFinal,
  RegisterRequest,
  z.object({
    op: z.literal('list'),
    path: z.optional(z.string().check(z.maxLength(MAX_PATH_LENGTH), pathBytes)),
    recursive: flag,
    progress: flag,
  }),
  z.object({ op: z.literal('stat'), path }),
  z.object({ op: z.literal('mkdir'), path, parents: flag }),
  z.object({ op: z.literal('rm'), path, recursive: flag, progress: flag }),
  z.object({
    op: z.literal('put'),
    path,
    size,
    overwrite: flag,
    eager: flag,
    chained: flag,
    progress: flag,
  }),
  z.object({ op: z.literal('put-from'), offset: size }),
  z.object({ op: z.literal('put-end'), sha256 }),
  z.object({
    op: z.literal('get'),
    path,
    offset: z.optional(size),
    prefixSha256: z.optional(sha256),
    progress: flag,
  }),
  z.object({ op: z.literal('sum'), path, size }),
  z.object({ op: z.literal('busy') }),
]);
export type Request = z.infer<typeof Request>;

export type EntryType = 'file' | 'dir';

/** One entry of a listing; `path` is relative to the listed folder, with `/` separators. */
export interface Entry {
  path: string;
  type: EntryType;
  size: number;
  /** Last modification, milliseconds since the epoch. */
  mtime: number;
}

export const EntrySchema = z.object({
  path: z.string(),
  type: z.enum(['file', 'dir']),
  size,
  mtime: z.number(),
});

export const Hello = z.object({
  op: z.literal('hello'),
  service: z.literal('sockit-files'),
  version: z.int(),
  mechanisms: z.array(z.string()),
  register: z.boolean(),
});
export type Hello = z.infer<typeof Hello>;

/** Every answer: `{ ok: true, ... }` or a refusal carrying a stable error code. */
export const Refusal = z.object({ ok: z.literal(false), code: z.string(), message: z.string() });
export type Refusal = z.infer<typeof Refusal>;

export const Answers = {
  authContinue: z.object({ ok: z.literal(true), data: authData }),
  authDone: z.object({ ok: z.literal(true), data: authData, user: z.string() }),
  done: z.object({ ok: z.literal(true) }),
  /** The entries come as the answer's body: a JSON array (a header is bounded to 64 KiB). */
  list: z.object({ ok: z.literal(true), count: size }),
  stat: z.object({ ok: z.literal(true), entry: EntrySchema }),
  putOffer: z.object({ ok: z.literal(true), offset: size, prefixSha256: z.optional(sha256) }),
  putDone: z.object({ ok: z.literal(true), sha256, size }),
  getStart: z.object({ ok: z.literal(true), size, from: size, mtime: z.number() }),
  getEnd: z.object({ ok: z.literal(true), sha256 }),
  /** The server is still working on the request it was asked with `progress` (see Busy). */
  busy: z.object({ ok: z.literal(true), busy: z.string().check(z.maxLength(32)) }),
  /** Bytes of the file hashed so far: the sum is under way (or waits its turn, at 0). */
  sumProgress: z.object({ ok: z.literal(true), hashed: size }),
  /** `sha256` only for a file of the size asked about. */
  sum: z.object({ ok: z.literal(true), entry: EntrySchema, sha256: z.optional(sha256) }),
} as const;

/** Lowercase hex SHA-256 of no bytes: the prefix hash of an empty part. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
