/**
 * One client of the chat's own protocol (docs/chat.md, "The native protocol"), whatever
 * carries its messages: framed envelopes over TCP or TLS (native.ts), or WebSocket text
 * frames. Every message is one JSON object.
 *
 *   client: {op:'hello', version:1}
 *   server: {type:'hello', service:'sockit-chat', version:1, mechanisms, register}
 *   then, as a guest:    client {type:'nick', nick}          (a ChatCommand)
 *   or, for an account:  the log-in exchange of auth/ (login-transport.ts), {op:'auth', ...}
 *   then commands:       client {type:..., ..., ref?}        (ChatCommand, ref echoed on refusal)
 *   server events:       ChatEvent; {..., echo:true} for the client's own message coming back
 *   refusals:            {type:'refused', code, message, retryAfterMs?, ref?}
 *   the end:             {type:'bye', code, reason}, then the server closes
 */
import { tlsExporter } from '../auth/challenge.js';
import type { LoginServer } from '../auth/login-server.js';
import { AuthRequest, isOutOfStep, RegisterRequest, refusal } from '../auth/login-transport.js';
import type { UserRecord } from '../auth/store.js';
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import type { Logger } from '../runtime/log.js';
import { type ChatEvent, parseCommand, type Refusal } from './protocol.js';
import type { ChatPeer, ChatServer } from './server.js';

export const CHAT_PROTOCOL_VERSION = 1;
export const CHAT_SERVICE = 'sockit-chat';

/** Longest `ref` a client may attach to a command. */
const MAX_REF = 64;

/** How messages travel for one client. */
export interface MessageLink {
  /** The next message; rejects with `ERR_CONNECTION_CLOSED` when the client is gone. */
  receive(): Promise<Record<string, unknown>>;
  /**
   * Writes one message. `shared`: the same object goes to many clients unchanged, so its
   * serialisation may be cached (keyed by the object).
   */
  send(message: object, shared?: boolean): void;
  /** Closes after what was written. */
  end(): void;
  /** Bytes written and not yet sent (for the server's cap on all clients' queues). */
  readonly queuedBytes?: number;
  /** Closes at once, dropping what is queued. */
  destroy?(): void;
}

/** What a session needs of its connection (the guard's side of it; see runtime/tcp.ts). */
export interface SessionConnection {
  /** The peer's address, for log-in throttles. */
  address: string;
  log: Logger;
  /** The client registered (guest) or logged in (account): the guard's log-in deadline ends. */
  authenticate(user?: string): void;
  loginStarted?: () => () => void;
  /** The underlying socket, for TLS channel binding of shared-secret log-ins. */
  socket?: Parameters<typeof tlsExporter>[0];
  /** Aborted when the server stops: the client is told so and let go. */
  closing?: AbortSignal;
}

/**
 * Attaches a transport's peer to the server, which lets it go when `closing` aborts; a chat
 * that is full tells the peer so and closes it (undefined). `unwatch` ends the watch.
 */
export function attachPeer(
  server: ChatServer,
  peer: ChatPeer,
  closing: AbortSignal | undefined,
): { session: string; unwatch: () => void } | undefined {
  const attached = server.attach(peer);
  if ('refusal' in attached) {
    peer.close(attached.refusal.code, attached.refusal.message);
    return undefined;
  }
  return { session: attached.session, unwatch: closeOnStop(closing, peer) };
}

/** Lets `peer` go when `closing` aborts; returns the function that stops watching. */
function closeOnStop(closing: AbortSignal | undefined, peer: ChatPeer): () => void {
  if (!closing) return () => {};
  const stop = (): void => peer.close(ErrorCode.CONNECTION_CLOSED, 'the chat server is stopping');
  if (closing.aborted) stop();
  closing.addEventListener('abort', stop, { once: true });
  return () => closing.removeEventListener('abort', stop);
}

export interface SessionOptions {
  server: ChatServer;
  /** Accounts' log-in; without it only guests may join. */
  login?: LoginServer;
}

/**
 * Serves one client until it leaves or is let go.
 *
 * @example
 * ```ts
 * await runChatSession(link, { address, log, authenticate: () => {} }, { server, login });
 * ```
 */
export async function runChatSession(
  link: MessageLink,
  conn: SessionConnection,
  options: SessionOptions,
): Promise<void> {
  const { server, login } = options;
  let closed = false;
  const peer: ChatPeer = {
    deliver(event: ChatEvent, echo: boolean) {
      if (echo) link.send({ ...event, echo: true });
      else link.send(event, true);
    },
    close(code, reason) {
      if (closed) return;
      closed = true;
      link.send({ type: 'bye', code, reason });
      link.end();
    },
    queuedBytes: () => link.queuedBytes ?? 0,
    drop(code, reason) {
      if (closed) return;
      closed = true;
      if (link.destroy) link.destroy();
      else {
        link.send({ type: 'bye', code, reason });
        link.end();
      }
    },
  };
  const hello = await link.receive().catch(() => undefined);
  if (hello === undefined) return;
  if (hello.op !== 'hello' || hello.version !== CHAT_PROTOCOL_VERSION) {
    peer.close(ErrorCode.BAD_REQUEST, `expected {op:'hello', version:${CHAT_PROTOCOL_VERSION}}`);
    return;
  }
  const attached = attachPeer(server, peer, conn.closing);
  if (!attached) return;
  const { session, unwatch } = attached;
  link.send({
    type: 'hello',
    service: CHAT_SERVICE,
    version: CHAT_PROTOCOL_VERSION,
    mechanisms: login?.mechanisms ?? [],
    register: login?.allowRegister ?? false,
  });
  let registered = false;
  const tally = { attempts: 0, throttled: 0 };
  const refuse = (r: Refusal, ref?: string): void => {
    link.send({ type: 'refused', ...r, ...(ref === undefined ? {} : { ref }) });
  };
  try {
    while (!closed) {
      const message = await link.receive();
      if (message.op === 'auth' || message.op === 'register') {
        if (registered) {
          refuse({ code: ErrorCode.FORBIDDEN, message: 'already in the chat: log in on a new connection' });
          continue;
        }
        if (!login) {
          refuse({ code: ErrorCode.UNSUPPORTED, message: 'this chat server takes guests only' });
          continue;
        }
        const account = await logIn(link, conn, login, message, tally);
        if (account === undefined) continue;
        registered = true;
        const r = server.login(session, account);
        if (r) refuse(r);
        continue;
      }
      const ref = typeof message.ref === 'string' && message.ref.length <= MAX_REF ? message.ref : undefined;
      const { ref: _ref, ...body } = message;
      const command = parseCommand(body);
      if ('code' in command) {
        refuse(command, ref);
        continue;
      }
      const r = server.command(session, command);
      if (r) refuse(r, ref);
      else if (!registered && command.type === 'nick') {
        registered = true;
        conn.authenticate();
      }
    }
  } catch (err) {
    if (!isSockitError(err, ErrorCode.CONNECTION_CLOSED)) {
      conn.log.info({ err: (err as Error).message }, 'chat connection ended with an error');
      if (isSockitError(err)) peer.close(err.code, err.message);
    }
  } finally {
    unwatch();
    server.detach(session);
    if (!closed) {
      closed = true;
      link.end();
    }
  }
}

/**
 * One log-in or registration exchange, answered in auth/'s messages. The account on
 * success; undefined after a refusal (the client may try again, up to the log-in limits).
 */
async function logIn(
  link: MessageLink,
  conn: SessionConnection,
  login: LoginServer,
  message: Record<string, unknown>,
  tally: { attempts: number; throttled: number },
): Promise<UserRecord | undefined> {
  const peer = {
    address: conn.address,
    ...(conn.socket ? { channelBinding: tlsExporter(conn.socket) } : {}),
    ...(conn.loginStarted ? { loginStarted: conn.loginStarted } : {}),
    log: conn.log,
  };
  try {
    if (message.op === 'register') {
      const parsed = RegisterRequest.safeParse(message);
      if (!parsed.success) throw new SockitError(ErrorCode.BAD_REQUEST, 'malformed registration');
      await login.register(parsed.data, peer);
      link.send({ ok: true });
      return undefined;
    }
    const parsed = AuthRequest.safeParse(message);
    if (!parsed.success) throw new SockitError(ErrorCode.BAD_REQUEST, 'malformed log-in request');
    let account: UserRecord | undefined;
    const transport = { send: (m: Record<string, unknown>) => link.send(m), receive: () => link.receive() };
    await login.authenticate(transport, parsed.data, peer, tally, async (record) => {
      // Refused (ERR_TOO_MANY_CONNECTIONS) before the client is told it is in.
      conn.authenticate(record.name);
      account = record;
    });
    return account;
  } catch (err) {
    if (!isSockitError(err)) throw err;
    link.send(refusal(err));
    // Out of step, or out of attempts: the stream cannot be trusted to follow.
    if (isOutOfStep(err)) throw err;
    return undefined;
  }
}
