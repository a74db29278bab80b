/**
 * The chat over WebSocket (RFC 6455), for browsers: the same JSON messages as the native
 * protocol (session.ts), one per text frame, at `/chat/ws`. Either on the chat's own port
 * (`listenChat` hands over a connection that opens with `GET `) or on a port of its own
 * (`serveChatWebSocket`, `sockit chat serve --ws-port`).
 *
 * The HTTP request is read by Node's own parser (an `http.Server` that never listens, given
 * each socket), the handshake and the frames by `ws`; the size of the request's head and the
 * time it may take are bounded, and Origin is checked when allowed origins are set.
 */
import http from 'node:http';
import type net from 'node:net';
import { WebSocketServer } from 'ws';
import { type Logger, silentLogger } from '../runtime/log.js';
import type { Service } from '../runtime/service.js';
import { serveTcp } from '../runtime/tcp.js';
import { MAX_COMMAND_SIZE, MAX_EVENT_SIZE } from './native.js';
import { type ChatGuardOptions, chatTcpOptions, sessionConnection } from './serve.js';
import { runChatSession, type SessionConnection, type SessionOptions } from './session.js';
import { CLOSE_GOING_AWAY, WebSocketLink } from './websocket-link.js';

/** Where the chat's WebSocket endpoint is, by default. */
export const CHAT_WS_PATH = '/chat/ws';

export interface WebSocketAcceptorOptions extends SessionOptions {
  /** The endpoint's path; another answers 404. Default `/chat/ws`. */
  path?: string;
  /**
   * Origins a browser may connect from (`https://chat.example`, compared without regard to
   * case), or a function that decides. Unset: the server's own, a page whose origin names the
   * host and port the request was sent to (its Host header), as the chat's own web client is;
   * any other site's page that a visitor opens is refused, or it could read the rooms and
   * talk in them through the visitor's browser (cross-site WebSocket hijacking). A request
   * without Origin (not a browser's) passes the default and a list; a function is asked
   * with `undefined`.
   */
  allowedOrigins?: readonly string[] | ((origin: string | undefined) => boolean);
  /** Largest message a client may send, in bytes. Default 64 KiB. */
  maxPayload?: number;
  /** Bytes waiting to go to one client before it is dropped as a slow reader. Default 2 MiB. */
  maxQueuedBytes?: number;
  /** How often clients are pinged, in ms; one that answers none in this time is cut. Default 30000. */
  pingIntervalMs?: number;
  /** The HTTP request must be whole within this, in ms. Default 10000. */
  upgradeTimeoutMs?: number;
  /** Largest HTTP request head, in bytes (431 beyond). Default 8 KiB. */
  maxHeaderSize?: number;
  /**
   * Answers plain HTTP requests under `/chat` (other than the endpoint itself): the web
   * client's pages. Unset: those are 404.
   */
  pages?: (req: http.IncomingMessage, res: http.ServerResponse) => unknown;
  log?: Logger;
}

export interface WebSocketAcceptor {
  /** Serves one connection (paused, its first bytes unread): resolves once it is closed. */
  accept(socket: net.Socket, conn: SessionConnection): Promise<void>;
  /** Refuses new requests (503) and closes every WebSocket (1001, after what is queued). */
  close(): Promise<void>;
  /** WebSocket clients connected now. */
  readonly connections: number;
  /** Bytes waiting to go to all clients (the sum that `maxQueuedBytes` bounds per client). */
  readonly queuedBytes: number;
}

/** How long close() waits for clients to answer the close handshake, in ms. */
const CLOSE_WAIT_MS = 2000;

interface Pending {
  conn: SessionConnection;
  timer: NodeJS.Timeout;
  session?: Promise<void>;
}

/**
 * @example
 * ```ts
 * const ws = webSocketAcceptor({ server, login, allowedOrigins: ['https://chat.example'] });
 * const listeners = await listenChat({ server, login, webSocket: (s, c) => ws.accept(s, c) });
 * // closing: await ws.close(); await listeners.close();
 * ```
 */
export function webSocketAcceptor(options: WebSocketAcceptorOptions): WebSocketAcceptor {
  const log = options.log ?? silentLogger;
  const path = options.path ?? CHAT_WS_PATH;
  const frames = new WeakMap<object, Buffer>();
  const pending = new Map<net.Socket, Pending>();
  const links = new Set<WebSocketLink>();
  const allowed = originCheck(options.allowedOrigins);
  let closing = false;
  const parser = http.createServer({ maxHeaderSize: options.maxHeaderSize ?? 8192, noDelay: true });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayload ?? MAX_COMMAND_SIZE,
    perMessageDeflate: false,
    clientTracking: false,
  });

  parser.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const asked = pathOf(req.url);
    if (options.pages !== undefined && asked !== path && (asked === '/chat' || asked.startsWith('/chat/'))) {
      // The connection is cut once its upgrade time is up: the browser should not keep it.
      res.setHeader('Connection', 'close');
      options.pages(req, res);
      return;
    }
    const here = asked === path;
    const text = here
      ? 'This is the sockit chat WebSocket endpoint: connect with a WebSocket client.\n'
      : 'Not found: the chat is at a WebSocket at this path.\n';
    res.writeHead(here ? 426 : 404, {
      'Content-Type': 'text/plain; charset=utf-8',
      Connection: 'close',
      ...(here ? { Upgrade: 'websocket' } : {}),
    });
    res.end(here ? text : text.replace('this path', path));
  });

  parser.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    log.debug({ err: err.message, code: err.code }, 'bad HTTP request for the chat WebSocket');
    if (!socket.writable) return socket.destroy();
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    refuse(socket, tooLarge ? 431 : 400, tooLarge ? 'The request head is too large.' : 'Bad request.');
  });

  parser.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const entry = pending.get(socket);
    if (entry === undefined) {
      socket.destroy();
      return;
    }
    if (closing) return refuse(socket, 503, 'The chat server is stopping.');
    if (pathOf(req.url) !== path) return refuse(socket, 404, `Not found: the chat is at ${path}.`);
    const origin = req.headers.origin;
    if (!allowed(origin, req.headers.host)) {
      entry.conn.log.info({ origin }, 'WebSocket refused: origin not allowed');
      return refuse(socket, 403, 'This origin may not use the chat.');
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      clearTimeout(entry.timer);
      const link = new WebSocketLink(ws, socket, frames, {
        maxQueuedBytes: options.maxQueuedBytes ?? 2 * MAX_EVENT_SIZE,
        maxQueuedMessages: 4096,
        maxEventSize: MAX_EVENT_SIZE,
        maxUnread: 64,
        pingIntervalMs: options.pingIntervalMs ?? 30_000,
        log: entry.conn.log,
      });
      links.add(link);
      void link.closed.then(() => links.delete(link));
      if (closing) link.close(CLOSE_GOING_AWAY, 'the chat server is stopping');
      entry.conn.log.debug({ origin }, 'WebSocket open');
      entry.session = runChatSession(link, entry.conn, options)
        .catch((err: unknown) => {
          entry.conn.log.error({ err }, 'chat session failed');
          link.destroy();
        })
        .then(() => link.closed);
    });
  });

  return {
    accept(socket, conn) {
      return new Promise<void>((resolve) => {
        const entry: Pending = {
          conn,
          // A request that is not whole in time (one header a minute...) is cut.
          timer: setTimeout(() => socket.destroy(), options.upgradeTimeoutMs ?? 10_000),
        };
        pending.set(socket, entry);
        socket.once('close', () => {
          clearTimeout(entry.timer);
          pending.delete(socket);
          void (entry.session ?? Promise.resolve()).then(() => resolve());
        });
        parser.emit('connection', socket);
        socket.resume();
      });
    },
    async close() {
      closing = true;
      for (const link of links) link.close(CLOSE_GOING_AWAY, 'the chat server is stopping');
      // A client that does not answer the close handshake is not waited for long.
      const cut = setTimeout(() => {
        for (const link of links) link.destroy();
      }, CLOSE_WAIT_MS);
      await Promise.all([...links].map((link) => link.closed));
      clearTimeout(cut);
    },
    get connections() {
      return links.size;
    },
    get queuedBytes() {
      let sum = 0;
      for (const link of links) sum += link.queuedBytes;
      return sum;
    },
  };
}

export interface ChatWebSocketServiceOptions extends WebSocketAcceptorOptions, ChatGuardOptions {
  /** 0 picks a free port. */
  port: number;
}

/**
 * The WebSocket endpoint on a port of its own (plain or TLS), with the TCP guard's limits.
 *
 * @example
 * ```ts
 * const chat = await serveChat({ ..., more: [(server) => serveChatWebSocket({ server, login, port: 8080 })] });
 * ```
 */
export async function serveChatWebSocket(options: ChatWebSocketServiceOptions): Promise<Service> {
  const log = options.log ?? silentLogger;
  const acceptor = webSocketAcceptor({ ...options, log });
  const tcp = await serveTcp({
    ...chatTcpOptions(options, log),
    name: 'chat-ws',
    port: options.port,
    handler: (conn) => {
      conn.socket.pause();
      return acceptor.accept(conn.socket, sessionConnection(conn));
    },
  });
  return {
    name: tcp.name,
    protocol: 'tcp',
    address: tcp.address,
    async close() {
      await Promise.all([acceptor.close(), tcp.close()]);
    },
  };
}

/** The path of a request target, without its query. */
function pathOf(url: string | undefined): string {
  const target = url ?? '';
  const query = target.indexOf('?');
  return query < 0 ? target : target.slice(0, query);
}

function originCheck(
  allowed: WebSocketAcceptorOptions['allowedOrigins'],
): (origin: string | undefined, host: string | undefined) => boolean {
  if (allowed === undefined) return sameOrigin;
  if (typeof allowed === 'function') return (origin) => allowed(origin);
  const origins = new Set(allowed.map((o) => o.toLowerCase()));
  return (origin) => origin === undefined || origins.has(origin.toLowerCase());
}

/**
 * Whether a browser's page at `origin` is one this server sent: its host and port are those
 * the request went to. `null` (a sandboxed page, a file) and anything unparsable are not.
 */
function sameOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true;
  if (host === undefined) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  // URL drops a scheme's default port, and a Host header may leave it out or carry it.
  const defaultPort = url.protocol === 'https:' ? '443' : '80';
  const [hostname, hostPort] = splitHost(host.toLowerCase());
  return url.hostname === hostname && (url.port || defaultPort) === (hostPort ?? defaultPort);
}

/** `example.com:8080` or `[::1]:8080` as name and port (the port undefined when absent). */
function splitHost(host: string): [string, string | undefined] {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(host);
  if (!m) return [host, undefined];
  return [m[1] ?? host, m[2] || undefined];
}

/** Answers an upgrade request that is refused, then closes. */
function refuse(socket: net.Socket, status: number, text: string): void {
  const body = `${text}\n`;
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
