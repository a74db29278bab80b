/**
 * One connection to the file service: greeting, log-in (or registration), then requests
 * until the client leaves. Every request is checked against its schema; every path is
 * confined to the user's home; every refusal is an answer with a stable code, and the
 * connection goes on unless the stream itself can no longer be trusted.
 */
import { createHash, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tlsExporter } from '../auth/challenge.js';
import type { LoginServer } from '../auth/login-server.js';
import { isOutOfStep, ThrottledError } from '../auth/login-transport.js';
import { checkUserName } from '../auth/names.js';
import type { UserStore } from '../auth/store.js';
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import { Channel, type PreLoginLimits } from '../runtime/channel.js';
import type { ConfinedRoot } from '../runtime/confine.js';
import type { Connection } from '../runtime/tcp.js';
import { FILES_PROTOCOL_VERSION, type Request, Request as RequestSchema } from './protocol.js';
import { UserFiles } from './storage.js';
import { FileSink, hashPrefix, peekHex, receiveRange, sendRange } from './transfer.js';

export interface SessionLimits {
  maxFileSize: number;
  /** Default per-user quota in bytes; 0: none. */
  quotaBytes: number;
  minIterations: number;
}

export interface SessionShared {
  root: ConfinedRoot;
  store: UserStore;
  allowRegister: boolean;
  /** Log-in and registration, shared by all connections (throttles, in-flight attempts). */
  login: LoginServer;
  /** Uploads in progress, as "user/path": one writer per part. */
  busy: Set<string>;
  /** Bytes of uploads under way, per user: counted against the quota until they land. */
  reserved: Map<string, number>;
  limits: SessionLimits;
  /** Limits on messages before log-in (see `Channel`). */
  preLogin?: PreLoginLimits;
}

export { throttleKey } from '../auth/login-server.js';

type Req<K extends Request['op']> = Extract<Request, { op: K }>;

export class FileSession {
  readonly #conn: Connection;
  readonly #shared: SessionShared;
  readonly #channel: Channel;
  #files: UserFiles | undefined;
  #quota = 0;
  /** This connection's log-in tally (see `LoginServer.authenticate`). */
  readonly #logins = { attempts: 0, throttled: 0 };

  constructor(conn: Connection, shared: SessionShared) {
    this.#conn = conn;
    this.#shared = shared;
    this.#channel = new Channel(conn.socket, {
      maxMessageSize: 1024 * 1024,
      preLogin: shared.preLogin ?? {},
    });
    conn.onAuthenticated(() => this.#channel.authenticate());
  }

  async run(): Promise<void> {
    const mechanisms = this.#shared.login.mechanisms;
    this.#channel.send({
      op: 'hello',
      service: 'sockit-files',
      version: FILES_PROTOCOL_VERSION,
      mechanisms,
      register: this.#shared.login.allowRegister,
    });
    // A stopping server ends connections that wait for a request; one in the middle of a
    // transfer finishes it first.
    let idle = false;
    const stop = (): void => {
      if (idle) this.#conn.socket.end();
    };
    this.#conn.closing.addEventListener('abort', stop);
    try {
      for (;;) {
        if (this.#conn.closing.aborted) break;
        try {
          idle = true;
          const request = await this.#next();
          idle = false;
          await this.#handle(request);
        } catch (err) {
          idle = false;
          if (isSockitError(err, ErrorCode.CONNECTION_CLOSED)) break;
          const refusal = asRefusal(err);
          if (!refusal) throw err;
          this.#refuse(refusal.code, refusal.message, refusal);
          // The stream is out of step (or the peer is told to go): no next request.
          if (FATAL.has(err as Error)) throw err;
        }
      }
      this.#conn.socket.end();
    } catch (err) {
      this.#conn.log.info({ err: (err as Error).message }, 'connection ended with an error');
      // Let the last refusal go out before the socket closes; a peer that does not close its
      // side is cut shortly after.
      const socket = this.#conn.socket;
      socket.end();
      setTimeout(() => socket.destroy(), 2000).unref();
    } finally {
      this.#conn.closing.removeEventListener('abort', stop);
    }
  }

  /**
   * The next request, validated. A message that breaks the framing or the schema ends the
   * connection: after it, the stream cannot be trusted to be in step.
   */
  async #next(): Promise<Request> {
    let header: Record<string, unknown>;
    try {
      header = (await this.#channel.receive()).header;
    } catch (err) {
      if (isSockitError(err) && err.code !== ErrorCode.CONNECTION_CLOSED) throw fatal(err);
      throw err;
    }
    const parsed = RequestSchema.safeParse(header);
    if (!parsed.success) {
      throw fatal(
        new SockitError(ErrorCode.INVALID_ARGUMENT, `malformed request: ${parsed.error.issues[0]?.message}`),
      );
    }
    return parsed.data;
  }

  /** The next request, which must be `op` (the next step of an exchange under way). */
  async #expect<K extends Request['op']>(op: K): Promise<Req<K>> {
    const request = await this.#next();
    if (request.op !== op)
      throw fatal(new SockitError(ErrorCode.INVALID_ARGUMENT, `expected ${op}, not ${request.op}`));
    return request as Req<K>;
  }

  #refuse(code: string, message: string, err?: unknown): void {
    const extra = err instanceof ThrottledError ? { retryAfterMs: err.retryAfterMs } : {};
    this.#channel.send({ ok: false, code, message, ...extra });
  }

  #ok(fields: Record<string, unknown> = {}): void {
    this.#channel.send({ ok: true, ...fields });
  }

  async #handle(request: Request): Promise<void> {
    if (request.op === 'auth') {
      await this.#auth(request);
      // Logged in: the guard's log-in deadline ends, the channel's pre-log-in limits lift.
      if (this.#files) this.#conn.authenticate();
      return;
    }
    if (request.op === 'register') return this.#register(request);
    const files = this.#files;
    if (!files) throw new SockitError(ErrorCode.AUTH_FAILED, 'log in first');
    switch (request.op) {
      case 'list': {
        const entries = await files.list(request.path ?? '', request.recursive ?? false);
        this.#channel.send({ ok: true, count: entries.length }, Buffer.from(JSON.stringify(entries)));
        return;
      }
      case 'stat':
        return this.#ok({ entry: await files.stat(request.path) });
      case 'mkdir':
        await files.mkdir(request.path, request.parents ?? false);
        this.#conn.log.info({ user: files.user, path: files.display(request.path) }, 'mkdir');
        return this.#ok();
      case 'rm':
        await files.remove(request.path, request.recursive ?? false);
        this.#conn.log.info({ user: files.user, path: files.display(request.path) }, 'removed');
        return this.#ok();
      case 'put':
        return this.#put(files, request);
      case 'get':
        return this.#get(files, request);
      default:
        throw new SockitError(ErrorCode.INVALID_ARGUMENT, `"${request.op}" is out of place here`);
    }
  }

  async #auth(request: Req<'auth'>): Promise<void> {
    if (this.#files) throw new SockitError(ErrorCode.AUTH_PROTOCOL, 'already logged in');
    const transport = {
      send: (message: Record<string, unknown>) => {
        this.#channel.send(message);
      },
      receive: async () => this.#next(),
    };
    const peer = {
      address: this.#conn.socket.remoteAddress ?? '?',
      channelBinding: tlsExporter(this.#conn.socket),
    };
    try {
      await this.#shared.login.authenticate(transport, request, peer, this.#logins, async (record) => {
        const files = new UserFiles(this.#shared.root, checkUserName(record.name));
        await files.ensure();
        this.#files = files;
        this.#quota = record.quotaBytes ?? this.#shared.limits.quotaBytes;
      });
    } catch (err) {
      if (isOutOfStep(err)) throw fatal(err as SockitError);
      throw err;
    }
  }

  async #register(request: Req<'register'>): Promise<void> {
    const peer = { address: this.#conn.socket.remoteAddress ?? '?' };
    await this.#shared.login.register(request, peer);
    this.#ok();
  }

  async #put(files: UserFiles, request: Req<'put'>): Promise<void> {
    const { maxFileSize } = this.#shared.limits;
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
    if (this.#shared.busy.has(key)) {
      throw new SockitError(ErrorCode.FORBIDDEN, `"${request.path}" is being uploaded by another connection`);
    }
    this.#shared.busy.add(key);
    // Reserved before anything is awaited, so that a parallel upload's quota check sees it.
    const { reserved } = this.#shared;
    reserved.set(files.user, (reserved.get(files.user) ?? 0) + request.size);
    try {
      await this.#receiveUpload(files, request, existing?.size ?? 0);
    } finally {
      this.#shared.busy.delete(key);
      const left = (reserved.get(files.user) ?? 0) - request.size;
      if (left > 0) reserved.set(files.user, left);
      else reserved.delete(files.user);
    }
  }

  async #receiveUpload(files: UserFiles, request: Req<'put'>, replaced: number): Promise<void> {
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
    if (this.#quota > 0) {
      const partBytes = await files.partSize(part);
      // On disk now, minus what this upload replaces, plus every upload under way (this one too).
      const used = (await files.usage()) - replaced - partBytes;
      const underWay = this.#shared.reserved.get(files.user) ?? request.size;
      if (used + underWay > this.#quota) {
        throw new SockitError(
          ErrorCode.QUOTA_EXCEEDED,
          `${request.size} more bytes would exceed the quota (${used} of ${this.#quota} used)`,
        );
      }
    }
    this.#ok({ offset, prefixSha256: prefix ? peekHex(prefix) : undefined });

    const start = await this.#expect('put-from');
    if (start.offset !== 0 && start.offset !== offset) {
      throw fatal(
        new SockitError(ErrorCode.INVALID_ARGUMENT, 'put-from must start at 0 or at the offered offset'),
      );
    }
    const from = start.offset;
    if (from === 0) await files.describePart(part, request.path, request.size);
    const hash = from === 0 ? createHash('sha256') : (prefix as Hash);
    const began = Date.now();
    const flags = from === 0 ? constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC : constants.O_RDWR;
    const sink = new FileSink(await files.openPart(part, flags), from);
    try {
      await receiveRange(this.#channel, sink, request.size - from, hash);
    } catch (err) {
      // Keep what arrived, even from a cut connection: it is what a resume starts from.
      await sink.abandon().catch(() => undefined);
      throw err;
    }
    // Synced before it gets its name: once named, the bytes are on disk.
    await sink.finish();
    const end = await this.#expect('put-end');
    const digest = hash.digest('hex');
    if (digest !== end.sha256) {
      await files.dropPart(part);
      throw new SockitError(
        ErrorCode.INTEGRITY,
        'the received bytes do not match their SHA-256; nothing was stored',
      );
    }
    await files.place(part, request.path, request.overwrite ?? false);
    await files.dropMeta(part);
    const ms = Date.now() - began;
    this.#conn.log.info(
      {
        user: files.user,
        path: files.display(request.path),
        bytes: request.size,
        resumedFrom: from,
        ms,
        replaced: replaced > 0,
      },
      'uploaded',
    );
    this.#ok({ sha256: digest, size: request.size });
  }

  async #get(files: UserFiles, request: Req<'get'>): Promise<void> {
    const handle: FileHandle = await files.openRead(request.path);
    try {
      const info = await handle.stat();
      if (!info.isFile())
        throw new SockitError(ErrorCode.INVALID_ARGUMENT, `"${request.path}" is not a file`);
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
      this.#ok({ size, from, mtime: Math.round(info.mtimeMs) });
      const began = Date.now();
      await sendRange(this.#channel, handle, from, size, hash);
      this.#ok({ sha256: hash.digest('hex') });
      this.#conn.log.info(
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
}

/** Errors after which the connection closes (its refusal is still sent). */
const FATAL = new WeakSet<Error>();

function fatal(err: SockitError): SockitError {
  FATAL.add(err);
  return err;
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
};

/** A refusal to send for `err`, or undefined for an error that is a bug. */
function asRefusal(err: unknown): SockitError | undefined {
  if (err instanceof SockitError) return err;
  const known = ERRNO_REFUSALS[(err as NodeJS.ErrnoException)?.code ?? ''];
  return known ? new SockitError(known[0], known[1]) : undefined;
}
