/**
 * One connection to the file service: greeting, log-in (or registration), then requests
 * until the client leaves. Every request is checked against its schema; every path is
 * confined to the user's home; every refusal is an answer with a stable code, and the
 * connection goes on unless the stream itself can no longer be trusted.
 */
import { tlsExporter } from '../auth/challenge.js';
import type { LoginServer } from '../auth/login-server.js';
import { isOutOfStep, ThrottledError } from '../auth/login-transport.js';
import { checkUserName } from '../auth/names.js';
import type { UserStore } from '../auth/store.js';
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import { Channel, type PreLoginLimits } from '../runtime/channel.js';
import type { ConfinedRoot } from '../runtime/confine.js';
import { firstIssue } from '../runtime/schema.js';
import type { Connection } from '../runtime/tcp.js';
import { FILES_PROTOCOL_VERSION, type Request, Request as RequestSchema } from './protocol.js';
import { serveGet } from './session-get.js';
import {
  asRefusal,
  fatal,
  isFatal,
  type LandingTurn,
  PROGRESS_MS,
  type Req,
  type RequestIo,
} from './session-io.js';
import { servePut, type UploadShared } from './session-put.js';
import { type SumShared, serveSum } from './session-sum.js';
import { UserFiles } from './storage.js';
import { countsSettled, forgetUsage, recordUsage } from './usage.js';

export interface SessionLimits {
  maxFileSize: number;
  minIterations: number;
}

export interface SessionShared extends UploadShared, SumShared {
  root: ConfinedRoot;
  store: UserStore;
  allowRegister: boolean;
  /** Log-in and registration, shared by all connections (throttles, in-flight attempts). */
  login: LoginServer;
  limits: SessionLimits;
  /** Limits on messages before log-in (see `Channel`). */
  preLogin?: PreLoginLimits;
  /** After log-in, a begun request's deadline to arrive whole, in ms. */
  requestTimeoutMs: number;
}

export { throttleKey } from '../auth/login-server.js';

/** Longest a connection answers buffered requests before other connections get a turn. */
const YIELD_EVERY_MS = 1;

/**
 * Eager puts of one connection read and still landing (syncing, then named and answered in
 * order), at most: each holds its folder open and its bytes reserved against the quota.
 */
const LANDING_DEPTH = 8;

/**
 * An upload of this many bytes or more switches its connection to one reused 256 KiB read
 * buffer, kept until the connection closes (1 GiB upload, server CPU 2.2-4.4 s -> 1.3-1.6 s).
 */
const ADOPT_READS_AT = 1024 * 1024;

/** What a request that asked for progress is told it is being worked on, until its answer. */
const WORKING: Partial<Record<Request['op'], string>> = {
  list: 'listing',
  rm: 'removing',
  put: 'checking',
  get: 'hashing',
};

export class FileSession {
  readonly #conn: Connection;
  readonly #shared: SessionShared;
  readonly #channel: Channel;
  /** What an upload or a download sees of this connection. */
  readonly #io: RequestIo;
  #files: UserFiles | undefined;
  /** This connection's log-in tally (see `LoginServer.authenticate`). */
  readonly #logins = { attempts: 0, throttled: 0 };
  /** Settles once every request read so far has been answered (never rejects). */
  #answered: Promise<void> = Promise.resolve();
  /** Eager puts still landing, oldest first. */
  readonly #landing: Promise<void>[] = [];
  /** Whether the request being served asked to hear that it is worked on (see RequestIo.aloud). */
  #progress = false;
  /** What says so about once a second, until the next answer. */
  #aloud: (() => Record<string, unknown>) | undefined;
  /** Waits under way that asked to be heard (see RequestIo.waiting), and what says so. */
  #waits = 0;
  #waitWhat = '';
  /**
   * The one timer that says both, made on first need and re-armed (`refresh`) from then on:
   * most requests ask and are answered well within PROGRESS_MS, and a timer made and cleared
   * for each of them was work on the path of a folder of small files.
   */
  #ticker: NodeJS.Timeout | undefined;

  constructor(conn: Connection, shared: SessionShared) {
    this.#conn = conn;
    this.#shared = shared;
    this.#channel = new Channel(conn.socket, {
      maxMessageSize: 1024 * 1024,
      // A request is a few KiB of JSON (file bytes come as raw runs, which this does not
      // bound): once begun it arrives whole in time (two minutes by default) or the
      // connection ends, so that a peer dripping a byte a second cannot hold a message
      // buffer open for ever.
      frameTimeoutMs: shared.requestTimeoutMs,
      preLogin: shared.preLogin ?? {},
      // A socket a server accepted reads into a fresh 64 KiB buffer each time; for a large
      // upload, into one reused buffer instead (see Channel's adoptReadsAt).
      adoptReadsAt: ADOPT_READS_AT,
    });
    conn.onAuthenticated(() => this.#channel.authenticate());
    this.#io = {
      channel: this.#channel,
      log: conn.log,
      ok: (fields) => this.#ok(fields),
      aloud: (message) => this.#speak(message),
      waiting: (asked, what, work) => this.#waiting(asked, what, work),
      expect: (op) => this.#expect(op),
      batch: { next: 0, firstRefused: Number.POSITIVE_INFINITY },
    };
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
    let yielded = performance.now();
    const stop = (): void => {
      // Eager puts still landing are answered first.
      if (idle) void this.#answered.then(() => this.#conn.socket.end());
    };
    this.#conn.closing.addEventListener('abort', stop);
    try {
      for (;;) {
        if (this.#conn.closing.aborted) break;
        try {
          idle = true;
          const request = await this.#next();
          idle = false;
          // A connection its peer cut (reset), or that the server is closing, takes no new
          // request: what was taken before lands and is answered, nothing after it starts.
          // (The runtime has stopped counting a cut connection against its limits.)
          if (this.#conn.socket.destroyed || this.#conn.closing.aborted) break;
          await this.#handle(request);
          // Requests already buffered would be answered one after another without a pause
          // (paths are walked synchronously): other connections get their turn in between,
          // at least every YIELD_EVERY_MS (a turn of the event loop per request costs a
          // small file's upload a few per cent).
          if (performance.now() - yielded >= YIELD_EVERY_MS) {
            await new Promise<void>((resolve) => setImmediate(resolve));
            yielded = performance.now();
          }
        } catch (err) {
          idle = false;
          // Answers keep the order of the requests: eager puts still landing answer first.
          await this.#answered;
          if (isSockitError(err, ErrorCode.CONNECTION_CLOSED)) break;
          const refusal = asRefusal(err);
          if (!refusal) throw err;
          this.#refuse(refusal.code, refusal.message, refusal);
          // The stream is out of step (or the peer is told to go): no next request.
          if (isFatal(err)) throw err;
        }
      }
      await this.#answered;
      this.#endConnection();
    } catch (err) {
      await this.#answered;
      this.#conn.log.info({ err: (err as Error).message }, 'connection ended with an error');
      // Let the last refusal go out before the socket closes; a peer that does not close its
      // side is cut shortly after.
      const socket = this.#conn.socket;
      this.#endConnection();
      setTimeout(() => socket.destroy(), 2000).unref();
    } finally {
      this.#conn.closing.removeEventListener('abort', stop);
      clearTimeout(this.#ticker);
      await this.#files?.close();
    }
  }

  /**
   * Ends this side of the connection, and lets what the peer still sends go unread: a socket
   * paused with requests read ahead (the peer's close behind them) would otherwise never see
   * the peer close, and a stopping server would wait for it until its drain timeout.
   */
  #endConnection(): void {
    const socket = this.#conn.socket;
    socket.end();
    this.#channel.discard();
  }

  /**
   * The next request, validated. A message that breaks the framing or the schema ends the
   * connection: after it, the stream cannot be trusted to be in step.
   */
  async #next(): Promise<Request> {
    for (;;) {
      let header: Record<string, unknown>;
      try {
        header = (await this.#channel.receive()).header;
      } catch (err) {
        if (isSockitError(err) && err.code !== ErrorCode.CONNECTION_CLOSED) throw fatal(err);
        throw err;
      }
      const parsed = RequestSchema.safeParse(header);
      if (!parsed.success) {
        throw fatal(new SockitError(ErrorCode.BAD_REQUEST, `malformed request: ${firstIssue(parsed.error)}`));
      }
      // The client at work on its own (see protocol.ts, Busy): nothing to answer.
      if (parsed.data.op !== 'busy') return parsed.data;
    }
  }

  /** The next request, which must be `op` (the next step of an exchange under way). */
  async #expect<K extends Request['op']>(op: K): Promise<Req<K>> {
    const request = await this.#next();
    if (request.op !== op)
      throw fatal(new SockitError(ErrorCode.BAD_REQUEST, `expected ${op}, not ${request.op}`));
    return request as Req<K>;
  }

  #refuse(code: string, message: string, err?: unknown): void {
    const extra = err instanceof ThrottledError ? { retryAfterMs: err.retryAfterMs } : {};
    this.#hush();
    this.#channel.send({ ok: false, code, message, ...extra });
  }

  #ok(fields: Record<string, unknown> = {}): void {
    this.#hush();
    this.#channel.send({ ok: true, ...fields });
  }

  /** See RequestIo.aloud. */
  #speak(message: () => Record<string, unknown>): void {
    if (!this.#progress) return;
    const started = this.#aloud === undefined;
    this.#aloud = message;
    if (started) this.#arm();
  }

  /** See RequestIo.waiting. */
  async #waiting<T>(asked: boolean, what: string, work: () => Promise<T>): Promise<T> {
    if (!asked) return work();
    if (this.#waits++ === 0) {
      this.#waitWhat = what;
      this.#arm();
    }
    try {
      return await work();
    } finally {
      this.#waits--;
    }
  }

  /** Stops saying that the request is being worked on: an answer goes out. */
  #hush(): void {
    this.#aloud = undefined;
  }

  /**
   * The ticker's next tick PROGRESS_MS from now. It may still be armed from an earlier request
   * that was answered sooner: a tick with nothing to say does nothing and is not re-armed.
   */
  #arm(): void {
    if (this.#ticker) {
      this.#ticker.refresh();
      return;
    }
    this.#ticker = setTimeout(() => this.#tick(), PROGRESS_MS);
  }

  #tick(): void {
    const aloud = this.#aloud;
    if (aloud === undefined && this.#waits === 0) return;
    if (this.#conn.socket.destroyed) return;
    if (aloud) this.#channel.send({ ok: true, ...aloud() });
    if (this.#waits > 0) this.#channel.send({ ok: true, busy: this.#waitWhat });
    this.#ticker?.refresh();
  }

  async #handle(request: Request): Promise<void> {
    if (request.op === 'auth') return this.#auth(request);
    if (request.op === 'register') return this.#register(request);
    const files = this.#files;
    if (!files) throw new SockitError(ErrorCode.AUTH_FAILED, 'log in first');
    if (request.op === 'put' && request.eager) return this.#eagerPut(files, request);
    // Anything else sees the eager puts before it landed, and answers after them.
    await this.#answered;
    // Nothing else answers meanwhile: no eager put is landing, no next request is read.
    this.#progress = request.op === 'sum' || ('progress' in request && request.progress === true);
    const working = WORKING[request.op];
    if (working) this.#speak(() => ({ busy: working }));
    try {
      await this.#serve(files, request);
    } finally {
      this.#hush();
      this.#progress = false;
    }
  }

  async #serve(files: UserFiles, request: Request): Promise<void> {
    switch (request.op) {
      case 'list': {
        const entries = await files.list(request.path ?? '', request.recursive ?? false);
        this.#hush();
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
        await this.#remove(files, request);
        return this.#ok();
      case 'put':
        return servePut(this.#io, this.#shared, files, request);
      case 'get':
        return serveGet(this.#io, files, request);
      case 'sum':
        return serveSum(this.#io, this.#shared, files, request);
      default:
        throw new SockitError(ErrorCode.BAD_REQUEST, `"${request.op}" is out of place here`);
    }
  }

  /**
   * Serves an eager put until its bytes are read; its landing goes on while the next requests
   * are read, and answers in its turn (see servePut). Refused before its bytes were all read,
   * it is answered here, after the earlier requests; refused later, by its landing.
   */
  async #eagerPut(files: UserFiles, request: Req<'put'>): Promise<void> {
    while (this.#landing.length >= LANDING_DEPTH) await this.#landing[0];
    const previous = this.#answered;
    let wake: () => void = () => {};
    const read = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const turn: LandingTurn & { landing: boolean } = {
      landing: false,
      readOn: () => {
        turn.landing = true;
        wake();
      },
      previous,
    };
    const serving = servePut(this.#io, this.#shared, files, request, turn);
    const landed = serving.then(
      () => undefined,
      (err: unknown) => {
        if (turn.landing) this.#landingFailed(err);
      },
    );
    this.#answered = landed;
    this.#landing.push(landed);
    void landed.then(() => this.#landing.splice(this.#landing.indexOf(landed), 1));
    try {
      await Promise.race([serving, read]);
    } catch (err) {
      await previous;
      throw err;
    }
  }

  /**
   * An eager put that failed after its bytes were read, in its turn: its refusal is sent now.
   * One that is a bug, or leaves the stream out of step, also ends the connection.
   */
  #landingFailed(err: unknown): void {
    const refusal = asRefusal(err);
    if (refusal) this.#refuse(refusal.code, refusal.message, refusal);
    if (refusal && !isFatal(err)) return;
    this.#conn.log.info({ err: (err as Error).message }, 'connection ended with an error');
    const socket = this.#conn.socket;
    socket.end();
    setTimeout(() => socket.destroy(), 2000).unref();
  }

  /** Removes a file or folder, and what it held from the user's stored usage. */
  async #remove(files: UserFiles, request: Req<'rm'>): Promise<void> {
    const { store } = this.#shared;
    const log = this.#conn.log;
    let bytes: number;
    await countsSettled(this.#shared, files.user);
    try {
      bytes = await files.remove(request.path, request.recursive ?? false);
    } catch (err) {
      // A tree may be half removed: its size is no longer known.
      if (request.recursive) await forgetUsage(store, files.user, log);
      throw err;
    }
    await recordUsage(store, files.user, -bytes, log);
    log.info({ user: files.user, path: files.display(request.path), bytes }, 'removed');
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
      // Once the attempt holds its account's slot, the guard spares the connection for a while.
      loginStarted: () => this.#conn.loginStarted(),
      log: this.#conn.log,
    };
    try {
      await this.#shared.login.authenticate(transport, request, peer, this.#logins, async (record) => {
        const files = new UserFiles(this.#shared.root, checkUserName(record.name));
        await files.ensure();
        // Logged in: the guard's log-in deadline ends, the channel's pre-log-in limits lift;
        // refused (ERR_TOO_MANY_CONNECTIONS) before the client is told it is in.
        this.#conn.authenticate(record.name);
        this.#files = files;
      });
    } catch (err) {
      if (isOutOfStep(err)) throw fatal(err as SockitError);
      throw err;
    }
  }

  async #register(request: Req<'register'>): Promise<void> {
    const peer = { address: this.#conn.socket.remoteAddress ?? '?', log: this.#conn.log };
    await this.#shared.login.register(request, peer);
    this.#ok();
  }
}
