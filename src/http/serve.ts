/**
 * `sockit http serve`: a folder over HTTP/1.1 (or HTTPS), with the limits of every sockit
 * server: Node's `http.Server` parses, under the server guard (connections at once and per
 * address, idle backstop, drain on close), and `StaticFiles` answers. Slow clients are bounded by Node's own
 * timeouts (the head within `headersTimeout`, the whole request within `requestTimeout`); a
 * client that does not read a large file holds one file handle and a socket buffer, not the
 * file. When the server is full, the connection idle longest between requests is closed for
 * the newcomer (its client reconnects), so that idle keep-alive connections never lock others
 * out.
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type tls from 'node:tls';
import { ConfinedRoot } from '../runtime/confine.js';
import { foldAddress, guardServer } from '../runtime/guard.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import { addressGroup } from '../runtime/netgroup.js';
import { announceListening, checkInteger, type Service } from '../runtime/service.js';
import { listenTcp } from '../runtime/tcp.js';
import { HTTP_PORT } from './port.js';
import { type Served, StaticFiles, type StaticOptions } from './static.js';

export { HTTP_PORT };

/** A response that moved nothing for this long may be closed to make room for a newcomer. */
const STALLED_MS = 5000;
/** Requests pipelined on one connection past which it is not read on until they are answered. */
const MAX_PIPELINED = 16;

/** What every HTTP listener of sockit takes: where, TLS, and the limits. */
export interface HttpListenOptions {
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  tls?: tls.SecureContextOptions;
  /** Connections at once. Default 1024. */
  maxConnections?: number;
  /** Connections at once from one address. Default `maxConnections`. */
  maxPerAddress?: number;
  /** Bytes of request head. Default 16 KiB. */
  maxHeaderSize?: number;
  /** The request head must arrive within this, in ms. Default 10000. */
  headersTimeoutMs?: number;
  /** The whole request must arrive within this, in ms. Default 30000. */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this, in ms. Default 5000. */
  keepAliveTimeoutMs?: number;
  /** A connection whose client takes no byte of its answer for this long is closed, in ms. Default 60000. */
  sendTimeoutMs?: number;
  /** One log line per request (info). Default true. */
  accessLog?: boolean;
  log?: Logger;
}

export interface HttpServeOptions extends HttpListenOptions, Omit<StaticOptions, 'log'> {
  /** The folder served. */
  root: string;
}

export interface HttpService extends Service {
  readonly files: StaticFiles;
}

/** Answers a request; what it answered goes to the access log. Never rejects. */
export type HttpHandler = (req: http.IncomingMessage, res: http.ServerResponse) => Served | Promise<Served>;

/**
 * @example
 * ```ts
 * const web = await serveHttp({ root: 'public', port: 8080 });
 * // later: await web.close();
 * ```
 */
export async function serveHttp(options: HttpServeOptions): Promise<HttpService> {
  const log = (options.log ?? silentLogger).child({ service: 'http' });
  const root = await ConfinedRoot.open(options.root);
  const files = new StaticFiles(root, { ...options, log });
  try {
    const listener = await listenHttp('http', (req, res) => files.handle(req, res), options);
    return {
      ...listener,
      address: listener.address,
      files,
      async close() {
        await listener.close();
        await root.close();
      },
    };
  } catch (err) {
    await root.close();
    throw err;
  }
}

/**
 * An HTTP (or HTTPS) listener named `name` whose requests `handler` answers: Node's parser,
 * under the server guard, with the timeouts and the access log every sockit HTTP server has.
 */
export async function listenHttp(
  name: string,
  handler: HttpHandler,
  options: HttpListenOptions,
): Promise<Service> {
  const log = (options.log ?? silentLogger).child({ service: name });

  const accessLog = options.accessLog ?? true;
  const maxConnections = checkInteger('maxConnections', options.maxConnections ?? 1024, 1, 1_000_000);
  const serverOptions: http.ServerOptions = {
    maxHeaderSize: checkInteger('maxHeaderSize', options.maxHeaderSize ?? 16 * 1024, 1024, 1024 * 1024),
    headersTimeout: checkInteger('headersTimeoutMs', options.headersTimeoutMs ?? 10_000, 100, 600_000),
    requestTimeout: checkInteger('requestTimeoutMs', options.requestTimeoutMs ?? 30_000, 100, 3_600_000),
    keepAliveTimeout: checkInteger('keepAliveTimeoutMs', options.keepAliveTimeoutMs ?? 5000, 100, 600_000),
    noDelay: true,
    // The timeouts are checked this often (Node's default is 30 s, too coarse for 10 s).
    connectionsCheckingInterval: 1000,
  };
  const server = options.tls
    ? https.createServer({ ...serverOptions, ...options.tls, handshakeTimeout: 10_000 })
    : http.createServer(serverOptions);
  /**
   * Every connection, in the order of its last request (or of its opening, before one); the
   * response each is answering; requests pipelined behind it; and, for those answering,
   * when their client last took bytes.
   */
  const byActivity = new Set<net.Socket>();
  const answering = new WeakMap<net.Socket, http.ServerResponse>();
  const pipelined = new WeakMap<net.Socket, [http.IncomingMessage, http.ServerResponse][]>();
  const progress = new WeakMap<net.Socket, { written: number; at: number }>();
  const sendTimeoutMs = checkInteger('sendTimeoutMs', options.sendTimeoutMs ?? 60_000, 100, 3_600_000);

  const busy = (socket: net.Socket): boolean => {
    const res = answering.get(socket);
    return res !== undefined && !res.writableFinished && !res.destroyed;
  };
  /** Whether a response has moved no byte to its client for `ms`. */
  const stalledFor = (socket: net.Socket, ms: number, now: number): boolean => {
    const seen = progress.get(socket);
    return seen !== undefined && seen.written === socket.bytesWritten && now - seen.at >= ms;
  };
  const guard = guardServer(server, {
    name,
    login: false,
    maxConnections,
    maxPerAddress: options.maxPerAddress ?? maxConnections,
    // Node's keep-alive and request timeouts end idle connections first; this is the backstop.
    idleTimeoutMs: 120_000,
    drainTimeoutMs: 5000,
    // The first connection between requests (by last activity), else the first whose client
    // has taken nothing for 5 s: a client that does not read holds no place for long.
    reclaim: (group) => {
      const now = Date.now();
      let stalled: net.Socket | undefined;
      for (const socket of byActivity) {
        if (socket.destroyed) {
          byActivity.delete(socket);
          continue;
        }
        if (group !== undefined && addressGroup(foldAddress(socket.remoteAddress)) !== group) continue;
        if (!busy(socket)) {
          byActivity.delete(socket);
          return socket;
        }
        if (stalled === undefined && stalledFor(socket, STALLED_MS, now)) stalled = socket;
      }
      if (stalled !== undefined) byActivity.delete(stalled);
      return stalled;
    },
    log,
  });
  // Once a second: note each answering connection's progress, and cut one that has taken
  // nothing for the send timeout (nginx's send_timeout).
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const socket of byActivity) {
      if (!busy(socket)) continue;
      const seen = progress.get(socket);
      if (seen === undefined || seen.written !== socket.bytesWritten) {
        progress.set(socket, { written: socket.bytesWritten, at: now });
      } else if (now - seen.at >= sendTimeoutMs) {
        log.info(
          { remote: socket.remoteAddress, sendTimeoutMs },
          'client took nothing for the send timeout: closed',
        );
        socket.destroy();
      }
    }
  }, 1000);
  sweeper.unref();

  server.on(options.tls ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    if (socket.destroyed) return;
    byActivity.add(socket);
    socket.once('close', () => byActivity.delete(socket));
    socket.on('error', (err) => log.debug({ err: err.message }, 'socket error'));
  });

  const answer = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const socket = req.socket;
    byActivity.delete(socket);
    byActivity.add(socket);
    answering.set(socket, res);
    progress.delete(socket);
    if (!accessLog) {
      void handler(req, res);
      return;
    }
    const started = performance.now();
    const logLine = (served: Served): void => {
      log.info(
        {
          remote: socket.remoteAddress,
          method: req.method,
          url: req.url,
          status: served.status,
          bytes: served.bytes,
          ms: Math.round((performance.now() - started) * 10) / 10,
          agent: req.headers['user-agent'],
        },
        'request',
      );
    };
    const served = handler(req, res);
    if (served instanceof Promise) void served.then(logLine);
    else logLine(served);
  };
  /** Answers the requests pipelined on `socket` one after another, each once the one before is sent. */
  const next = (socket: net.Socket): void => {
    const queue = pipelined.get(socket);
    while (queue !== undefined && queue.length > 0 && !socket.destroyed) {
      const [req, res] = queue.shift() as [http.IncomingMessage, http.ServerResponse];
      if (queue.length < MAX_PIPELINED / 2 && socket.isPaused()) socket.resume();
      answer(req, res);
      if (busy(socket)) {
        res.once('close', () => next(socket));
        return;
      }
    }
    pipelined.delete(socket);
  };
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    const current = answering.get(socket);
    if (!busy(socket)) {
      answer(req, res);
      return;
    }
    // Pipelined behind a response still going out: its turn comes after (one file open at a
    // time per connection), and past a few waiting the connection is not read on.
    let queue = pipelined.get(socket);
    if (queue === undefined) {
      queue = [];
      pipelined.set(socket, queue);
      current?.once('close', () => next(socket));
    }
    queue.push([req, res]);
    if (queue.length >= MAX_PIPELINED) socket.pause();
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    log.debug({ err: err.message, code: err.code }, 'bad HTTP request');
    if (!socket.writable || err.code === 'ECONNRESET') return socket.destroy();
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
    );
    socket.destroySoon();
  });
  if (options.tls) {
    server.on('tlsClientError', (err: Error) => log.debug({ err: err.message }, 'TLS handshake failed'));
  }

  const port = checkInteger('port', options.port ?? HTTP_PORT, 0, 65535);
  let bound: { address: string; port: number; family: string };
  try {
    bound = await listenTcp(server, `${name}/tcp`, options.host, port);
  } catch (err) {
    clearInterval(sweeper);
    await guard.close();
    throw err;
  }
  server.on('error', (err) => log.error({ err }, 'server error'));
  let closed: Promise<void> | undefined;
  const service: Service = {
    name,
    protocol: 'tcp',
    address: bound,
    close() {
      closed ??= (async () => {
        clearInterval(sweeper);
        const stopping = guard.close();
        // Idle keep-alive connections go at once; requests under way finish (within the drain).
        for (const socket of byActivity) {
          const res = answering.get(socket);
          if (res === undefined || res.writableFinished) socket.destroy();
        }
        server.closeIdleConnections();
        await stopping;
      })();
      return closed;
    },
  };
  announceListening(log, service);
  return service;
}
