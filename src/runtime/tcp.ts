/**
 * The TCP service host: one handler call per connection, with the limits every server
 * needs (connection count, idle time, backlog) and a graceful stop.
 *
 * This is the async analogue of Python's socketserver.BaseRequestHandler: the handler gets
 * the connected socket and serves it; the host owns accepting and shutdown, and its limits
 * are a server guard's (`guard.ts`).
 */
import net from 'node:net';
import tls from 'node:tls';
import { bindError, ErrorCode, isSockitError } from '../errors.js';
import { events } from './events.js';
import { guardServer, type MaxStartups } from './guard.js';
import { type Logger, silentLogger } from './log.js';
import { logLimited } from './log-limit.js';
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
  /** The peer's address (IPv4-mapped IPv6 folded to IPv4). */
  readonly address: string;
  /** A logger that tags every line with this connection. */
  readonly log: Logger;
  /** Aborted when the service begins to stop: finish what is in flight, then end the socket. */
  readonly closing: AbortSignal;
  /**
   * The peer logged in (as `user`, if named): ends the log-in deadline and the pre-log-in
   * limits. Throws `ERR_TOO_MANY_CONNECTIONS` at the per-user cap or when logged-in
   * connections fill all but the log-in reserve (see `GuardedConnection.authenticate`).
   */
  authenticate(user?: string): void;
  /** A log-in attempt is under way: not dropped for a newcomer until the returned function runs. */
  loginStarted(): () => void;
  /** Runs `listener` once the connection is authenticated (at once if it is). */
  onAuthenticated(listener: () => void): void;
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
  /**
   * Connections at once from one address. Default 32 for a service with log-in; without
   * log-in (echo), `maxConnections`: a load generator on one host is its normal client.
   */
  maxPerAddress?: number;
  /**
   * The service has a log-in: connections must call `authenticate()` within `loginTimeoutMs`,
   * and those that have not are refused early when many wait (see `GuardOptions.maxStartups`).
   * Default false.
   */
  login?: boolean;
  /** With `login`: close a connection not logged in this long after it opened, in ms. Default 10000. */
  loginTimeoutMs?: number;
  /** With `login`: OpenSSH's MaxStartups. Default 10:30:100. */
  maxStartups?: MaxStartups;
  /** With `login`: connections not yet logged in at once from one address group. Default 8. */
  maxUnauthenticatedPerAddress?: number;
  /** With `login`: connections not yet logged in at once from one network (IPv4 /24, IPv6 /48). Default `maxStartups.full / 4`, at least twice the per-address cap. */
  maxUnauthenticatedPerNetwork?: number;
  /** With `login`: log-ins under way spared when a newcomer needs room. Default `maxStartups.full / 2`. */
  maxLoginsUnderWay?: number;
  /** With `login`: logged-in connections of one user at once. Default 16. */
  maxPerUser?: number;
  /** With `login`: slots kept for connections not yet logged in. Default `maxConnections / 16`. */
  loginReserve?: number;
  /** Close a connection silent for this long, in ms; 0 disables. Default 300000. */
  idleTimeoutMs?: number;
  /** On close, how long connections may take to finish before they are cut, in ms. Default 10000. */
  drainTimeoutMs?: number;
  /** When full, a connection the service can spare for a newcomer (see `GuardOptions.reclaim`). */
  reclaim?: (group?: string) => net.Socket | undefined;
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
 * Starts a TCP service and resolves once it listens. Its limits are a `guardServer`'s.
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
  const iterative = options.model === 'iterative';
  const log = (options.log ?? silentLogger).child({ service: name });
  const handler = options.handler;
  const login = options.login ?? false;

  const serverOptions = { allowHalfOpen: true, pauseOnConnect: iterative, noDelay: true };
  // TLS has no half-close (close_notify ends both directions), and a peer that connects but
  // never completes the handshake must not hold a connection open for long.
  const server = options.tls
    ? tls.createServer({ ...serverOptions, allowHalfOpen: false, handshakeTimeout: 10_000, ...options.tls })
    : net.createServer(serverOptions);
  const guard = guardServer(server, {
    name,
    login,
    maxConnections,
    maxPerAddress: options.maxPerAddress ?? (login ? undefined : maxConnections),
    loginTimeoutMs: options.loginTimeoutMs,
    maxStartups: options.maxStartups,
    maxUnauthenticatedPerAddress: options.maxUnauthenticatedPerAddress,
    maxUnauthenticatedPerNetwork: options.maxUnauthenticatedPerNetwork,
    maxLoginsUnderWay: options.maxLoginsUnderWay,
    maxPerUser: options.maxPerUser,
    loginReserve: options.loginReserve,
    idleTimeoutMs: options.idleTimeoutMs,
    drainTimeoutMs: options.drainTimeoutMs,
    ...(options.reclaim ? { reclaim: options.reclaim } : {}),
    log,
  });
  /** TLS connections still in their handshake: not yet served, cut at once on close. */
  const handshaking = new Set<net.Socket>();
  const waiting: net.Socket[] = [];
  let active: net.Socket | undefined;

  const serve = (socket: net.Socket): void => {
    const guarded = guard.connectionOf(socket);
    if (!guarded) {
      socket.destroy();
      return;
    }
    const connLog = log.child({ conn: guarded.id, remote: guarded.remote });
    connLog.debug('connection opened');
    if (socket instanceof tls.TLSSocket) {
      connLog.debug({ protocol: socket.getProtocol(), cipher: socket.getCipher()?.name }, 'TLS negotiated');
    }
    socket.once('close', () =>
      connLog.debug({ read: socket.bytesRead, written: socket.bytesWritten }, 'closed'),
    );
    const conn: Connection = {
      socket,
      id: guarded.id,
      remote: guarded.remote,
      address: guarded.address,
      log: connLog,
      closing: guarded.closing,
      authenticate: (user) => guarded.authenticate(user),
      loginStarted: () => guarded.loginStarted(),
      onAuthenticated: (listener) => guarded.onAuthenticated(listener),
    };
    const failed = (err: unknown): void => {
      connLog.error({ err }, 'handler failed');
      events.error.publish({ service: name, code: isSockitError(err) ? err.code : ErrorCode.INTERNAL });
      socket.destroy();
    };
    try {
      handler(conn)?.catch(failed);
    } catch (err) {
      failed(err);
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
      if (raw.destroyed) return;
      handshaking.add(raw);
      raw.once('close', () => handshaking.delete(raw));
    });
    server.on('tlsClientError', (err, socket) => {
      log.debug({ err: err.message, remote: socket.remoteAddress }, 'TLS handshake failed');
    });
  }
  server.on(options.tls ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    // Refused by the guard: already destroyed.
    if (socket.destroyed) return;
    for (const raw of handshaking) {
      if (raw.remotePort === socket.remotePort && raw.remoteAddress === socket.remoteAddress)
        handshaking.delete(raw);
    }
    socket.on('error', (err) => log.debug({ err: err.message }, 'socket error'));
    if (guard.closing.aborted) {
      socket.destroy();
      return;
    }
    if (!iterative) {
      serve(socket);
      return;
    }
    if (waiting.length >= backlog) {
      logLimited(
        'warn',
        log,
        `${name}:backlog`,
        { backlog },
        'connection refused: iterative waiting line full',
      );
      events.connectionDrop.publish({ service: name, reason: 'backlog' });
      socket.destroy();
      return;
    }
    waiting.push(socket);
    serveNext();
  });

  const bound = await listenTcp(server, `${name}/tcp`, options.host, port, backlog);
  server.on('error', (err) => log.error({ err }, 'server error'));

  let closed: Promise<void> | undefined;
  const service: TcpService = {
    name,
    protocol: 'tcp',
    address: bound,
    get connections() {
      return guard.connections;
    },
    close() {
      closed ??= (async () => {
        const stopping = guard.close();
        for (const socket of waiting.splice(0)) socket.destroy();
        for (const socket of handshaking) socket.destroy();
        await stopping;
        log.debug('stopped');
      })();
      return closed;
    },
  };
  announceListening(log, service);
  return service;
}

/**
 * Listens on `host`:`port` and resolves with where (a failure to bind is the `bindError` of
 * `what`, e.g. `echo/tcp`, naming the address).
 */
export function listenTcp(
  server: net.Server,
  what: string,
  host: string | undefined,
  port: number,
  backlog = 511,
): Promise<{ address: string; port: number; family: string }> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(bindError(err, what, host ?? '::', port));
    server.once('error', onError);
    server.listen({ host, port, backlog }, () => {
      server.off('error', onError);
      const bound = server.address() as net.AddressInfo;
      resolve({ address: bound.address, port: bound.port, family: bound.family });
    });
  });
}
