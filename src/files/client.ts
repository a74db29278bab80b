/**
 * The file service's client: connect, log in, then list, upload, download, remove.
 *
 * Uploads and downloads check SHA-256 end to end and resume: a download writes to
 * `LOCAL.sockit-part` and renames it only once verified; an upload picks up the part the
 * server kept, once both sides agree on the hash of the bytes already there.
 */
import { createHash } from 'node:crypto';
import { open, rename, stat, unlink } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { z } from 'zod';
import { tlsExporter } from '../auth/challenge.js';
import type { KeyCache } from '../auth/key-cache.js';
import { registerAccount, scramLogin, secretLogin } from '../auth/login-client.js';
import type { LoginTransport } from '../auth/login-transport.js';
import type { SecretKey } from '../auth/secret-key.js';
import { ErrorCode, formatHostPort, SockitError } from '../errors.js';
import { Channel, ReusedReads } from '../runtime/channel.js';
import { Answers, type Entry, EntrySchema, FILES_PORT, Hello, Refusal } from './protocol.js';
import { FileSink, hashPrefix, type ProgressFn, peekHex, receiveRange, sendRange } from './transfer.js';

/** Suffix of a download in progress, beside its destination. */
export const PART_SUFFIX = '.sockit-part';

export interface ConnectOptions {
  host: string;
  port?: number;
  /** Use TLS; `ca` adds trusted certificates (PEM), e.g. a self-signed server's own. */
  tls?: { ca?: string | Buffer; servername?: string };
  /** Give up connecting after this long, in ms. Default 10000. */
  timeoutMs?: number;
}

export interface LoginOptions extends ConnectOptions {
  user: string;
  /** Log in with a password (SCRAM-SHA-256), or a function asked for it only when needed... */
  password?: string | (() => Promise<string>);
  /** ...or with the server's shared secret, acting as `user`. */
  secret?: SecretKey;
  /** Salted SCRAM keys kept from earlier log-ins (see `FileKeyCache`); off when absent. */
  keyCache?: KeyCache;
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

  private constructor(channel: Channel, hello: Hello, server: string) {
    this.#channel = channel;
    this.hello = hello;
    this.#server = server;
  }

  /** Connects and reads the greeting; log in next (or use `register`). */
  static async connect(options: ConnectOptions): Promise<FilesClient> {
    const port = options.port ?? FILES_PORT;
    const where = formatHostPort(options.host, port);
    // Plain TCP reads into one reused buffer; TLS decrypts into buffers of its own.
    const reads = new ReusedReads();
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new SockitError(
            ErrorCode.CONNECT_FAILED,
            `${where}: no answer within ${options.timeoutMs ?? 10_000} ms`,
          ),
        );
      }, options.timeoutMs ?? 10_000);
      const done = (): void => {
        clearTimeout(timer);
        socket.off('error', fail);
        resolve(socket);
      };
      const fail = (err: Error): void => {
        clearTimeout(timer);
        reject(new SockitError(ErrorCode.CONNECT_FAILED, `${where}: ${err.message}`, { cause: err }));
      };
      const socket: net.Socket = options.tls
        ? tls.connect(
            {
              host: options.host,
              port,
              ca: options.tls.ca,
              servername: options.tls.servername ?? servername(options.host),
            },
            done,
          )
        : net.connect({ host: options.host, port, noDelay: true, onread: reads.onread }, done);
      socket.once('error', fail);
    });
    socket.on('error', () => {}); // surfaced through the channel
    const channel = new Channel(socket, {
      maxMessageSize: 64 * 1024 * 1024,
      reads: options.tls ? undefined : reads,
    });
    // A server that says nothing (a TLS server reached without --tls waits for a handshake)
    // must not leave the client waiting forever.
    const silent = setTimeout(() => socket.destroy(), options.timeoutMs ?? 10_000);
    let hello: ReturnType<typeof Hello.safeParse>;
    try {
      hello = Hello.safeParse((await channel.receive()).header);
    } catch (err) {
      socket.destroy();
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
    return new FilesClient(channel, hello.data, `${options.tls ? 'tls' : 'tcp'}:${where}`);
  }

  /** Connects and logs in. */
  static async login(options: LoginOptions): Promise<FilesClient> {
    const client = await FilesClient.connect(options);
    try {
      if (options.secret) await client.loginWithSecret(options.user, options.secret);
      else await client.login(options.user, options.password ?? '', { cache: options.keyCache });
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
    });
  }

  /** Shared secret: both sides prove the key over fresh nonces, the user name and the TLS channel. */
  async loginWithSecret(user: string, secret: SecretKey): Promise<void> {
    this.#user = await secretLogin(this.#transport, user, secret, tlsExporter(this.#channel.socket));
  }

  /** Creates an account, when the server allows it. The password never leaves this machine. */
  async register(user: string, password: string, iterations?: number): Promise<void> {
    await registerAccount(this.#transport, user, password, iterations);
  }

  async list(path = '', recursive = false): Promise<Entry[]> {
    this.#channel.send({ op: 'list', path, recursive });
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
    return parsed.data;
  }

  async stat(path: string): Promise<Entry> {
    return (await this.#ask({ op: 'stat', path }, Answers.stat)).entry;
  }

  async mkdir(path: string, parents = false): Promise<void> {
    await this.#ask({ op: 'mkdir', path, parents }, Answers.done);
  }

  async remove(path: string, recursive = false): Promise<void> {
    await this.#ask({ op: 'rm', path, recursive }, Answers.done);
  }

  /**
   * Uploads `local` to `remote`. The file appears on the server only once it is whole and its
   * SHA-256 matches; an interrupted upload resumes from the server's part on the next call.
   */
  async upload(
    local: string,
    remote: string,
    options: { overwrite?: boolean; progress?: (sent: number, total: number) => void } = {},
  ): Promise<TransferResult> {
    const handle = await open(local, 'r');
    try {
      const size = (await handle.stat()).size;
      const offer = await this.#ask(
        { op: 'put', path: remote, size, overwrite: options.overwrite ?? false },
        Answers.putOffer,
      );
      let from = 0;
      let hash = createHash('sha256');
      if (offer.offset > 0 && offer.prefixSha256) {
        const prefix = await hashPrefix(handle, offer.offset);
        if (prefix && peekHex(prefix) === offer.prefixSha256) {
          from = offer.offset;
          hash = prefix;
        }
      }
      this.#channel.send({ op: 'put-from', offset: from });
      const progress: ProgressFn | undefined = options.progress && ((sent) => options.progress?.(sent, size));
      await sendRange(this.#channel, handle, from, size, hash, progress);
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
   * Downloads `remote` to `local`, through `local.sockit-part`, renamed once its SHA-256
   * matches the server's. A part left by an earlier attempt is continued when its bytes
   * match the server's first bytes, and started afresh otherwise.
   */
  async download(
    remote: string,
    local: string,
    options: { progress?: (received: number, total: number) => void } = {},
  ): Promise<TransferResult> {
    const partPath = `${local}${PART_SUFFIX}`;
    let offset = 0;
    let prefix: ReturnType<typeof createHash> | undefined;
    const existing = await open(partPath, 'r').catch(() => undefined);
    if (existing) {
      try {
        offset = (await existing.stat()).size;
        prefix = await hashPrefix(existing, offset);
      } finally {
        await existing.close();
      }
    }
    const start = await this.#ask(
      { op: 'get', path: remote, offset, prefixSha256: prefix && offset > 0 ? peekHex(prefix) : undefined },
      Answers.getStart,
    );
    const from = start.from;
    const hash = from > 0 && prefix ? prefix : createHash('sha256');
    const sink = new FileSink(await open(partPath, from > 0 ? 'r+' : 'w'), from);
    try {
      await receiveRange(this.#channel, sink, start.size - from, hash, (n) =>
        options.progress?.(from + n, start.size),
      );
    } catch (err) {
      await sink.abandon().catch(() => undefined);
      throw err;
    }
    await sink.finish();
    const end = await this.#answer(Answers.getEnd);
    const sha256 = hash.digest('hex');
    if (sha256 !== end.sha256) {
      await unlink(partPath).catch(() => undefined);
      throw new SockitError(
        ErrorCode.INTEGRITY,
        `"${remote}": the received bytes do not match the server's SHA-256`,
      );
    }
    const size = (await stat(partPath)).size;
    if (size !== start.size) {
      await unlink(partPath).catch(() => undefined);
      throw new SockitError(
        ErrorCode.INTEGRITY,
        `"${remote}": ${size} bytes on disk, ${start.size} expected`,
      );
    }
    await rename(partPath, local);
    return { size, sha256, resumedFrom: from };
  }

  close(): void {
    this.#channel.socket.end();
  }

  async #ask<S extends z.ZodType>(request: Record<string, unknown>, schema: S): Promise<z.infer<S>> {
    this.#channel.send(request);
    return this.#answer(schema);
  }

  async #answer<S extends z.ZodType>(schema: S): Promise<z.infer<S>> {
    return (await this.#answerWithBody(schema)).header;
  }

  async #answerWithBody<S extends z.ZodType>(schema: S): Promise<{ header: z.infer<S>; body: Buffer }> {
    const { header, body } = await this.#channel.receive();
    const refusal = Refusal.safeParse(header);
    if (refusal.success) {
      const code = Object.values(ErrorCode).find((c) => c === refusal.data.code) ?? ErrorCode.BAD_REPLY;
      throw new SockitError(code, refusal.data.message);
    }
    const parsed = schema.safeParse(header);
    if (!parsed.success) throw new SockitError(ErrorCode.BAD_REPLY, 'the server sent an answer out of place');
    return { header: parsed.data, body };
  }
}

/** SNI takes host names only, never IP literals (RFC 6066 §3). */
function servername(host: string): string | undefined {
  return net.isIP(host) === 0 ? host : undefined;
}
