/**
 * `sockit chat serve`'s listeners: one TCP port (plain or TLS) that tells its clients apart by
 * their first bytes, and UDP datagrams on the same port number.
 *
 * - A native client opens with an envelope, whose 4-byte length starts with a zero byte.
 * - `GET ` is an HTTP request: a WebSocket upgrade, when a WebSocket acceptor is given.
 * - Anything else is a person with `nc` or telnet (line mode), whose first line is a nick.
 *   A client that says nothing for `greetAfterMs` is one too (it waits for a prompt), and is
 *   asked for its nick; native and WebSocket clients speak as soon as they connect.
 */
import type net from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type { LoginServer } from '../auth/login-server.js';
import { EnvelopeConnection } from '../runtime/conn.js';
import { CheckedLineConnection } from '../runtime/lines.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import { type Connection, serveTcp, type TcpService } from '../runtime/tcp.js';
import { serveUdp, type UdpService } from '../runtime/udp.js';
import { MAX_LINE_BYTES, runLineSession } from './line-mode.js';
import { DEFAULT_ROOM } from './names.js';
import { envelopeLink, MAX_COMMAND_SIZE, MAX_EVENT_SIZE } from './native.js';
import { CHAT_FLUSH_GAP_MS, CHAT_PORT } from './port.js';
import type { ChatServer } from './server.js';
import { runChatSession, type SessionConnection } from './session.js';
import { UdpRoom } from './udp.js';

export { CHAT_PORT };

const NO_HTTP =
  'HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 38\r\nConnection: close\r\n\r\n' +
  'no WebSocket on this sockit chat port\n';

export interface ChatListenOptions {
  server: ChatServer;
  login?: LoginServer;
  host?: string;
  /** Default 7788; 0 picks a free port (UDP then binds the same number). */
  port?: number;
  tls?: SecureContextOptions;
  /** Datagrams to the port land in `lobby`. Default true. */
  udp?: boolean;
  /** Takes a connection that opened with `GET ` (an HTTP upgrade to WebSocket). */
  webSocket?: (socket: net.Socket, conn: SessionConnection) => void | Promise<void>;
  /** A silent client is asked for its nick after this long, in ms. Default 1000. */
  greetAfterMs?: number;
  maxConnections?: number;
  maxPerAddress?: number;
  /** A client must choose a nick or log in within this, in ms. Default 60000 (a person types). */
  loginTimeoutMs?: number;
  idleTimeoutMs?: number;
  log?: Logger;
}

export interface ChatListeners {
  tcp: TcpService;
  udp?: UdpService;
  close(): Promise<void>;
}

/**
 * @example
 * ```ts
 * const server = new ChatServer({ hub: new ChatHub() });
 * const listeners = await listenChat({ server, port: 0 });
 * console.log(listeners.tcp.address.port);
 * ```
 */
export async function listenChat(options: ChatListenOptions): Promise<ChatListeners> {
  const log = options.log ?? silentLogger;
  const frames = new WeakMap<object, Buffer>();
  const greetAfter = options.greetAfterMs ?? 1000;
  const tcp = await serveTcp({
    ...chatTcpOptions(options, log),
    name: 'chat',
    port: options.port ?? CHAT_PORT,
    handler: async (conn) => {
      const first = await firstBytes(conn.socket, greetAfter);
      // Gone before a byte: its slot is freed now (the socket is half-open, not closed).
      if (first === null) {
        conn.socket.destroy();
        return;
      }
      const session = sessionConnection(conn);
      if (first !== undefined && first[0] === 0) {
        const envelopes = new EnvelopeConnection(conn.socket, {
          maxMessageSize: MAX_COMMAND_SIZE,
          maxHeaderSize: MAX_EVENT_SIZE,
          maxQueuedBytes: 2 * MAX_EVENT_SIZE,
          maxQueuedMessages: 4096,
          flushGapMs: CHAT_FLUSH_GAP_MS,
          service: 'chat',
          log: conn.log,
        });
        conn.socket.resume();
        await runChatSession(envelopeLink(envelopes, frames, conn.log), session, options);
        await envelopes.closed;
        return;
      }
      if (first !== undefined && first.subarray(0, 4).toString('latin1') === 'GET ') {
        if (options.webSocket) {
          await options.webSocket(conn.socket, session);
          return;
        }
        // A browser, with nothing to serve it: a short HTTP answer rather than chat lines.
        conn.socket.end(NO_HTTP);
        return;
      }
      const lines = new CheckedLineConnection(conn.socket, {
        maxLineLength: MAX_LINE_BYTES,
        newline: '\r\n',
        maxQueuedBytes: 1024 * 1024,
        flushGapMs: CHAT_FLUSH_GAP_MS,
        service: 'chat',
        log: conn.log,
      });
      if (first === undefined) lines.send('sockit chat: your nick? (then type to talk; /help for commands)');
      conn.socket.resume();
      await runLineSession(lines, session, options.server);
      await lines.closed;
    },
  });
  let udp: UdpService | undefined;
  let room: UdpRoom | undefined;
  if (options.udp ?? true) {
    const port = tcp.address.port;
    room = new UdpRoom({ server: options.server, room: DEFAULT_ROOM, ownPort: port, log });
    const taking = room;
    udp = await serveUdp({
      name: 'chat',
      host: options.host,
      port,
      log,
      onMessage: (msg, peer) => taking.datagram(msg, peer),
    }).catch(async (err: unknown) => {
      taking.close();
      await tcp.close();
      throw err;
    });
  }
  return {
    tcp,
    ...(udp ? { udp } : {}),
    async close() {
      room?.close();
      await Promise.all([tcp.close(), udp?.close()]);
    },
  };
}

/** What every chat listener takes for its TCP guard. */
export type ChatGuardOptions = Pick<
  ChatListenOptions,
  'host' | 'tls' | 'maxConnections' | 'maxPerAddress' | 'loginTimeoutMs' | 'idleTimeoutMs'
>;

/** The guard's settings of every chat listener (a log-in deadline a person typing can keep). */
export function chatTcpOptions(options: ChatGuardOptions, log: Logger) {
  return {
    host: options.host,
    tls: options.tls,
    login: true,
    loginTimeoutMs: options.loginTimeoutMs ?? 60_000,
    maxConnections: options.maxConnections,
    maxPerAddress: options.maxPerAddress,
    idleTimeoutMs: options.idleTimeoutMs,
    log,
  };
}

/** What a chat session needs of a guarded TCP connection. */
export function sessionConnection(conn: Connection): SessionConnection {
  return {
    address: conn.address,
    log: conn.log,
    authenticate: (user) => conn.authenticate(user),
    loginStarted: () => conn.loginStarted(),
    socket: conn.socket,
    closing: conn.closing,
  };
}

/**
 * The first bytes the client sends, put back to be read again (the socket is left paused);
 * undefined when it sends nothing for `ms`; null when it leaves first.
 */
function firstBytes(socket: net.Socket, ms: number): Promise<Buffer | undefined | null> {
  return new Promise((resolve) => {
    const done = (value: Buffer | undefined | null): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      resolve(value);
    };
    const onData = (chunk: Buffer): void => {
      done(chunk);
      socket.unshift(chunk);
    };
    const onEnd = (): void => done(null);
    const timer = setTimeout(() => done(undefined), ms);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
}
