/**
 * The IRC transport of the chat: a TCP (or TLS) service where IRC clients (irssi, WeeChat,
 * HexChat, bots) meet sockit's own clients in the same hub. Connections are guarded as every
 * sockit service's are (connection limits, a log-in deadline: a client must register in time),
 * and kept alive by PING: a registered client silent for `pingIntervalMs` is pinged, and let
 * go when it does not answer within `pingTimeoutMs`.
 */
import { randomBytes } from 'node:crypto';
import type tls from 'node:tls';
import { LoginServer } from '../../auth/login-server.js';
import type { UserStore } from '../../auth/store.js';
import { type Logger, silentLogger } from '../../runtime/log.js';
import { isLoopback } from '../../runtime/netgroup.js';
import { checkInteger } from '../../runtime/service.js';
import { serveTcp, type TcpService, type TcpServiceOptions } from '../../runtime/tcp.js';
import { DEFAULT_IRC_PORT } from '../port.js';
import type { ChatServer } from '../server.js';
import { IrcConnection, type IrcSettings, RenderedMessage } from './connection.js';

/** IRC's registered port (RFC 7194 gives 6697 to IRC over TLS). */
export { DEFAULT_IRC_PORT };

/** The guard's limits an IRC service passes on as they are (see `TcpServiceOptions`). */
const GUARD_OPTIONS = [
  'backlog',
  'maxConnections',
  'maxPerAddress',
  'loginTimeoutMs',
  'maxStartups',
  'maxUnauthenticatedPerAddress',
  'maxUnauthenticatedPerNetwork',
  'maxPerUser',
  'loginReserve',
  'idleTimeoutMs',
  'drainTimeoutMs',
] as const;

export interface IrcServiceOptions extends Pick<TcpServiceOptions, (typeof GUARD_OPTIONS)[number]> {
  /** The chat server whose hub the IRC clients join. */
  server: ChatServer;
  /** Bind address; default every address. */
  host?: string;
  /** Default 6667; 0 picks a free port. */
  port?: number;
  /** Certificate and key: serve IRC over TLS, and offer SASL PLAIN. */
  tls?: tls.SecureContextOptions;
  /** Accounts that may log in (PASS, or SASL PLAIN over TLS); without one everybody is a guest. */
  store?: UserStore;
  /**
   * The log-in server to check passwords with, to share its back-off with other services;
   * default one made for `store` (with a fake-salt key of its own, new at each start).
   */
  login?: LoginServer;
  log?: Logger;
  /** The server's name in every reply, and the host shown for chat users. Default `irc.sockit`. */
  serverName?: string;
  /** Lines of the message of the day; without them, 422 (no MOTD). */
  motd?: string[];
  /** Bytes queued for one client before it is let go as one that does not read. Default 1 MiB. */
  maxQueuedBytes?: number;
  /** PING a registered client silent this long, in ms. Default 90 s. */
  pingIntervalMs?: number;
  /** Let go a client that has not answered a PING this long, in ms. Default 60 s. */
  pingTimeoutMs?: number;
  /**
   * Whether a client at this address may send its password in clear (PASS without TLS).
   * Default: only from this host (127.0.0.0/8, ::1), where it never crosses a network.
   */
  clearPasswordFrom?: (address: string) => boolean;
}

/**
 * Starts the IRC service; resolves once it listens.
 *
 * @example
 * ```ts
 * const chat = new ChatServer({ hub: new ChatHub({ accounts }), history });
 * const irc = await serveIrc({ server: chat, port: 6667, store, log });
 * // irssi -c 127.0.0.1 -p 6667 -n ann, then /join #lobby
 * await irc.close();
 * ```
 */
export async function serveIrc(options: IrcServiceOptions): Promise<TcpService> {
  const log = options.log ?? silentLogger;
  const pingIntervalMs = checkInteger('pingIntervalMs', options.pingIntervalMs ?? 90_000, 10, 2 ** 31 - 1);
  const pingTimeoutMs = checkInteger('pingTimeoutMs', options.pingTimeoutMs ?? 60_000, 10, 2 ** 31 - 1);
  const limits = options.server.hub.limits;
  const login =
    options.login ??
    (options.store === undefined
      ? undefined
      : new LoginServer({ service: 'irc', store: options.store, fakeKey: randomBytes(32), log }));
  const settings: IrcSettings = {
    server: options.server,
    serverName: options.serverName ?? 'irc.sockit',
    login,
    motd: options.motd,
    clearPasswordFrom: options.clearPasswordFrom ?? isLoopback,
    rendered: new RenderedMessage(),
    maxQueuedBytes: checkInteger('maxQueuedBytes', options.maxQueuedBytes ?? 1024 * 1024, 4096, 2 ** 31 - 1),
    pingIntervalMs,
    pingTimeoutMs,
    lingerMs: 2000,
    // Twice the hub's pace: PING, CAP and queries answered here should not run dry first.
    localBurst: Math.max(1, limits.burst * 2),
    localRefillMs: Math.max(1, Math.floor(limits.refillMs / 2)),
  };
  const open = new Set<IrcConnection>();
  const sweep = Math.min(1000, Math.max(50, Math.floor(Math.min(pingIntervalMs, pingTimeoutMs) / 4)));
  const keepalive = setInterval(() => {
    const now = Date.now();
    for (const connection of open) connection.keepalive(now);
  }, sweep);
  keepalive.unref();
  const tlsOn = options.tls !== undefined;
  let service: TcpService;
  try {
    service = await serveTcp({
      ...pickGuard(options),
      name: tlsOn ? 'ircs' : 'irc',
      host: options.host,
      port: options.port ?? DEFAULT_IRC_PORT,
      tls: options.tls,
      log,
      login: true,
      // The keepalive ends silent clients; the guard's idle limit is only a backstop.
      idleTimeoutMs: options.idleTimeoutMs ?? 2 * (pingIntervalMs + pingTimeoutMs),
      async handler(conn) {
        const connection = new IrcConnection(conn, settings, tlsOn);
        open.add(connection);
        try {
          await connection.serve();
        } finally {
          open.delete(connection);
        }
      },
    });
  } catch (err) {
    clearInterval(keepalive);
    throw err;
  }
  const close = service.close.bind(service);
  return Object.assign(service, {
    close: async () => {
      await close();
      clearInterval(keepalive);
    },
  });
}

function pickGuard(options: IrcServiceOptions): Partial<TcpServiceOptions> {
  return Object.fromEntries(
    GUARD_OPTIONS.flatMap((key) => (options[key] === undefined ? [] : [[key, options[key]]])),
  );
}
