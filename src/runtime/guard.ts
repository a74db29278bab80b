/**
 * The server guard: the limits every listening server needs, for any `net.Server` (plain,
 * `tls.Server`, `http.Server`; a WebSocket upgrade rides on a socket already counted here).
 *
 * It counts raw TCP connections at 'connection' and closes those that break a limit: the
 * connection count, a cap per address group (`addressGroup`: an IPv4 address, an IPv6 /64),
 * a smaller cap on the group's connections not yet logged in, a cap per user, a log-in
 * deadline, an idle timeout and, as OpenSSH's MaxStartups (sshd_config(5)), early refusal of
 * unauthenticated connections with a probability that grows from `start` to `full` (only for
 * a group that already has connections waiting: a lone newcomer is not the crowd).
 *
 * When no room is left, a waiting connection is dropped for the newcomer rather than refusing
 * a real user behind a crowd that never logs in: the oldest silent one of the group with the
 * most waiting. A connection whose log-in is under way (`loginStarted()`) is spared, but only
 * up to `maxLoginsUnderWay` of them: beyond that bound, or when every waiting connection is
 * mid-log-in, the one whose log-in started longest ago goes (a real client answers within its
 * key-derivation time; a crowd that starts log-ins and never finishes them is not). Waiting
 * connections are also capped per network (`networkGroup`: an IPv4 /24, an IPv6 /48), so a
 * host with many addresses cannot fill the room alone. Logged-in
 * connections may hold at most `maxConnections - loginReserve` slots, so that one user (or a
 * few) cannot take the slots log-ins need. `close()` drains: stop accepting, abort `closing`,
 * wait up to `drainTimeoutMs`, then destroy what is left.
 */
import type net from 'node:net';
import tls from 'node:tls';
import { ErrorCode, formatHostPort, SockitError } from '../errors.js';
import { type ConnectionDropReason, events, trackConnection } from './events.js';
import { type Logger, silentLogger } from './log.js';
import { flushLimitedLogs, logLimited } from './log-limit.js';
import { addressGroup, networkGroup } from './netgroup.js';
import { checkInteger } from './service.js';

/** OpenSSH's MaxStartups: refuse with probability rate% at `start` unauthenticated, rising to 100% at `full`. */
export interface MaxStartups {
  start: number;
  rate: number;
  full: number;
}

export interface GuardOptions {
  /** The service's name in events (`sockit:connection:*`) and metrics. Default `'server'`. */
  name?: string;
  /**
   * Connections must log in (call `authenticate()`): the log-in deadline and MaxStartups apply.
   * False: a service without log-in, whose connections count as authenticated at once. Default true.
   */
  login?: boolean;
  /** Connections at once. Default 1024. */
  maxConnections?: number;
  /**
   * Connections at once from one address group (`addressGroup`: an IPv4 address, an IPv6 /64;
   * IPv4-mapped IPv6 counts as IPv4). Default 32.
   */
  maxPerAddress?: number;
  /** Connections not yet logged in at once from one address group. Default 8 (at most `maxPerAddress`). */
  maxUnauthenticatedPerAddress?: number;
  /**
   * Connections not yet logged in at once from one network (`networkGroup`: an IPv4 /24, an
   * IPv6 /48). Default a quarter of `maxStartups.full`, at least twice `maxUnauthenticatedPerAddress`.
   */
  maxUnauthenticatedPerNetwork?: number;
  /**
   * Connections whose log-in is under way that are spared when a newcomer needs room; beyond
   * these the one whose log-in started first is dropped. Default half of `maxStartups.full`.
   */
  maxLoginsUnderWay?: number;
  /** Logged-in connections of one user at once (`authenticate(user)`). Default 16. */
  maxPerUser?: number;
  /**
   * Slots only connections not yet logged in may use: logged-in ones hold at most
   * `maxConnections - loginReserve`. Default `maxConnections / 16`, rounded down.
   */
  loginReserve?: number;
  /** Close a connection not authenticated this long after it opened, in ms; 0: never. Default 10000. */
  loginTimeoutMs?: number;
  /** Close a connection that moved no byte this long, in ms; 0: never. Default 300000. */
  idleTimeoutMs?: number;
  /** Early refusal of unauthenticated connections. Default `{ start: 10, rate: 30, full: 100 }`, capped at maxConnections. */
  maxStartups?: MaxStartups;
  /** On close, time connections get to finish before they are cut, in ms. Default 10000. */
  drainTimeoutMs?: number;
  /**
   * When the server is full and no connection waiting to log in can go: a connection the
   * service can spare (an HTTP connection idle between requests, which its client reopens),
   * closed for the newcomer. With `group`, when the newcomer's address group is at its cap:
   * one of that group's. Without it, or when it gives none, the newcomer is refused.
   */
  reclaim?: (group?: string) => net.Socket | undefined;
  log?: Logger;
  /** Random numbers in [0, 1) for the early refusals (tests make it deterministic). */
  random?: () => number;
}

/** One connection as the guard sees it. */
export interface GuardedConnection {
  /** Sequence number within this server, for logs. */
  readonly id: number;
  /** The peer's address, IPv4-mapped IPv6 folded to IPv4. */
  readonly address: string;
  /** The peer as `host:port`. */
  readonly remote: string;
  readonly authenticated: boolean;
  /** Aborted when the server begins to stop. */
  readonly closing: AbortSignal;
  /**
   * The peer logged in (as `user`, if named): ends the log-in deadline and lifts the
   * pre-log-in limits. Throws `ERR_TOO_MANY_CONNECTIONS`, changing nothing, when `user` holds
   * `maxPerUser` connections already or logged-in connections fill all but the log-in reserve:
   * call it before telling the peer it is in.
   */
  authenticate(user?: string): void;
  /**
   * A log-in attempt is under way (it holds what it needs and waits for the client's proof):
   * until the returned function is called, the connection is spared when a newcomer needs room,
   * within the guard's `maxLoginsUnderWay` and in order of start.
   */
  loginStarted(): () => void;
  /** Runs `listener` once on `authenticate()` (at once if already authenticated). */
  onAuthenticated(listener: () => void): void;
  /** Closes the connection now (every socket of it). */
  destroy(): void;
}

export interface ServerGuard {
  /** Connections open now. */
  readonly connections: number;
  /** Of these, not yet authenticated. */
  readonly unauthenticated: number;
  /** Aborted when `close()` is called. */
  readonly closing: AbortSignal;
  /** The connection a socket belongs to: the raw socket, or a TLS socket over it. */
  connectionOf(socket: net.Socket): GuardedConnection | undefined;
  /** Stops accepting, aborts `closing`, waits up to the drain timeout, then destroys what is left. */
  close(): Promise<void>;
}

/** `::ffff:192.0.2.1` -> `192.0.2.1`: one peer counts once, whichever family it arrived on. */
export function foldAddress(address: string | undefined): string {
  if (!address) return '?';
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? (m[1] as string) : address;
}

const peerKey = (socket: net.Socket): string => `${socket.remoteAddress}|${socket.remotePort}`;

class Guarded implements GuardedConnection {
  authenticated = false;
  /** Log-in attempts under way: while above 0, not dropped for a newcomer. */
  started = 0;
  user: string | undefined;
  readonly sockets = new Set<net.Socket>();
  readonly #listeners: (() => void)[] = [];
  loginTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: number,
    readonly key: string,
    readonly address: string,
    readonly group: string,
    readonly network: string,
    readonly remote: string,
    readonly closing: AbortSignal,
    readonly onAuth: (conn: Guarded, user: string | undefined) => void,
    /** Called when `started` goes from 0 to 1 (true) and back to 0 (false). */
    readonly onUnderWay: (conn: Guarded, underWay: boolean) => void,
  ) {}

  authenticate(user?: string): void {
    if (this.authenticated) return;
    this.onAuth(this, user); // throws, before any change, when a cap is reached
    this.authenticated = true;
    this.user = user;
    clearTimeout(this.loginTimer);
    for (const listener of this.#listeners.splice(0)) listener();
  }

  loginStarted(): () => void {
    if (this.started++ === 0) this.onUnderWay(this, true);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--this.started === 0) this.onUnderWay(this, false);
    };
  }

  onAuthenticated(listener: () => void): void {
    if (this.authenticated) listener();
    else this.#listeners.push(listener);
  }

  destroy(): void {
    clearTimeout(this.loginTimer);
    for (const socket of this.sockets) socket.destroy();
  }
}

/**
 * Puts the limits on `server`. Call it before the server listens; the guard's 'connection'
 * listener runs before the server's own, so a refused socket is closed before it is served.
 *
 * @example
 * ```ts
 * const server = http.createServer(app);
 * const guard = guardServer(server, { maxConnections: 256, loginTimeoutMs: 0 });
 * server.listen(8080);
 * // later: await guard.close();
 * ```
 */
export function guardServer(server: net.Server, options: GuardOptions = {}): ServerGuard {
  const maxConnections = checkInteger('maxConnections', options.maxConnections ?? 1024, 1, 1_000_000);
  const maxPerAddress = checkInteger('maxPerAddress', options.maxPerAddress ?? 32, 1, 1_000_000);
  const maxWaitingPerGroup = checkInteger(
    'maxUnauthenticatedPerAddress',
    options.maxUnauthenticatedPerAddress ?? Math.min(8, maxPerAddress),
    1,
    1_000_000,
  );
  const maxPerUser = checkInteger('maxPerUser', options.maxPerUser ?? 16, 1, 1_000_000);
  const loginReserve = checkInteger(
    'loginReserve',
    options.loginReserve ?? Math.floor(maxConnections / 16),
    0,
    maxConnections - 1,
  );
  const loginTimeoutMs = checkInteger('loginTimeoutMs', options.loginTimeoutMs ?? 10_000, 0, 2 ** 31 - 1);
  const idleTimeoutMs = checkInteger('idleTimeoutMs', options.idleTimeoutMs ?? 300_000, 0, 2 ** 31 - 1);
  const drainTimeoutMs = checkInteger('drainTimeoutMs', options.drainTimeoutMs ?? 10_000, 0, 2 ** 31 - 1);
  const startups = options.maxStartups ?? { start: 10, rate: 30, full: 100 };
  const full = checkInteger('maxStartups.full', Math.min(startups.full, maxConnections), 1, 1_000_000);
  const maxWaitingPerNetwork = checkInteger(
    'maxUnauthenticatedPerNetwork',
    options.maxUnauthenticatedPerNetwork ?? Math.max(2 * maxWaitingPerGroup, Math.floor(full / 4)),
    1,
    1_000_000,
  );
  const maxUnderWay = checkInteger(
    'maxLoginsUnderWay',
    options.maxLoginsUnderWay ?? Math.max(1, Math.floor(full / 2)),
    0,
    1_000_000,
  );
  const start = checkInteger('maxStartups.start', Math.min(startups.start, full), 1, full);
  const rate = checkInteger('maxStartups.rate', startups.rate, 0, 100);
  const random = options.random ?? Math.random;
  const login = options.login ?? true;
  const log = options.log ?? silentLogger;
  const name = options.name ?? 'server';
  const protocol = server instanceof tls.Server ? 'tls' : 'tcp';
  const dropped = (reason: ConnectionDropReason): void =>
    events.connectionDrop.publish({ service: name, reason });

  const closing = new AbortController();
  const byPeer = new Map<string, Guarded>();
  /** Connections per address group. */
  const perAddress = new Map<string, number>();
  /** Not yet authenticated, oldest first (a Set keeps insertion order). */
  const pending = new Set<Guarded>();
  /** The same, per address group. */
  const waiting = new Map<string, Set<Guarded>>();
  /** Waiting connections per network (`networkGroup`). */
  const perNetwork = new Map<string, number>();
  /** Waiting connections with a log-in under way, in order of its start (oldest first). */
  const underWay = new Set<Guarded>();
  /** Logged-in connections per user. */
  const perUser = new Map<string, number>();
  let authenticated = 0;
  const idle = new IdleSweeper(idleTimeoutMs);
  let open = 0;
  let nextId = 1;

  const refuse = (
    socket: net.Socket,
    reason: ConnectionDropReason,
    why: string,
    fields: Record<string, unknown> = {},
  ): void => {
    dropped(reason);
    // A flood of them is one line per kind and window, not one per connection.
    logLimited(
      'warn',
      log,
      `${name}:${why}`,
      { remote: formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0), reason, ...fields },
      why,
      addressGroup(foldAddress(socket.remoteAddress)),
    );
    socket.destroy();
  };

  /**
   * The connection to drop for a newcomer: while at most `maxUnderWay` log-ins are under way,
   * not one of them, but of the silent ones the oldest in the group with the most waiting (the
   * crowd, not the lone user); beyond that bound, or with no silent one left, the one whose
   * log-in started first (it has had the longest to answer).
   */
  const evictable = (): Guarded | undefined => {
    const [firstStarted] = underWay;
    if (underWay.size > maxUnderWay) return firstStarted;
    return silentEvictable() ?? firstStarted;
  };

  const silentEvictable = (): Guarded | undefined => {
    let best: Guarded | undefined;
    let most = 0;
    for (const group of waiting.values()) {
      if (group.size < most) continue;
      let oldest: Guarded | undefined;
      for (const conn of group) {
        if (conn.started === 0) {
          oldest = conn;
          break;
        }
      }
      if (!oldest) continue;
      // Ties go to the older connection.
      if (group.size > most || (best !== undefined && oldest.id < best.id)) best = oldest;
      most = group.size;
    }
    return best;
  };

  const evict = (why: string): boolean => {
    const victim = evictable();
    if (!victim) return false;
    logLimited('info', log, `${name}:${why}`, { conn: victim.id, remote: victim.remote }, why, victim.group);
    dropped('evicted');
    victim.destroy();
    release(victim);
    return true;
  };

  /** Closes the connection the service can spare, if it names one of ours. */
  const reclaimIdle = (group?: string): boolean => {
    const socket = options.reclaim?.(group);
    const victim = socket === undefined ? undefined : byPeer.get(peerKey(socket));
    if (victim === undefined) return false;
    log.debug({ conn: victim.id, remote: victim.remote }, 'closed an idle connection: server full');
    dropped('evicted');
    victim.destroy();
    release(victim);
    return true;
  };

  const unwait = (conn: Guarded): void => {
    if (!pending.delete(conn)) return;
    underWay.delete(conn);
    const inNetwork = (perNetwork.get(conn.network) ?? 1) - 1;
    if (inNetwork > 0) perNetwork.set(conn.network, inNetwork);
    else perNetwork.delete(conn.network);
    const group = waiting.get(conn.group);
    group?.delete(conn);
    if (group?.size === 0) waiting.delete(conn.group);
  };

  const onUnderWay = (conn: Guarded, on: boolean): void => {
    if (!on) underWay.delete(conn);
    else if (pending.has(conn)) underWay.add(conn);
  };

  const onAuth = (conn: Guarded, user: string | undefined): void => {
    if (user !== undefined && (perUser.get(user) ?? 0) >= maxPerUser) {
      throw new SockitError(ErrorCode.TOO_MANY_CONNECTIONS, `too many connections for ${user}`);
    }
    if (authenticated >= maxConnections - loginReserve) {
      throw new SockitError(ErrorCode.TOO_MANY_CONNECTIONS, 'the server is full: try again later');
    }
    unwait(conn);
    authenticated++;
    if (user !== undefined) perUser.set(user, (perUser.get(user) ?? 0) + 1);
  };

  const release = (conn: Guarded): void => {
    if (byPeer.get(conn.key) !== conn) return;
    byPeer.delete(conn.key);
    unwait(conn);
    open--;
    if (conn.authenticated && login) authenticated--;
    if (conn.user !== undefined) {
      const users = (perUser.get(conn.user) ?? 1) - 1;
      if (users > 0) perUser.set(conn.user, users);
      else perUser.delete(conn.user);
    }
    const left = (perAddress.get(conn.group) ?? 1) - 1;
    if (left > 0) perAddress.set(conn.group, left);
    else perAddress.delete(conn.group);
  };

  const onConnection = (socket: net.Socket): void => {
    if (closing.signal.aborted) {
      socket.destroy();
      return;
    }
    const address = foldAddress(socket.remoteAddress);
    const group = addressGroup(address);
    if ((perAddress.get(group) ?? 0) >= maxPerAddress && !reclaimIdle(group)) {
      refuse(socket, 'address', 'connection refused: too many from this address', { maxPerAddress });
      return;
    }
    const groupWaiting = waiting.get(group)?.size ?? 0;
    if (login && groupWaiting >= maxWaitingPerGroup) {
      refuse(socket, 'address', 'connection refused: too many from this address not logged in', {
        maxUnauthenticatedPerAddress: maxWaitingPerGroup,
      });
      return;
    }
    const network = networkGroup(address);
    if (login && (perNetwork.get(network) ?? 0) >= maxWaitingPerNetwork) {
      refuse(socket, 'address', 'connection refused: too many from this network not logged in', {
        maxUnauthenticatedPerNetwork: maxWaitingPerNetwork,
      });
      return;
    }
    const unauthenticated = pending.size;
    if (unauthenticated >= full) {
      if (!evict('dropped a connection not logged in: unauthenticated limit reached')) {
        refuse(socket, 'full', 'connection refused: too many not logged in', { full });
        return;
      }
    } else if (
      groupWaiting > 0 &&
      unauthenticated >= start &&
      random() * 100 < rate + ((100 - rate) * (unauthenticated - start)) / (full - start || 1)
    ) {
      refuse(socket, 'early', 'connection refused early: many not logged in', { unauthenticated });
      return;
    }
    if (
      open >= maxConnections &&
      !evict('dropped a connection not logged in: server full') &&
      !reclaimIdle()
    ) {
      refuse(socket, 'full', 'connection refused: at the connection limit', { maxConnections });
      return;
    }
    const key = peerKey(socket);
    const remote = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    const conn = new Guarded(
      nextId++,
      key,
      address,
      group,
      network,
      remote,
      closing.signal,
      onAuth,
      onUnderWay,
    );
    conn.sockets.add(socket);
    byPeer.set(key, conn);
    if (login) {
      pending.add(conn);
      const set = waiting.get(group) ?? new Set<Guarded>();
      set.add(conn);
      waiting.set(group, set);
      perNetwork.set(network, (perNetwork.get(network) ?? 0) + 1);
    } else conn.authenticated = true;
    perAddress.set(group, (perAddress.get(group) ?? 0) + 1);
    open++;
    // Bytes are the raw socket's: on TLS, what crossed the wire, records and handshake included.
    trackConnection(name, protocol, socket);
    socket.once('close', () => {
      release(conn);
      conn.destroy();
    });
    // A reset from the peer must not become an uncaught exception.
    socket.on('error', (err) => log.debug({ err: err.message, conn: conn.id }, 'socket error'));
    if (login && loginTimeoutMs > 0) {
      conn.loginTimer = setTimeout(() => {
        log.info(
          { conn: conn.id, remote: conn.remote, loginTimeoutMs },
          'closing connection: no log-in in time',
        );
        dropped('login');
        conn.destroy();
      }, loginTimeoutMs).unref();
    }
    if (idleTimeoutMs > 0) {
      idle.watch(
        socket,
        () => {
          dropped('idle');
          conn.destroy();
        },
        log.child({ conn: conn.id }),
      );
    }
  };

  server.prependListener('connection', onConnection);
  // A TLS socket over a counted raw socket belongs to the same connection.
  server.on('secureConnection', (socket: net.Socket) => {
    const conn = byPeer.get(peerKey(socket));
    if (!conn) return;
    const [raw] = conn.sockets;
    conn.sockets.add(socket);
    socket.once('close', () => {
      release(conn);
      conn.destroy();
    });
    // The TLS socket now reads the connection's bytes: watch its counters, not the raw socket's.
    if (idleTimeoutMs > 0 && raw) idle.move(raw, socket);
  });

  let closed: Promise<void> | undefined;
  return {
    get connections() {
      return open;
    },
    get unauthenticated() {
      return pending.size;
    },
    closing: closing.signal,
    connectionOf(socket) {
      return byPeer.get(peerKey(socket));
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        closing.abort();
        if (open > 0) log.info({ open, drainTimeoutMs }, 'stopping: waiting for connections to finish');
        const cut = setTimeout(() => {
          if (open > 0) log.warn({ open }, 'drain timeout: closing remaining connections');
          for (const conn of [...byPeer.values()]) conn.destroy();
        }, drainTimeoutMs);
        const done = (): void => {
          clearTimeout(cut);
          idle.stop();
          // The counts of the last seconds' refusals, before the process may go.
          flushLimitedLogs();
          resolve();
        };
        if (server.listening) server.close(done);
        else if (open === 0) done();
        else server.once('close', done);
      });
      return closed;
    },
  };
}

/**
 * Closes connections that moved no byte for `idleMs`. One timer per server looks at each
 * socket's byte counters a few times per period, instead of a per-socket timer that every
 * read and write would have to push back: that per-message cost was a tenth of an echo
 * server's CPU. A silent connection is closed between `idleMs` and 1.25 x `idleMs`.
 */
class IdleSweeper {
  readonly #idleMs: number;
  readonly #watched = new Map<
    net.Socket,
    { read: number; written: number; since: number; close: () => void; log: Logger }
  >();
  #timer: NodeJS.Timeout | undefined;

  constructor(idleMs: number) {
    this.#idleMs = idleMs;
  }

  watch(socket: net.Socket, close: () => void, log: Logger): void {
    this.#watched.set(socket, { read: 0, written: 0, since: Date.now(), close, log });
    socket.once('close', () => this.#watched.delete(socket));
    this.#timer ??= setInterval(() => this.#sweep(), Math.max(50, Math.floor(this.#idleMs / 4))).unref();
  }

  /** Watches `to` in place of `from` (a TLS socket that took over a raw socket's reads). */
  move(from: net.Socket, to: net.Socket): void {
    const seen = this.#watched.get(from);
    if (!seen) return;
    this.#watched.delete(from);
    this.#watched.set(to, { ...seen, read: -1 });
    to.once('close', () => this.#watched.delete(to));
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
        seen.close();
      }
    }
  }
}
