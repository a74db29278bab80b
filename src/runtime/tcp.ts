/**
 * The TCP service host: one handler call per connection, with the limits every server
 * needs (connection count, idle time, backlog) and a graceful stop.
 *
 * This is the async analogue of Python's socketserver.BaseRequestHandler: the handler gets
 * the connected socket and serves it; the host owns accepting, limits and shutdown.
 */
import net from 'node:net';
import tls from 'node:tls';
import { bindError, formatHostPort } from '../errors.js';
import { type Logger, silentLogger } from './log.js';
import { announceListening, checkInteger, type Service } from './service.js';

/** How a single process serves connections. `cluster` is arranged by `launch()` around these. */
export type ProcessModel = 'event-loop' | 'iterative';

/** One accepted connection, as its handler sees it. */
export interface Connection {
  readonly socket: net.Socket;
  /** Sequence number within this service, for logs. */
  readonly id: number;
  /** The peer as `host:port`. */
  readonly remote: string;
  /** A logger that tags every line with this connection. */
  readonly log: Logger;
  /** Aborted when the service begins to stop: finish what is in flight, then end the socket. */
  readonly closing: AbortSignal;
}

/**
 * Serves one connection. The connection counts as served until its socket closes; a
 * rejected promise is logged and the socket destroyed.
 */
export type ConnectionHandler = (conn: Connection) => void | Promise<void>;

export interface TcpServiceOptions {
  /** Service name for logs, e.g. `echo`. */
  name: string;
  handler: ConnectionHandler;
  /** Bind address; default: every address, IPv6 and IPv4 where the system allows. */
  host?: string;
  /** Port; 0 picks a free one (read it back from `address`). Default 0. */
  port?: number;
  /** `event-loop` (default) serves every connection at once; `iterative` serves one at a time. */
  model?: ProcessModel;
  /** Kernel accept queue length. Default 511. Also bounds the iterative model's waiting line. */
  backlog?: number;
  /** Connections served or waiting at once; more are closed at accept. Default 1024. */
  maxConnections?: number;
  /** Close a connection silent for this long, in ms; 0 disables. Default 300000. */
  idleTimeoutMs?: number;
  /** On close, how long connections may take to finish before they are cut, in ms. Default 10000. */
  drainTimeoutMs?: number;
  log?: Logger;
  /** Certificate and key (PEM): serve TLS instead of plain TCP. Handlers get the decrypted socket. */
  tls?: tls.SecureContextOptions;
}

export interface TcpService extends Service {
  readonly protocol: 'tcp';
  /** Connections open now, served or waiting. */
  readonly connections: number;
}

/**
 * Starts a TCP service and resolves once it listens.
 *
 * @example
 * ```ts
 * const service = await serveTcp({
 *   name: 'upper',
 *   port: 0,
 *   handler: ({ socket }) => { socket.on('data', (d) => socket.write(d.toString().toUpperCase())); },
 * });
 * console.log(service.address.port);
 * await service.close();
 * ```
 */
export async function serveTcp(options: TcpServiceOptions): Promise<TcpService> {
  const name = options.name;
  const port = checkInteger('port', options.port ?? 0, 0, 65535);
  const backlog = checkInteger('backlog', options.backlog ?? 511, 1, 65535);
  const maxConnections = checkInteger('maxConnections', options.maxConnections ?? 1024, 1, 1_000_000);
  const idleTimeoutMs = checkInteger('idleTimeoutMs', options.idleTimeoutMs ?? 300_000, 0, 2 ** 31 - 1);
  const drainTimeoutMs = checkInteger('drainTimeoutMs', options.drainTimeoutMs ?? 10_000, 0, 2 ** 31 - 1);
  const iterative = options.model === 'iterative';
  const log = (options.log ?? silentLogger).child({ service: name });
  const handler = options.handler;

  const serverOptions = { allowHalfOpen: true, pauseOnConnect: iterative, noDelay: true };
  // TLS has no half-close (close_notify ends both directions), and a peer that connects but
  // never completes the handshake must not hold a connection open for long.
  const server = options.tls
    ? tls.createServer({ ...serverOptions, allowHalfOpen: false, handshakeTimeout: 10_000, ...options.tls })
    : net.createServer(serverOptions);
  /** TLS connections still in their handshake, by peer: not yet served, cut at once on close. */
  const handshaking = new Map<string, net.Socket>();
  const peerOf = (socket: net.Socket): string => `${socket.remoteAddress}|${socket.remotePort}`;
  server.maxConnections = maxConnections;
  const sockets = new Set<net.Socket>();
  const closing = new AbortController();
  const waiting: net.Socket[] = [];
  let active: net.Socket | undefined;
  let nextId = 1;
  const idle = new IdleSweeper(idleTimeoutMs);

  server.on('drop', (data) => {
    log.warn(
      {
        remote: data ? formatHostPort(data.remoteAddress ?? '?', data.remotePort ?? 0) : undefined,
        maxConnections,
      },
      'connection refused: at the connection limit',
    );
  });

  const serve = (socket: net.Socket): void => {
    const id = nextId++;
    const remote = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    const connLog = log.child({ conn: id, remote });
    if (idleTimeoutMs > 0) idle.watch(socket, connLog);
    connLog.debug('connection opened');
    socket.once('close', () =>
      connLog.debug({ read: socket.bytesRead, written: socket.bytesWritten }, 'closed'),
    );
    try {
      const done = handler({ socket, id, remote, log: connLog, closing: closing.signal });
      if (done) {
        done.catch((err: unknown) => {
          connLog.error({ err }, 'handler failed');
          socket.destroy();
        });
      }
    } catch (err) {
      connLog.error({ err }, 'handler failed');
      socket.destroy();
    }
  };

  // The iterative model: the classic accept-serve-close loop. The kernel completes every
  // handshake, so waiting clients are held (unread) here until the one before them closes.
  const serveNext = (): void => {
    while (!active && waiting.length > 0) {
      const socket = waiting.shift() as net.Socket;
      if (socket.destroyed) continue;
      active = socket;
      // Held sockets were created paused; give the handler one in the default state, which
      // starts flowing when it attaches a 'data' listener or pipes.
      // (Readable's setter exists at run time; Node's typings only declare the getter.)
      (socket as { readableFlowing: boolean | null }).readableFlowing = null;
      socket.once('close', () => {
        active = undefined;
        serveNext();
      });
      serve(socket);
    }
  };

  if (options.tls) {
    server.on('connection', (raw: net.Socket) => {
      const peer = peerOf(raw);
      handshaking.set(peer, raw);
      raw.once('close', () => {
        if (handshaking.get(peer) === raw) handshaking.delete(peer);
      });
    });
    server.on('tlsClientError', (err, socket) => {
      log.debug({ err: err.message, remote: socket.remoteAddress }, 'TLS handshake failed');
    });
  }
  server.on(options.tls ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    handshaking.delete(peerOf(socket));
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // A reset from the peer must not become an uncaught exception.
    socket.on('error', (err) => log.debug({ err: err.message }, 'socket error'));
    if (closing.signal.aborted) {
      socket.destroy();
      return;
    }
    if (!iterative) {
      serve(socket);
      return;
    }
    if (waiting.length >= backlog) {
      log.warn({ backlog }, 'connection refused: iterative waiting line full');
      socket.destroy();
      return;
    }
    waiting.push(socket);
    serveNext();
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(bindError(err, `${name}/tcp`, options.host ?? '::', port));
    server.once('error', onError);
    server.listen({ host: options.host, port, backlog }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'server error'));

  const bound = server.address() as net.AddressInfo;
  let closed: Promise<void> | undefined;
  const service: TcpService = {
    name,
    protocol: 'tcp',
    address: { address: bound.address, port: bound.port, family: bound.family },
    get connections() {
      return sockets.size;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        closing.abort();
        for (const socket of waiting.splice(0)) socket.destroy();
        for (const socket of handshaking.values()) socket.destroy();
        const open = sockets.size;
        if (open > 0) log.info({ open, drainTimeoutMs }, 'stopping: waiting for connections to finish');
        const cut = setTimeout(() => {
          if (sockets.size > 0)
            log.warn({ open: sockets.size }, 'drain timeout: closing remaining connections');
          for (const socket of sockets) socket.destroy();
        }, drainTimeoutMs);
        server.close(() => {
          clearTimeout(cut);
          idle.stop();
          log.debug('stopped');
          resolve();
        });
      });
      return closed;
    },
  };
  announceListening(log, service);
  return service;
}

/**
 * Closes connections that moved no byte for `idleMs`. One timer per service looks at each
 * socket's byte counters a few times per period, instead of a per-socket timer that every
 * read and write would have to push back: that per-message cost was a tenth of an echo
 * server's CPU. A silent connection is closed between `idleMs` and 1.25 x `idleMs`.
 */
class IdleSweeper {
  readonly #idleMs: number;
  readonly #watched = new Map<net.Socket, { read: number; written: number; since: number; log: Logger }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(idleMs: number) {
    this.#idleMs = idleMs;
  }

  watch(socket: net.Socket, log: Logger): void {
    this.#watched.set(socket, { read: 0, written: 0, since: Date.now(), log });
    socket.once('close', () => this.#watched.delete(socket));
    this.#timer ??= setInterval(() => this.#sweep(), Math.max(50, Math.floor(this.#idleMs / 4))).unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sweep(): void {
    const now = Date.now();
    for (const [socket, seen] of this.#watched) {
      if (socket.bytesRead !== seen.read || socket.bytesWritten !== seen.written) {
        seen.read = socket.bytesRead;
        seen.written = socket.bytesWritten;
        seen.since = now;
      } else if (now - seen.since >= this.#idleMs) {
        seen.log.info({ idleTimeoutMs: this.#idleMs }, 'closing idle connection');
        this.#watched.delete(socket);
        socket.destroy();
      }
    }
  }
}
