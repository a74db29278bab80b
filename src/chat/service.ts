/**
 * The chat server as one service: the hub and its history in the user store's database, the
 * accounts' log-in, and the listeners (TCP or TLS with native, line mode and WebSocket at
 * /chat/ws; UDP datagrams; IRC and a WebSocket port of its own when asked). What
 * `sockit chat serve` and `sockit serve` start.
 */
import type http from 'node:http';
import type { SecureContextOptions } from 'node:tls';
import { LoginServer } from '../auth/login-server.js';
import type { UserStore } from '../auth/store.js';
import type { Throttle } from '../auth/throttle.js';
import { StaticFiles } from '../http/static.js';
import { ConfinedRoot } from '../runtime/confine.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import { checkInteger, type Service } from '../runtime/service.js';
import { AccountNames } from './accounts.js';
import { ChatCluster } from './cluster.js';
import { MAX_PAGE, openChatHistory } from './history.js';
import { ChatHub } from './hub.js';
import { serveIrc } from './irc/serve.js';
import type { ChatLimits } from './protocol.js';
import { CHAT_PORT, listenChat } from './serve.js';
import { ChatServer } from './server.js';
import { serveChatWebSocket, type WebSocketAcceptor, webSocketAcceptor } from './websocket.js';

/** How often the account names are read again, in ms. */
const ACCOUNTS_REFRESH_MS = 60_000;
const DAY_MS = 86_400_000;
/** How often old messages are looked for, with `keepDays`. */
const PRUNE_EVERY_MS = 3_600_000;

export interface ChatServiceOptions {
  /** Accounts (the same store as the file service's). */
  store: UserStore;
  /** Where history is kept: what `openUserStore` takes (the same database is fine). */
  history: string;
  /** Key for the stable fake salts that unknown users are shown (see `loadFakeKey`). */
  fakeKey: Buffer;
  host?: string;
  /** Default 7788 (TCP and UDP); 0 picks a free port. */
  port?: number;
  tls?: SecureContextOptions;
  /** Datagrams to the port land in lobby. Default true. */
  udp?: boolean;
  /** Let anyone who can connect create an account. Default false. */
  allowRegister?: boolean;
  /** Accounts that are operators of every room, besides those with the `admin` grant. */
  admins?: Iterable<string>;
  /**
   * This node's number (0-1023), in message ids. Default 0; with `redis`, the lowest number
   * no other node on that Redis holds.
   */
  node?: number;
  /**
   * Share rooms, presence, direct messages and nicks with the other servers on this Redis
   * (redis://host:port), each a node of one chat (see `cluster.ts`). Their history is shared
   * only if their database is.
   */
  redis?: string;
  /** Names of the keys and channel on Redis, for several chats on one Redis. Default `sockit:chat`. */
  redisPrefix?: string;
  limits?: Partial<ChatLimits>;
  /** Bytes that may wait unsent for all clients together (see `ChatServerOptions`). Default 128 MiB. */
  maxQueuedBytes?: number;
  /**
   * Back-off for failed log-ins per address, and per account: pass the file service's to
   * share them (a guesser gets no more tries by going from one service to the other).
   * Default: the log-in server's own.
   */
  throttle?: Throttle;
  accountThrottle?: Throttle;
  /** PBKDF2 iterations that self-registered accounts need at least. */
  minIterations?: number;
  maxConnections?: number;
  maxPerAddress?: number;
  /** IRC on this port (0: a free one); none when absent. Over TLS when `tls` is given. */
  ircPort?: number;
  /** WebSocket on a port of its own too (it is always at `/chat/ws` on `port`). */
  webSocketPort?: number;
  /** Origins a browser may connect from over WebSocket; unset: any. */
  allowedOrigins?: readonly string[];
  /**
   * The built web client (dist/web/chat), served at `/chat/` on the chat port beside the
   * WebSocket endpoint. Unset: no pages.
   */
  webRoot?: string;
  /**
   * Days that messages are kept: older ones are deleted at start and then every hour
   * (`ChatHistory.prune`). Unset: kept for good.
   */
  keepDays?: number;
  log?: Logger;
}

export interface ChatService extends Service {
  readonly server: ChatServer;
  /** Where datagrams are taken, when they are. */
  readonly udp?: Service;
  /** The other listeners' services (IRC, WebSocket on its own port), for their addresses. */
  readonly others: readonly Service[];
  /** The link to the other nodes, with `redis`. */
  readonly cluster?: ChatCluster;
}

/**
 * @example
 * ```ts
 * const store = await openUserStore(defaultDatabase('sockit-data'));
 * const chat = await serveChat({ store, history: defaultDatabase('sockit-data'), fakeKey });
 * ```
 */
export async function serveChat(options: ChatServiceOptions): Promise<ChatService> {
  const log = options.log ?? silentLogger;
  const history = await openChatHistory(options.history);
  const opened: Service[] = [];
  let udp: Service | undefined;
  let acceptor: WebSocketAcceptor | undefined;
  let refresh: NodeJS.Timeout | undefined;
  let pruning: NodeJS.Timeout | undefined;
  let server: ChatServer | undefined;
  let cluster: ChatCluster | undefined;
  let web:
    | { pages: (req: http.IncomingMessage, res: http.ServerResponse) => unknown; close(): Promise<void> }
    | undefined;
  try {
    if (options.redis !== undefined) {
      cluster = await ChatCluster.connect({
        url: options.redis,
        ...(options.node === undefined ? {} : { node: options.node }),
        ...(options.redisPrefix === undefined ? {} : { prefix: options.redisPrefix }),
        log,
      });
    }
    const node = cluster?.node ?? options.node;
    const accounts = await AccountNames.fromStore(options.store);
    // Accounts added or removed while the server runs (sockit users add) are seen within a
    // minute: a guest cannot take a new account's name for longer.
    refresh = setInterval(() => {
      options.store
        .list()
        .then((users) => accounts.replace(users.map((u) => u.name)))
        .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'cannot read the accounts'));
    }, ACCOUNTS_REFRESH_MS);
    refresh.unref();
    if (options.keepDays !== undefined) {
      const days = checkInteger('keepDays', options.keepDays, 1, 100_000);
      const prune = (): void => {
        history
          .prune(Date.now() - days * DAY_MS)
          .then((removed) => {
            if (removed > 0) log.info({ removed, keepDays: days }, 'chat history: old messages deleted');
          })
          .catch((err: unknown) =>
            log.warn({ err: (err as Error).message }, 'cannot prune the chat history'),
          );
      };
      prune();
      pruning = setInterval(prune, PRUNE_EVERY_MS);
      pruning.unref();
    }
    server = new ChatServer({
      hub: new ChatHub({
        accounts,
        lastId: await history.latestId(),
        seen: await history.lastSeen(MAX_PAGE),
        ...(node === undefined ? {} : { node }),
        ...(options.limits ? { limits: options.limits } : {}),
      }),
      history,
      ...(cluster ? { relay: cluster } : {}),
      ...(options.admins === undefined ? {} : { admins: options.admins }),
      ...(options.maxQueuedBytes === undefined ? {} : { maxQueuedBytes: options.maxQueuedBytes }),
      log,
    });
    await cluster?.start(server);
    const login = new LoginServer({
      service: 'chat',
      store: options.store,
      fakeKey: options.fakeKey,
      allowRegister: options.allowRegister,
      ...(options.minIterations === undefined ? {} : { minIterations: options.minIterations }),
      ...(options.throttle === undefined ? {} : { throttle: options.throttle }),
      ...(options.accountThrottle === undefined ? {} : { accountThrottle: options.accountThrottle }),
      log,
    });
    if (options.webRoot !== undefined) web = await chatPages(options.webRoot, log);
    const ws = webSocketAcceptor({
      ...(web ? { pages: web.pages } : {}),
      server,
      login,
      ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
      log,
    });
    acceptor = ws;
    const listeners = await listenChat({
      server,
      login,
      host: options.host,
      port: options.port ?? CHAT_PORT,
      tls: options.tls,
      udp: options.udp,
      webSocket: (socket, conn) => ws.accept(socket, conn),
      maxConnections: options.maxConnections,
      maxPerAddress: options.maxPerAddress,
      log,
    });
    opened.push({
      ...listeners.tcp,
      close: async () => {
        await ws.close();
        await listeners.close();
      },
    });
    udp = listeners.udp;
    // Every listener of the chat under the same caps (IRC and the WebSocket port included).
    const guard = {
      host: options.host,
      tls: options.tls,
      maxConnections: options.maxConnections,
      maxPerAddress: options.maxPerAddress,
      log,
    };
    if (options.ircPort !== undefined) {
      opened.push(await serveIrc({ ...guard, server, port: options.ircPort, store: options.store, login }));
    }
    if (options.webSocketPort !== undefined) {
      opened.push(
        await serveChatWebSocket({
          ...guard,
          server,
          login,
          port: options.webSocketPort,
          ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
        }),
      );
    }
  } catch (err) {
    clearInterval(refresh);
    clearInterval(pruning);
    if (opened.length === 0) await acceptor?.close();
    for (const service of opened.reverse()) await service.close();
    await server?.close();
    await cluster?.close();
    await web?.close();
    await history.close();
    throw err;
  }
  const [main, ...rest] = opened as [Service, ...Service[]];
  const chat = server;
  const others = rest;
  let closed: Promise<void> | undefined;
  return {
    name: 'chat',
    protocol: 'tcp',
    address: main.address,
    server: chat,
    ...(udp ? { udp } : {}),
    others,
    ...(cluster ? { cluster } : {}),
    close() {
      closed ??= (async () => {
        clearInterval(refresh);
        clearInterval(pruning);
        // Every client told goodbye first, so that the listeners have nothing left to drain;
        // then the other nodes, which let this node's sessions go.
        await chat.close();
        await cluster?.close();
        await Promise.all([main.close(), ...others.map((s) => s.close())]);
        await web?.close();
        await history.close();
      })();
      return closed;
    },
  };
}

/**
 * The web client's files under `/chat/`: `/chat` is sent to `/chat/`, which is its
 * index.html (never cached); the fingerprinted scripts and styles are cached for good.
 */
async function chatPages(
  root: string,
  log: Logger,
): Promise<{
  pages: (req: http.IncomingMessage, res: http.ServerResponse) => unknown;
  close(): Promise<void>;
}> {
  const confined = await ConfinedRoot.open(root);
  const files = new StaticFiles(confined, {
    listing: false,
    cacheControl: 'no-cache',
    immutable: /-[0-9a-f]{10}\.(js|css)$/,
    log,
  });
  return {
    pages(req, res) {
      const url = req.url ?? '/chat';
      if (url === '/chat' || url.startsWith('/chat?')) {
        res.writeHead(301, { Location: `/chat/${url.slice(5)}`, 'Content-Length': '0' });
        res.end();
        return;
      }
      req.url = url.slice('/chat'.length);
      return files.handle(req, res);
    },
    close: () => confined.close(),
  };
}
