/**
 * The native chat client (the protocol of session.ts over envelopes): connects, joins as a
 * guest or logs in to an account with SCRAM (the password never travels), then sends commands
 * and yields what the server sends, in order.
 */
import type { KeyCache } from '../auth/key-cache.js';
import { scramLogin } from '../auth/login-client.js';
import { ErrorCode, formatHostPort, isSockitError, SockitError } from '../errors.js';
import { EnvelopeConnection } from '../runtime/conn.js';
import { type DialOptions, dial } from '../runtime/dial.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import { MAX_EVENT_SIZE } from './native.js';
import { CHAT_PORT } from './port.js';
import type { ChatCommand, ChatEvent, Refusal } from './protocol.js';
import { CHAT_PROTOCOL_VERSION, CHAT_SERVICE } from './session.js';

/** What the client yields: the hub's events, refusals of its commands, and the server's goodbye. */
export type ClientEvent =
  | (ChatEvent & { echo?: boolean })
  | ({ type: 'refused'; ref?: string } & Refusal)
  | { type: 'bye'; code: ErrorCode; reason: string };

export interface ChatClientOptions extends Omit<DialOptions, 'port' | 'onread'> {
  /** Default 7788. */
  port?: number;
  /** Join as a guest with this nick... */
  nick?: string;
  /** ...or log in to this account. */
  user?: string;
  password?: string | (() => Promise<string>);
  keyCache?: KeyCache;
  log?: Logger;
}

type Welcome = Extract<ChatEvent, { type: 'welcome' }>;

const codes = new Set<string>(Object.values(ErrorCode));

/**
 * @example
 * ```ts
 * const chat = await ChatClient.connect({ host: 'localhost', nick: 'ann' });
 * chat.send({ type: 'join', room: 'lobby' });
 * for await (const event of chat) if (event.type === 'message') console.log(event.message.text);
 * ```
 */
export class ChatClient implements AsyncIterable<ClientEvent> {
  readonly welcome: Welcome;
  readonly server: string;
  readonly #conn: EnvelopeConnection;
  readonly #incoming: AsyncIterator<{ header: Record<string, unknown> }>;

  private constructor(
    conn: EnvelopeConnection,
    incoming: AsyncIterator<{ header: Record<string, unknown> }>,
    welcome: Welcome,
    server: string,
  ) {
    this.#conn = conn;
    this.#incoming = incoming;
    this.welcome = welcome;
    this.server = server;
  }

  static async connect(options: ChatClientOptions): Promise<ChatClient> {
    if ((options.nick === undefined) === (options.user === undefined)) {
      throw new SockitError(ErrorCode.INVALID_ARGUMENT, 'give a nick (guest) or a user (account), not both');
    }
    const port = options.port ?? CHAT_PORT;
    const where = formatHostPort(options.host, port);
    const log = options.log ?? silentLogger;
    const socket = await dial({ ...options, port });
    log.debug({ server: where }, 'connected');
    // The queue out holds only what this client sends: a script may send thousands at once.
    const conn = new EnvelopeConnection(socket, {
      maxMessageSize: MAX_EVENT_SIZE,
      maxHeaderSize: MAX_EVENT_SIZE,
      maxQueuedBytes: 64 * 1024 * 1024,
      maxQueuedMessages: 100_000,
    });
    const incoming = conn[Symbol.asyncIterator]();
    const next = async (): Promise<Record<string, unknown>> => {
      const got = await incoming.next();
      if (got.done) throw new SockitError(ErrorCode.CONNECTION_CLOSED, `${where} closed the connection`);
      return got.value.header;
    };
    const silent = setTimeout(() => socket.destroy(), options.timeoutMs ?? 10_000);
    try {
      conn.send({ header: { op: 'hello', version: CHAT_PROTOCOL_VERSION } });
      const hello = await next().catch((err: unknown) => {
        throw new SockitError(
          ErrorCode.BAD_REPLY,
          `${where} sent no greeting: is it a sockit chat server${options.tls ? '' : ' (over TLS? use --tls)'}?`,
          { cause: err },
        );
      });
      if (hello.type !== 'hello' || hello.service !== CHAT_SERVICE) {
        throw new SockitError(ErrorCode.BAD_REPLY, `${where} is not a sockit chat server`);
      }
      clearTimeout(silent);
      if (options.user !== undefined) {
        const transport = {
          send: (m: Record<string, unknown>) => void conn.send({ header: m }),
          receive: next,
        };
        await scramLogin(transport, options.user, options.password ?? '', {
          ...(options.keyCache
            ? { cache: options.keyCache, server: `${options.tls ? 'tls:' : ''}${where}` }
            : {}),
          log,
        });
      } else {
        conn.send({ header: { type: 'nick', nick: options.nick } });
      }
      for (;;) {
        const event = parseEvent(await next());
        if (event.type === 'welcome') return new ChatClient(conn, incoming, event, where);
        if (event.type === 'refused' || event.type === 'bye') throw refusalError(event);
      }
    } catch (err) {
      clearTimeout(silent);
      socket.destroy();
      throw err;
    }
  }

  /** Sends a command; `ref` comes back on its refusal. False when the connection is gone. */
  send(command: ChatCommand, ref?: string): boolean {
    return this.#conn.send({ header: ref === undefined ? command : { ...command, ref } });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ClientEvent> {
    for (;;) {
      let got: IteratorResult<{ header: Record<string, unknown> }>;
      try {
        got = await this.#incoming.next();
      } catch (err) {
        if (isSockitError(err)) throw err;
        throw new SockitError(ErrorCode.CONNECTION_CLOSED, `${this.server}: ${(err as Error).message}`);
      }
      if (got.done) return;
      yield parseEvent(got.value.header);
    }
  }

  /** Sends what is queued, then closes. */
  async close(): Promise<void> {
    await this.#conn.close();
  }
}

function parseEvent(header: Record<string, unknown>): ClientEvent {
  if (typeof header.type !== 'string') {
    throw new SockitError(ErrorCode.BAD_REPLY, 'the server sent a message without a type');
  }
  return header as unknown as ClientEvent;
}

/** A refusal or goodbye as the error it stands for. */
export function refusalError(event: { code: string; message?: string; reason?: string }): SockitError {
  const code = codes.has(event.code) ? (event.code as ErrorCode) : ErrorCode.BAD_REPLY;
  return new SockitError(code, String(event.message ?? event.reason ?? 'refused').slice(0, 500));
}
