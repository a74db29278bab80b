/**
 * The file service's client: connect, log in, then list, upload, download, remove.
 *
 * Uploads and downloads check SHA-256 end to end and resume: a download writes to
 * `LOCAL.sockit-part` and renames it only once verified; an upload picks up the part the
 * server kept, once both sides agree on the hash of the bytes already there.
 *
 * The server is not trusted with local paths or sizes: names it sends are checked as single
 * components (`names.ts`), and a download never writes more than announced, never more than
 * `maxFileSize`, never replaces a file unless asked. Every operation takes an `AbortSignal`.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type net from 'node:net';
import { resolve as resolvePath } from 'node:path';
import tls from 'node:tls';
import { tlsExporter } from '../auth/challenge.js';
import type { KeyCache } from '../auth/key-cache.js';
import { registerAccount, scramLogin, secretLogin } from '../auth/login-client.js';
import type { LoginTransport } from '../auth/login-messages.js';
import type { SecretKey } from '../auth/secret-key.js';
import { ErrorCode, formatHostPort, SockitError } from '../errors.js';
import { Channel, ReusedReads } from '../runtime/channel.js';
import { dial } from '../runtime/dial.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import * as z from '../runtime/schema.js';
import { abortedError, guarded } from './abort.js';
import {
  checkDestination,
  checkStart,
  type DownloadOptions,
  type KeptPart,
  keptPart,
  NO_PART,
  openPart,
  PART_SUFFIX,
  placePart,
  removeQuietly,
} from './download.js';
import { checkEntries, checkStatPath } from './names.js';
import { DEFAULT_STALL_MS } from './port.js';
import {
  Answers,
  BUSY_VERSION,
  EAGER_PUT_MAX,
  EAGER_PUT_VERSION,
  type Entry,
  EntrySchema,
  FILES_PORT,
  Hello,
  PROGRESS_MS,
  Refusal,
  SUM_VERSION,
} from './protocol.js';
import {
  FileSink,
  hashPrefix,
  type ProgressFn,
  peekHex,
  readAtOnce,
  receiveRange,
  SendBuffers,
  sendRange,
} from './transfer.js';

export { type DownloadOptions, PART_SUFFIX };

/** How long `close()` waits for the server to close its side before cutting the connection, in ms. */
const CLOSE_GRACE_MS = 2000;

/** Options every operation takes. */
export interface OperationOptions {
  /** Aborting destroys the connection and rejects with `ERR_ABORTED`; the client is then closed. */
  signal?: AbortSignal;
}

export interface UploadOptions extends OperationOptions {
  overwrite?: boolean;
  progress?: (sent: number, total: number) => void;
}

/** One file of `downloadFiles`. */
export interface DownloadItem {
  remote: string;
  local: string;
  /**
   * `local`'s folder was made, empty, by the caller for this download: neither the file nor
   * a part of an earlier attempt is looked for there (two lookups a file). A file that
   * appears at its name meanwhile is still not replaced without `overwrite` (its link fails).
   */
  inNewFolder?: boolean;
}

export interface DownloadFilesOptions extends OperationOptions {
  overwrite?: boolean;
  /** Largest size the server may announce for each file (see DownloadOptions). */
  maxFileSize?: number;
  /** A file placed, with how long its answer took to receive. */
  onDone?: (item: DownloadItem, result: TransferResult, ms: number) => void;
  progress?: (item: DownloadItem, received: number, total: number) => void;
}

/** One file of `uploadFiles`. */
export interface UploadItem {
  local: string;
  remote: string;
}

export interface UploadFilesOptions extends OperationOptions {
  overwrite?: boolean;
  /** A file stored, with how long it took from its read to its answer. */
  onDone?: (item: UploadItem, result: TransferResult, ms: number) => void;
  /** Progress of a file too large for an eager put, as `upload` reports it. */
  progress?: (item: UploadItem, sent: number, total: number) => void;
}

export interface SumOptions extends OperationOptions {
  /** Bytes the server has hashed so far, about once a second while it works. */
  progress?: (hashed: number, total: number) => void;
}

/** What `sum` learns: the entry, and the SHA-256 when the file has the size asked about. */
export interface RemoteSum {
  entry: Entry;
  sha256?: string;
}

export interface ConnectOptions {
  host: string;
  port?: number;
  /** Use TLS; `ca` adds trusted certificates (PEM), e.g. a self-signed server's own. */
  tls?: { ca?: string | Buffer; servername?: string };
  /** Give up connecting after this long, in ms; 0: wait as long as the system does. Default 10000. */
  timeoutMs?: number;
  /**
   * Fail an operation with `ERR_IDLE_TIMEOUT` when nothing moves on the connection (no byte
   * read or written) for this long, in ms: a frozen server must not hold a transfer forever.
   * 0: no limit. Absent: DEFAULT_STALL_MS against a server of protocol version 4 or later
   * (it says once a second that it is still at work, see protocol.ts, Busy), no limit against
   * an older one (it is silent while it hashes a resumed file's first bytes or removes a tree).
   */
  stallTimeoutMs?: number;
  /** Aborts connecting (and, for `login`, logging in) with `ERR_ABORTED`. */
  signal?: AbortSignal;
  /** At debug: the connection, TLS, the greeting, each log-in step, where transfers resume. */
  log?: Logger;
}

export interface LoginOptions extends ConnectOptions {
  user: string;
  /** Log in with a password (SCRAM-SHA-256), or a function asked for it only when needed... */
  password?: string | (() => Promise<string>);
  /** ...or with the server's shared secret, acting as `user`. */
  secret?: SecretKey;
  /** Salted SCRAM keys kept from earlier log-ins (see `FileKeyCache`); off when absent. */
  keyCache?: KeyCache;
  /**
   * Runs once connected, before logging in (so before a password is asked for): checks that
   * are worth making only once the server is known to answer. A rejection closes the client.
   */
  connected?: () => Promise<void>;
}

export interface TransferResult {
  size: number;
  sha256: string;
  /** Bytes that were already there and were not sent again. */
  resumedFrom: number;
}

export class FilesClient {
  readonly #channel: Channel;
  readonly hello: Hello;
  /** Who the server is, for the key cache: scheme, host and port as connected to. */
  readonly #server: string;
  #user: string | undefined;
  /** A run of file bytes is being sent: no other message may go out meanwhile. */
  #sendingRun = false;
  /** This side's works under way (see working), the stall timeout they paused, and what says so. */
  #working = 0;
  #pausedStallMs = 0;
  #busyTicker: NodeJS.Timeout | undefined;
  /** The stall timeout in force, in ms (0: none); see ConnectOptions.stallTimeoutMs. */
  readonly stallTimeoutMs: number;
  readonly #log: Logger;

  private constructor(channel: Channel, hello: Hello, server: string, stallMs = 0, log = silentLogger) {
    this.#channel = channel;
    this.stallTimeoutMs = stallMs;
    this.#log = log;
    this.hello = hello;
    this.#server = server;
  }

  /** Connects and reads the greeting; log in next (or use `register`). */
  static async connect(options: ConnectOptions): Promise<FilesClient> {
    const port = options.port ?? FILES_PORT;
    const where = formatHostPort(options.host, port);
    // Plain TCP reads into one reused buffer; TLS decrypts into buffers of its own.
    const reads = new ReusedReads();
    const signal = options.signal;
    const socket = await dial({
      host: options.host,
      port,
      ...(options.tls ? { tls: options.tls } : {}),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(signal ? { signal } : {}),
      onread: reads.onread,
    });
    const log = options.log ?? silentLogger;
    log.debug({ server: where, local: socket.localPort }, 'connected');
    if (options.tls && socket instanceof tls.TLSSocket) {
      const cipher = socket.getCipher()?.name;
      log.debug({ protocol: socket.getProtocol(), cipher, authorized: socket.authorized }, 'TLS negotiated');
    }
    const channel = new Channel(socket, {
      maxMessageSize: 64 * 1024 * 1024,
      reads: options.tls ? undefined : reads,
    });
    // A server that says nothing (a TLS server reached without --tls waits for a handshake)
    // must not leave the client waiting forever.
    const silent = setTimeout(() => socket.destroy(), options.timeoutMs ?? 10_000);
    let hello: ReturnType<typeof Hello.safeParse>;
    try {
      hello = Hello.safeParse((await guarded(socket, signal, () => channel.receive())).header);
    } catch (err) {
      socket.destroy();
      if (signal?.aborted) throw abortedError(signal);
      throw new SockitError(
        ErrorCode.BAD_REPLY,
        `${where} sent no greeting: is it a sockit file service${options.tls ? '' : ' (over TLS? use --tls)'}?`,
        { cause: err },
      );
    } finally {
      clearTimeout(silent);
    }
    if (!hello.success) {
      socket.destroy();
      throw new SockitError(ErrorCode.BAD_REPLY, `${where} is not a sockit file service`);
    }
    const { version, mechanisms, register } = hello.data;
    log.debug({ version, mechanisms, register }, 'greeting');
    return new FilesClient(
      channel,
      hello.data,
      `${options.tls ? 'tls' : 'tcp'}:${where}`,
      options.stallTimeoutMs ?? (version >= BUSY_VERSION ? DEFAULT_STALL_MS : 0),
      log,
    );
  }

  /** Connects and logs in. */
  static async login(options: LoginOptions): Promise<FilesClient> {
    const client = await FilesClient.connect(options);
    try {
      await options.connected?.();
      await guarded(client.#channel.socket, options.signal, () =>
        options.secret
          ? client.loginWithSecret(options.user, options.secret)
          : client.login(options.user, options.password ?? '', { cache: options.keyCache }),
      );
      return client;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  get user(): string | undefined {
    return this.#user;
  }

  /** The log-in messages travel as envelopes on this connection. */
  get #transport(): LoginTransport {
    return {
      send: (message) => {
        this.#channel.send(message);
      },
      receive: async () => (await this.#channel.receive()).header,
    };
  }

  /**
   * SCRAM-SHA-256: proves the password without sending it, and checks that the server knows it
   * too. `password` may be a function, asked only when `options.cache` lacks the keys.
   */
  async login(
    user: string,
    password: string | (() => Promise<string>),
    options: { cache?: KeyCache } = {},
  ): Promise<void> {
    this.#user = await scramLogin(this.#transport, user, password, {
      cache: options.cache,
      server: this.#server,
      log: this.#log,
    });
  }

  /** Shared secret: both sides prove the key over fresh nonces, the user name and the TLS channel. */
  async loginWithSecret(user: string, secret: SecretKey): Promise<void> {
    const binding = tlsExporter(this.#channel.socket);
    this.#user = await secretLogin(this.#transport, user, secret, binding, { log: this.#log });
  }

  /** Creates an account, when the server allows it. The password never leaves this machine. */
  async register(user: string, password: string, iterations?: number): Promise<void> {
    await registerAccount(this.#transport, user, password, iterations);
  }

  /**
   * The entries of a folder (with `recursive`, its whole tree). Every path is checked as
   * relative, of safe components only: a listing is what a folder download writes by.
   */
  async list(path = '', recursive = false, options: OperationOptions = {}): Promise<Entry[]> {
    return this.#guarded(options.signal, async () => {
      this.#channel.send({ op: 'list', path, recursive, progress: true });
      const { header, body } = await this.#answerWithBody(Answers.list);
      let entries: unknown;
      try {
        entries = JSON.parse(body.toString('utf8'));
      } catch {
        entries = undefined;
      }
      const parsed = z.array(EntrySchema).safeParse(entries);
      if (!parsed.success || parsed.data.length !== header.count) {
        throw new SockitError(ErrorCode.BAD_REPLY, 'the server sent a listing that does not parse');
      }
      return checkEntries(parsed.data);
    });
  }

  /**
   * One entry; its path is `.` for the home, else `path` with empty and `.` segments dropped.
   * An answer about any other path is refused (`ERR_BAD_REQUEST`): callers may name local
   * files after it.
   */
  async stat(path: string, options: OperationOptions = {}): Promise<Entry> {
    return this.#guarded(options.signal, async () =>
      checkStatPath((await this.#ask({ op: 'stat', path }, Answers.stat)).entry, path),
    );
  }

  /**
   * The entry at `path` and, when it is a file of exactly `size` bytes, its SHA-256 as the
   * server computes it (no hash for another size, a folder, or a file above the server's size
   * limit): what a transfer compares to skip a file both sides hold. The answer is checked as
   * `stat`'s is. A server older than protocol version 2 has no sums: `ERR_UNSUPPORTED`.
   *
   * @example
   * ```ts
   * const { sha256 } = await client.sum('photos/a.jpg', (await stat('a.jpg')).size);
   * ```
   */
  async sum(path: string, size: number, options: SumOptions = {}): Promise<RemoteSum> {
    if (this.hello.version < SUM_VERSION) {
      throw new SockitError(
        ErrorCode.UNSUPPORTED,
        `the server speaks version ${this.hello.version} of the file protocol, without SHA-256 sums (version ${SUM_VERSION}); upgrade it`,
      );
    }
    return this.#guarded(options.signal, async () => {
      this.#channel.send({ op: 'sum', path, size });
      let hashed = 0;
      for (;;) {
        const answer = await this.#answer(SUM_ANSWER);
        if ('entry' in answer) {
          const entry = checkStatPath(answer.entry, path);
          if (answer.sha256 !== undefined && (entry.type !== 'file' || entry.size !== size))
            throw new SockitError(ErrorCode.BAD_REPLY, 'the server sent a sum of a file of another size');
          return answer.sha256 === undefined ? { entry } : { entry, sha256: answer.sha256 };
        }
        if (answer.hashed < hashed || answer.hashed > size)
          throw new SockitError(ErrorCode.BAD_REPLY, 'the server sent a sum progress out of range');
        hashed = answer.hashed;
        options.progress?.(hashed, size);
      }
    });
  }

  async mkdir(path: string, parents = false, options: OperationOptions = {}): Promise<void> {
    await this.#guarded(options.signal, () => this.#ask({ op: 'mkdir', path, parents }, Answers.done));
  }

  async remove(path: string, recursive = false, options: OperationOptions = {}): Promise<void> {
    await this.#guarded(options.signal, () =>
      this.#ask({ op: 'rm', path, recursive, progress: true }, Answers.done),
    );
  }

  /**
   * Uploads `local` to `remote`. The file appears on the server only once it is whole and its
   * SHA-256 matches; an interrupted upload resumes from the server's part on the next call.
   */
  async upload(local: string, remote: string, options: UploadOptions = {}): Promise<TransferResult> {
    return this.#guarded(options.signal, () => this.#uploadOne(local, remote, options));
  }

  /**
   * Uploads several files, in order, as `upload` would one by one, but without a round trip
   * per file: a file of at most EAGER_PUT_MAX bytes is read at once (on the calling thread)
   * and sent whole without waiting for the server (an eager put, protocol version 3), with up
   * to EAGER_WINDOW files (and EAGER_WINDOW_BYTES) awaiting their answers; a larger one goes
   * as `upload` sends it, resumable, once the answers before it are in. `onDone` is called for
   * each file stored, in order.
   *
   * It stops at the first refusal, as uploads one by one do: the server stores nothing of the
   * batch after a refused file (those sent meanwhile are refused with ERR_ABORTED), nothing
   * more is sent, and the call rejects with that first refusal once every answer is in.
   *
   * @example
   * ```ts
   * await client.uploadFiles(
   *   [{ local: 'a.txt', remote: 'docs/a.txt' }, { local: 'b.txt', remote: 'docs/b.txt' }],
   *   { onDone: (item, result) => console.log(item.remote, result.sha256) },
   * );
   * ```
   */
  async uploadFiles(items: Iterable<UploadItem>, options: UploadFilesOptions = {}): Promise<void> {
    const eager = this.hello.version >= EAGER_PUT_VERSION;
    const overwrite = options.overwrite ?? false;
    await this.#guarded(options.signal, async () => {
      const socket = this.#channel.socket;
      // What is read is hashed and queued at once, and never looked at again once sent.
      const buffers = new SendBuffers(() => socket.writableLength === 0);
      const waiting: { item: UploadItem; size: number; sha256: string; began: number }[] = [];
      let waitingBytes = 0;
      let sentEager = 0;
      let failure: unknown;
      const settle = async (): Promise<void> => {
        const sent = waiting.shift() as (typeof waiting)[number];
        waitingBytes -= sent.size;
        let done: z.infer<typeof Answers.putDone>;
        try {
          done = await this.#answer(Answers.putDone);
        } catch (err) {
          if (!REFUSALS.has(err as Error)) throw err; // the connection itself failed
          failure ??= aboutFile(err, sent.item);
          return;
        }
        if (done.sha256 !== sent.sha256 || done.size !== sent.size)
          throw new SockitError(ErrorCode.INTEGRITY, 'the server stored other bytes than were sent');
        const result = { size: sent.size, sha256: sent.sha256, resumedFrom: 0 };
        options.onDone?.(sent.item, result, Date.now() - sent.began);
      };
      for (const item of items) {
        if (failure !== undefined) break;
        const began = Date.now();
        const data = eager ? readSmallFile(item.local, EAGER_PUT_MAX, buffers) : undefined;
        if (!data) {
          while (waiting.length > 0) await settle();
          if (failure !== undefined) break;
          const result = await this.#uploadOne(item.local, item.remote, {
            overwrite,
            progress: options.progress && ((n, total) => options.progress?.(item, n, total)),
          }).catch((err: unknown) => {
            throw aboutFile(err, item);
          });
          options.onDone?.(item, result, Date.now() - began);
          continue;
        }
        const sha256 = createHash('sha256').update(data).digest('hex');
        // The first of a batch starts it; the others are stored only while none was refused.
        const chained = sentEager++ > 0;
        this.#channel.send({
          op: 'put',
          path: item.remote,
          size: data.length,
          overwrite,
          eager: true,
          chained,
          progress: true,
        });
        this.#channel.send({ op: 'put-from', offset: 0 });
        if (data.length > 0) this.#channel.write(data);
        this.#channel.send({ op: 'put-end', sha256 });
        waiting.push({ item, size: data.length, sha256, began });
        waitingBytes += data.length;
        await this.#channel.drain();
        while (waiting.length >= EAGER_WINDOW || waitingBytes >= EAGER_WINDOW_BYTES) await settle();
      }
      while (waiting.length > 0) await settle();
      if (failure !== undefined) throw failure;
    });
  }

  async #uploadOne(local: string, remote: string, options: UploadOptions): Promise<TransferResult> {
    const handle = await open(local, 'r');
    try {
      const size = (await handle.stat()).size;
      const offer = await this.#ask(
        { op: 'put', path: remote, size, overwrite: options.overwrite ?? false, progress: true },
        Answers.putOffer,
      );
      let from = 0;
      let hash = createHash('sha256');
      if (offer.offset > 0 && offer.prefixSha256) {
        const offset = offer.offset;
        const prefix = await this.working(() => hashPrefix(handle, offset));
        if (prefix && peekHex(prefix) === offer.prefixSha256) {
          from = offer.offset;
          hash = prefix;
        }
      }
      this.#channel.send({ op: 'put-from', offset: from });
      this.#log.debug({ path: remote, size, from, offered: offer.offset }, 'upload: sending');
      const progress: ProgressFn | undefined = options.progress && ((sent) => options.progress?.(sent, size));
      this.#sendingRun = true;
      try {
        await sendRange(this.#channel, handle, from, size, hash, progress);
      } catch (err) {
        // The server waits for the rest of the run, or for a put-end whose hash would vouch for
        // what went out (a file that changed as it was sent): the connection is cut instead.
        this.#channel.socket.destroy();
        throw err;
      } finally {
        this.#sendingRun = false;
      }
      const sha256 = hash.digest('hex');
      this.#channel.send({ op: 'put-end', sha256 });
      const done = await this.#answer(Answers.putDone);
      if (done.sha256 !== sha256)
        throw new SockitError(ErrorCode.INTEGRITY, 'the server stored other bytes than were sent');
      return { size, sha256, resumedFrom: from };
    } finally {
      await handle.close();
    }
  }

  /**
   * Downloads `remote` to `local`, through `local.sockit-part` in the same folder, which gets
   * its real name only once its SHA-256 matches the server's. A part left by an earlier
   * attempt is continued when its bytes match the server's first bytes, and started afresh
   * otherwise. An existing `local` is replaced only with `overwrite` (else `ERR_EXISTS`);
   * the server's `{size, from}` are checked before a byte is written (`ERR_BAD_REQUEST`,
   * `ERR_FILE_TOO_LARGE`); exactly `size` bytes are taken, and what lands on disk is what
   * was hashed. Aborting removes the part.
   *
   * @example
   * ```ts
   * const controller = new AbortController();
   * await client.download('backup/db.tar', 'db.tar', { maxFileSize: 2 ** 30, signal: controller.signal });
   * ```
   */
  async download(remote: string, local: string, options: DownloadOptions = {}): Promise<TransferResult> {
    const partPath = `${local}${PART_SUFFIX}`;
    try {
      return await this.#guarded(options.signal, async () => {
        const asked = await this.#requestGet({ remote, local }, options.overwrite ?? false);
        const { landed } = await this.#receiveGet(asked, options);
        return await this.working(() => landed);
      });
    } catch (err) {
      // An aborted download leaves nothing behind; one cut by the network keeps its part to resume.
      if (options.signal?.aborted) removeQuietly(partPath);
      throw err;
    }
  }

  /**
   * Downloads several files, in order, as `download` would one by one, but with up to
   * DOWNLOAD_WINDOW requests sent ahead, so that the server has the next file under way while
   * this side writes the one before: a folder of small files goes without a round trip each.
   * `onDone` is called for each file placed, in order; `progress` as `download` reports it.
   *
   * At the first refusal (or a destination that exists, without `overwrite`) nothing more is
   * asked for; what was already asked for is received and placed (`onDone` says which), then
   * the call rejects with that first error.
   *
   * @example
   * ```ts
   * await client.downloadFiles([{ remote: 'docs/a.txt', local: 'a.txt' }], { maxFileSize: 2 ** 30 });
   * ```
   */
  async downloadFiles(items: Iterable<DownloadItem>, options: DownloadFilesOptions = {}): Promise<void> {
    const overwrite = options.overwrite ?? false;
    const asked: (AskedGet & { key: string })[] = [];
    // Received and verified, being synced and named: the disk's work for one file overlaps
    // the next files' bytes (a sync waited for in turn cost ~0.1 ms a file on the thread pool).
    const landing: { item: DownloadItem; key: string; began: number; landed: Promise<TransferResult> }[] = [];
    const land = async (): Promise<void> => {
      const next = landing[0] as (typeof landing)[number];
      try {
        // Syncing is this side's work: the server is not stalled meanwhile.
        const result = await this.working(() => next.landed).catch((err: unknown) => {
          throw aboutFile(err, next.item);
        });
        options.onDone?.(next.item, result, Date.now() - next.began);
      } finally {
        landing.shift();
      }
    };
    try {
      await this.#guarded(options.signal, async () => {
        let failure: unknown;
        const settle = async (): Promise<void> => {
          const next = asked[0] as (typeof asked)[number];
          const began = Date.now();
          try {
            const { landed } = await this.#receiveGet(next, {
              maxFileSize: options.maxFileSize,
              progress: options.progress && ((n, total) => options.progress?.(next.item, n, total)),
            });
            asked.shift();
            landing.push({ item: next.item, key: next.key, began, landed });
          } catch (err) {
            // The connection or the disk failed: what was asked (this one included) stays
            // listed, for an abort to remove its parts.
            if (!REFUSALS.has(err as Error)) throw aboutFile(err, next.item);
            asked.shift();
            failure ??= aboutFile(err, next.item);
          }
          while (landing.length > LANDING_WINDOW) await land();
        };
        for (const item of items) {
          if (failure !== undefined) break;
          // The same destination twice: the first is placed before the second is asked for,
          // as one by one (its part would otherwise be rewritten while the first is named).
          // Compared as a case-insensitive or normalizing file system could take them.
          const key = destinationKey(item.local);
          if (asked.some((a) => a.key === key) || landing.some((l) => l.key === key)) {
            while (asked.length > 0) await settle();
            while (landing.length > 0) await land();
            if (failure !== undefined) break;
          }
          try {
            asked.push({ ...(await this.#requestGet(item, overwrite)), key });
          } catch (err) {
            failure = err;
            break;
          }
          // Refilled by halves: the requests of a refill leave in one write (see Channel.write).
          if (asked.length >= DOWNLOAD_WINDOW) while (asked.length > DOWNLOAD_WINDOW / 2) await settle();
        }
        while (asked.length > 0) await settle();
        while (landing.length > 0) await land();
        if (failure !== undefined) throw failure;
      });
    } catch (err) {
      // Nothing goes on once the call has ended: files being placed are placed (and reported)
      // or fail first.
      while (landing.length > 0) await land().catch(() => undefined);
      if (options.signal?.aborted) for (const a of asked) removeQuietly(a.partPath);
      throw err;
    }
  }

  /**
   * Checks the destination, looks for a kept part (neither in a folder new for this download:
   * see DownloadItem.inNewFolder), and asks for the file.
   */
  async #requestGet(item: DownloadItem, overwrite: boolean): Promise<AskedGet> {
    const partPath = `${item.local}${PART_SUFFIX}`;
    let kept: KeptPart = NO_PART;
    if (!item.inNewFolder) {
      await checkDestination(item.local, overwrite);
      kept = await this.working(() => keptPart(partPath));
    }
    this.#channel.send({
      op: 'get',
      path: item.remote,
      offset: kept.offset,
      prefixSha256: kept.prefix,
      progress: true,
    });
    return { item, partPath, kept, overwrite };
  }

  /**
   * Receives the answer to a `get` sent before into its part and checks its SHA-256. The
   * connection is free for the next answer when this returns; `landed` then syncs the part,
   * checks its length and gives it its name.
   */
  async #receiveGet(
    asked: AskedGet,
    options: { maxFileSize?: number; progress?: (received: number, total: number) => void },
  ): Promise<{ landed: Promise<TransferResult> }> {
    const { partPath, kept, overwrite } = asked;
    const { remote, local } = asked.item;
    const start = await this.#answer(Answers.getStart);
    try {
      await checkStart(start, kept.offset, local, options.maxFileSize);
    } catch (err) {
      // The server's bytes follow at once and would be read as messages: drop the connection.
      this.#channel.socket.destroy();
      throw err;
    }
    const from = start.from;
    this.#log.debug({ path: remote, size: start.size, from, kept: kept.offset }, 'download: receiving');
    const hash = from > 0 && kept.hash ? kept.hash : createHash('sha256');
    const sink = new FileSink(await openPart(partPath, from), from, start.size - from);
    let end: { sha256: string };
    try {
      await receiveRange(this.#channel, sink, start.size - from, hash, (n) =>
        options.progress?.(from + n, start.size),
      );
      end = await this.#answer(Answers.getEnd);
    } catch (err) {
      // What was received stays in the part, for a later download to resume from.
      await sink.abandon().catch(() => undefined);
      throw err;
    }
    const sha256 = hash.digest('hex');
    if (sha256 !== end.sha256) {
      await sink.abandon().catch(() => undefined);
      removeQuietly(partPath);
      throw new SockitError(
        ErrorCode.INTEGRITY,
        `"${remote}": the received bytes do not match the server's SHA-256`,
      );
    }
    const landed = (async (): Promise<TransferResult> => {
      const size = await sink.finishSized();
      if (size !== start.size) {
        removeQuietly(partPath);
        throw new SockitError(
          ErrorCode.INTEGRITY,
          `"${remote}": ${size} bytes on disk, ${start.size} expected`,
        );
      }
      await placePart(partPath, local, overwrite);
      return { size, sha256, resumedFrom: from };
    })();
    // Awaited by the caller, maybe only after other files: not an unhandled rejection meanwhile.
    landed.catch(() => undefined);
    return { landed };
  }

  /**
   * Ends the connection: our side at once, and the socket itself once the server closes its
   * side, or after CLOSE_GRACE_MS if it never does (a peer must not keep the command alive).
   */
  close(): void {
    const socket = this.#channel.socket;
    this.#log.debug('closing');
    socket.end();
    if (socket.destroyed) return;
    const cut = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
    socket.once('close', () => clearTimeout(cut));
  }

  async #guarded<T>(signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    // Always a net.Socket (or its TLS subclass): connect() made it.
    const socket = this.#channel.socket as net.Socket;
    const stallMs = this.stallTimeoutMs;
    if (!(stallMs > 0)) return guarded(socket, signal, work);
    // Armed only while an operation runs: a client idle between operations is not stalled.
    let stalled = false;
    const onStall = (): void => {
      stalled = true;
      socket.destroy();
    };
    socket.setTimeout(stallMs);
    socket.on('timeout', onStall);
    try {
      return await guarded(socket, signal, work);
    } catch (err) {
      if (!stalled || signal?.aborted) throw err;
      throw new SockitError(
        ErrorCode.IDLE_TIMEOUT,
        `the server sent and took nothing for ${stallMs / 1000} s; it may be frozen or the network down (rerun to resume)`,
        { cause: err },
      );
    } finally {
      socket.setTimeout(0);
      socket.off('timeout', onStall);
    }
  }

  /**
   * Runs `work`, this side's own (hashing a local file or a kept part, syncing a download),
   * while the connection waits for it: a server of protocol version 4 or later is told once a
   * second that the client is at work (its idle timer must not take the wait for a dead
   * client), and the stall timer stops meanwhile (the server is silent because it waits).
   *
   * @example
   * ```ts
   * const hash = await client.working(() => sha256OfFile('big.iso'));
   * ```
   */
  async working<T>(work: () => Promise<T>): Promise<T> {
    // Works may overlap (a download landing while the next one's kept part is hashed): the
    // stall timer stops at the first and starts again after the last.
    if (this.#working++ === 0) this.#startWorking();
    try {
      return await work();
    } finally {
      if (--this.#working === 0) this.#stopWorking();
    }
  }

  #startWorking(): void {
    const socket = this.#channel.socket as net.Socket;
    this.#pausedStallMs = socket.timeout ?? 0;
    if (this.#pausedStallMs > 0) socket.setTimeout(0);
    if (this.hello.version < BUSY_VERSION) return;
    // One timer for the client's life, re-armed: a download of many small files works once
    // per file. Unref'd: it must not keep a finished command waiting.
    if (this.#busyTicker) this.#busyTicker.refresh();
    else this.#busyTicker = setTimeout(() => this.#tellBusy(), PROGRESS_MS).unref();
  }

  #tellBusy(): void {
    if (this.#working === 0 || this.#channel.socket.destroyed) return;
    // Never inside an upload's bytes (a caller's work may overlap one).
    if (!this.#sendingRun) this.#channel.send({ op: 'busy' });
    this.#busyTicker?.refresh();
  }

  #stopWorking(): void {
    const socket = this.#channel.socket as net.Socket;
    if (this.#pausedStallMs > 0 && !socket.destroyed) socket.setTimeout(this.#pausedStallMs);
    this.#pausedStallMs = 0;
  }

  async #ask<S extends z.ZodMiniType>(request: Record<string, unknown>, schema: S): Promise<z.infer<S>> {
    this.#channel.send(request);
    return this.#answer(schema);
  }

  async #answer<S extends z.ZodMiniType>(schema: S): Promise<z.infer<S>> {
    return (await this.#answerWithBody(schema)).header;
  }

  async #answerWithBody<S extends z.ZodMiniType>(schema: S): Promise<{ header: z.infer<S>; body: Buffer }> {
    let { header, body } = await this.#channel.receive();
    // Asked for with `progress`: the server is still at it (it says so once a second).
    while (header.ok === true && 'busy' in header) {
      if (!Answers.busy.safeParse(header).success)
        throw new SockitError(ErrorCode.BAD_REPLY, 'the server sent a busy answer that does not parse');
      this.#log.debug({ busy: header.busy }, 'the server is at work');
      ({ header, body } = await this.#channel.receive());
    }
    // A refusal says ok: false; a schema tried on every answer cost a download of a folder of
    // small files ~3% (a failed parse builds its issues).
    const refusal = header.ok === false ? Refusal.safeParse(header) : undefined;
    if (refusal?.success) {
      const code = Object.values(ErrorCode).find((c) => c === refusal.data.code) ?? ErrorCode.BAD_REPLY;
      const err = new SockitError(code, refusal.data.message);
      REFUSALS.add(err);
      throw err;
    }
    const parsed = schema.safeParse(header);
    if (!parsed.success) throw new SockitError(ErrorCode.BAD_REPLY, 'the server sent an answer out of place');
    return { header: parsed.data, body };
  }
}

/**
 * What two destinations that may be one file have in common: the absolute path, in Unicode
 * NFC and lower case (macOS and Windows file systems fold case, macOS normalizes names).
 */
function destinationKey(local: string): string {
  return resolvePath(local).normalize('NFC').toLowerCase();
}

/** Downloads asked for ahead of the one being received, at most. */
const DOWNLOAD_WINDOW = 16;
/** Downloads received and being synced and named, at most (each holds a descriptor). */
const LANDING_WINDOW = 16;

/** A `get` sent (for `item`), and what its answer needs. */
interface AskedGet {
  item: DownloadItem;
  partPath: string;
  kept: KeptPart;
  overwrite: boolean;
}

/** Errors that are the server's refusals (the connection is still in step after them). */
const REFUSALS = new WeakSet<Error>();

/**
 * `err` saying which file of a batch it is about: a refusal that does not name the file
 * gets `"REMOTE": ` before its message, and a system error on the local side without a path
 * (a write's ENOSPC) gets the local file as its path. Other errors (the connection's) are
 * left as they are.
 */
function aboutFile(err: unknown, item: { remote: string; local: string }): unknown {
  if (!(err instanceof Error)) return err;
  if (REFUSALS.has(err)) {
    if (!err.message.includes(item.remote)) err.message = `"${item.remote}": ${err.message}`;
    return err;
  }
  const sys = err as NodeJS.ErrnoException;
  if (!(err instanceof SockitError) && typeof sys.code === 'string' && sys.path === undefined)
    sys.path = item.local;
  return err;
}

/** Eager puts awaiting their answers at most, and their bytes. */
const EAGER_WINDOW = 64;
const EAGER_WINDOW_BYTES = 8 * 1024 * 1024;

/**
 * The whole of `file` when it holds at most `max` bytes, read in one go; undefined for a
 * larger one (or one that is not a regular file). What is read is what is hashed and sent.
 */
function readSmallFile(file: string, max: number, into: SendBuffers): Buffer | undefined {
  const fd = openSync(file, 'r');
  try {
    const info = fstatSync(fd);
    if (!info.isFile() || info.size > max) return undefined;
    return readAtOnce(fd, info.size, into);
  } finally {
    closeSync(fd);
  }
}

/** A sum's last answer, or one of the progress answers before it. */
const SUM_ANSWER = z.union([Answers.sum, Answers.sumProgress]);
