/** `sockit chat serve`: the chat server, with accounts and history in the data folder's database. */
import { Command, Option } from 'commander';
import { defaultDatabase } from '../auth/connect.js';
import { CHAT_PORT, DEFAULT_IRC_PORT } from '../chat/port.js';
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import { launch } from '../runtime/launch.js';
import { bytesOption, parseCount, parsePort, ranged } from './args.js';
import { loggerFor } from './context.js';
import { databaseOption, dataDirOption, warnIfHistoryLocal } from './data-dir.js';
import { loadTls, type TlsFlags, tlsServerOptions } from './tls.js';
import { webRoot as builtPages } from './web-root.js';

interface ChatServeFlags extends TlsFlags {
  dataDir: string;
  db?: string;
  host?: string;
  port: number;
  udp: boolean;
  ircPort: number;
  /** False with --no-irc. */
  irc: boolean;
  wsPort?: number;
  allowedOrigin: string[];
  allowRegister?: boolean;
  admin: string[];
  node?: number;
  redis?: string;
  redisPrefix?: string;
  keepDays?: number;
  model: 'event-loop' | 'cluster';
  workers?: number;
  maxConnections: number;
  maxPerAddress: number;
  maxQueued: number;
  burst: number;
  rate: number;
}

export function chatServeCommand(): Command {
  return tlsServerOptions(new Command('serve'))
    .description(
      'serve the chat: native clients, browsers, nc/telnet and UDP datagrams on one port, IRC on another',
    )
    .addOption(dataDirOption('where the account database lives, as for sockit serve and users'))
    .addOption(databaseOption('accounts and history'))
    .option('-H, --host <address>', 'bind address (default: all, IPv6 and IPv4)')
    .option('-p, --port <port>', 'TCP and UDP port; 0 picks a free one', parsePort, CHAT_PORT)
    .option('--no-udp', 'take no UDP datagrams')
    .option(
      '--irc-port <port>',
      'IRC for irssi, WeeChat, HexChat and bots (TLS with --tls-cert)',
      parsePort,
      DEFAULT_IRC_PORT,
    )
    .option('--no-irc', 'no IRC listener')
    .option(
      '--ws-port <port>',
      'WebSocket on a port of its own too (it is always at /chat/ws on --port)',
      parsePort,
    )
    .addOption(
      new Option(
        '--allowed-origin <origin>',
        'a web origin allowed over WebSocket, e.g. https://chat.example (repeat)',
      )
        .argParser((value: string, list: string[]) => [...list, value])
        .default([], "the server's own: a page it served"),
    )
    .option('--allow-register', 'let anyone who can connect create an account')
    .addOption(
      new Option('--keep-days <n>', 'delete messages older than this many days (checked hourly)')
        .argParser(ranged(1, 100_000))
        .default(undefined, 'kept for good'),
    )
    .addOption(
      new Option(
        '--admin <account>',
        'an account that is an operator of every room, as are those with the admin grant (repeat for more)',
      )
        .argParser((value: string, list: string[]) => [...list, value])
        .default([], 'none'),
    )
    .option(
      '--redis <url>',
      'share rooms, users and messages with the other servers on this Redis, e.g. redis://127.0.0.1:6379',
    )
    .option(
      '--redis-prefix <name>',
      'names of the keys and channel on Redis, for several chats on one',
      'sockit:chat',
    )
    .addOption(
      new Option('--node <n>', 'this server among several (0-1023), in message ids')
        .argParser(ranged(0, 1023))
        .default(undefined, '0; with --redis, the lowest free one'),
    )
    .addOption(
      new Option(
        '-m, --model <model>',
        'event-loop (one process), or cluster (one node per worker; needs --redis)',
      )
        .choices(['event-loop', 'cluster'])
        .default('event-loop'),
    )
    .option('-w, --workers <n>', 'worker processes for --model cluster (default: one per CPU)', parseCount)
    .option('--max-connections <n>', 'connections at once', parseCount, 1024)
    .option('--max-per-address <n>', 'connections at once from one address (an IPv6 /64)', parseCount, 32)
    .option(
      '--burst <n>',
      'commands a client may send at once (messages, joins, ...); then --rate a second',
      ranged(1, 1_000_000),
      20,
    )
    .option('--rate <n>', 'commands a second a client may keep sending after its burst', ranged(1, 1000), 2)
    .addOption(
      bytesOption(
        '--max-queued <bytes>',
        'output waiting for all clients together; past it the clients that do not read are let go, slowest first',
        '128MiB',
      ),
    )
    .addHelpText(
      'after',
      `
One port takes every kind of client, told apart by what it sends first:
  sockit chat join HOST       the terminal client (native protocol; --tls with --tls-cert)
  ws://HOST:7788/chat/ws      browsers (WebSocket; the same messages as the native protocol)
  nc HOST 7788                type a nick, then talk; /help lists the commands
  echo hi | nc -u -w1 HOST 7788   a datagram lands in lobby as udp-ADDRESS (never answered)
and IRC clients on --irc-port (6667): irssi -c HOST -n ann, then /join #lobby.
Guests choose a nick; accounts (sockit users add NAME) log in with SCRAM-SHA-256. Every room
and direct message is kept in the database; a newcomer to a room gets its scrollback.

Examples:
  sockit chat serve
  sockit chat serve --port 7000 --admin ann
  sockit chat serve --db postgres://chat@db.lan/chat --tls-cert cert.pem --tls-key key.pem

Several servers make one chat with --redis (each a node; clients may list them all,
sockit chat join a.lan,b.lan, and move to the next when one is lost) and one --db:
  sockit chat serve --redis redis://db.lan:6379 --db postgres://chat@db.lan/chat
  sockit chat serve --redis redis://127.0.0.1:6379 --model cluster -w 4`,
    )
    .action(async (flags: ChatServeFlags, command: Command) => {
      if (flags.model === 'cluster' && flags.redis === undefined) {
        throw new SockitError(
          ErrorCode.USAGE,
          '--model cluster needs --redis URL: each worker holds a hub of its own, and only Redis joins them into one chat',
        );
      }
      const log = loggerFor(command);
      const tls = await loadTls(flags);
      const [{ openUserStore }, { loadFakeKey }, { serveChat }] = await Promise.all([
        import('../auth/store.js'),
        import('../files/server.js'),
        import('../chat/service.js'),
      ]);
      const database = flags.db ?? defaultDatabase(flags.dataDir);
      warnIfHistoryLocal(database, flags.redis, log);
      const store = await openUserStore(database);
      const webRoot = builtPages('chat');
      try {
        const launched = await launch({ model: flags.model, workers: flags.workers, log }, async () => [
          await namingPortFlag(
            async () =>
              await serveChat({
                store,
                history: database,
                fakeKey: await loadFakeKey(flags.dataDir),
                host: flags.host,
                port: flags.port,
                tls,
                udp: flags.udp,
                ...(flags.irc ? { ircPort: flags.ircPort } : {}),
                ...(flags.wsPort === undefined ? {} : { webSocketPort: flags.wsPort }),
                ...(flags.allowedOrigin.length > 0 ? { allowedOrigins: flags.allowedOrigin } : {}),
                allowRegister: flags.allowRegister,
                ...(webRoot === undefined ? {} : { webRoot }),
                ...(flags.keepDays === undefined ? {} : { keepDays: flags.keepDays }),
                admins: flags.admin,
                ...(flags.node === undefined ? {} : { node: flags.node }),
                ...(flags.redis === undefined ? {} : { redis: flags.redis, redisPrefix: flags.redisPrefix }),
                maxConnections: flags.maxConnections,
                maxPerAddress: flags.maxPerAddress,
                maxQueuedBytes: flags.maxQueued,
                limits: { burst: flags.burst, refillMs: Math.max(1, Math.round(1000 / flags.rate)) },
                log,
              }),
          ),
        ]);
        await launched.stopped;
      } finally {
        await store.close();
      }
    });
}

/**
 * Starts the chat; when a port is taken, the error names the flag that changes that one
 * (the listeners' own messages say `--port`, which is the main port's only).
 */
async function namingPortFlag<T>(start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if (isSockitError(err) && (err.code === ErrorCode.ADDRESS_IN_USE || err.code === ErrorCode.BIND_DENIED)) {
      const flag = /\birc\//.test(err.message)
        ? '--irc-port'
        : /\bws\b|websocket/i.test(err.message)
          ? '--ws-port'
          : '--port';
      throw new SockitError(err.code, err.message.replace(/--port\b/, flag), { cause: err });
    }
    throw err;
  }
}
