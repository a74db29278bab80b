/** `sockit serve`: every sockit service at once, on unprivileged default ports. */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { defaultDatabase } from '../auth/connect.js';
import { CHAT_PORT, DEFAULT_IRC_PORT } from '../chat/port.js';
import type { ChatService } from '../chat/service.js';
import { ECHO_SERVE_PORT, serveEcho } from '../echo/server.js';
import { ErrorCode, fileError, isSockitError, SockitError } from '../errors.js';
import { FILES_PORT } from '../files/port.js';
import { HTTP_PORT } from '../http/port.js';
import { launch } from '../runtime/launch.js';
import { type Logger, LogTail } from '../runtime/log.js';
import { isLoopback } from '../runtime/netgroup.js';
import type { Service } from '../runtime/service.js';
import { serveTftp, TFTP_SERVE_PORT, type TftpService } from '../tftp/server.js';
import { parsePort, ranged } from './args.js';
import { loggerFor } from './context.js';
import { databaseOption, dataDirOption, warnIfHistoryLocal } from './data-dir.js';
import { webRoot as builtPages } from './web-root.js';

/** Where `sockit serve` binds unless told otherwise: this machine only. */
export const SERVE_DEFAULT_HOST = '127.0.0.1';

interface ServeAllFlags {
  host: string;
  echoPort: number;
  tftpPort: number;
  filesPort: number;
  chatPort: number;
  ircPort: number;
  dataDir: string;
  db?: string;
  redis?: string;
  redisPrefix: string;
  chatKeepDays?: number;
  httpPort: number;
  /** False with --no-http. */
  http: boolean;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('run every sockit service with embedded defaults, one start-up line per service')
    .option(
      '-H, --host <address>',
      'bind address for every service; :: or 0.0.0.0 exposes them all to the network',
      SERVE_DEFAULT_HOST,
    )
    .addOption(dataDirOption('where services keep their files (created if missing)'))
    .option('--echo-port <port>', 'echo service, TCP and UDP', parsePort, ECHO_SERVE_PORT)
    .option(
      '--tftp-port <port>',
      'TFTP service, read-only, serving DATA-DIR/tftp',
      parsePort,
      TFTP_SERVE_PORT,
    )
    .option('--files-port <port>', 'file service, homes in DATA-DIR/files', parsePort, FILES_PORT)
    .option(
      '--chat-port <port>',
      'chat: native, WebSocket (/chat/ws), nc, and UDP datagrams',
      parsePort,
      CHAT_PORT,
    )
    .option('--irc-port <port>', 'the chat for IRC clients', parsePort, DEFAULT_IRC_PORT)
    .option(
      '--http-port <port>',
      'status over HTTP: a live dashboard, /api/status, /metrics (Prometheus), /healthz',
      parsePort,
      HTTP_PORT,
    )
    .option('--no-http', 'no status listener')
    .addOption(databaseOption('accounts and chat history'))
    .option(
      '--redis <url>',
      'the chat is one with the other servers on this Redis (see sockit chat serve --help)',
    )
    .option('--redis-prefix <name>', 'names of the chat keys and channel on Redis', 'sockit:chat')
    .addOption(
      new Option('--chat-keep-days <n>', 'delete chat messages older than this many days (checked hourly)')
        .argParser(ranged(1, 100_000))
        .default(undefined, 'kept for good'),
    )
    .addHelpText(
      'after',
      `
Services and their default ports:
  echo   ${ECHO_SERVE_PORT}/tcp and ${ECHO_SERVE_PORT}/udp (RFC 862)
  tftp   ${TFTP_SERVE_PORT}/udp, read-only, files from DATA-DIR/tftp (RFC 1350)
  files  ${FILES_PORT}/tcp, accounts from --db (add them with sockit users add), homes in DATA-DIR/files
  chat   ${CHAT_PORT}/tcp and ${CHAT_PORT}/udp, the same accounts (or guests), history in --db;
         IRC on ${DEFAULT_IRC_PORT}/tcp (irssi -c 127.0.0.1 -n ann, /join #lobby)
  status ${HTTP_PORT}/tcp: http://127.0.0.1:${HTTP_PORT}/ (services, connections, transfers, chat rooms),
         /api/status (JSON), /metrics (Prometheus), /healthz; read-only, except for
         accounts with the admin grant (sockit users add NAME --admin), who may log in
         there to see each user's file usage and the last log lines, stop a TFTP
         transfer and disconnect a chat user

Only this machine can reach them unless --host says otherwise: --host :: (or 0.0.0.0)
opens every service to the network, the file service without TLS (a start-up line warns).
If any service cannot start, none keeps running: the command exits naming the port
and the flag that changes it (status 1 for a port in use, 4 for a privileged port).

Stops gracefully on SIGINT/SIGTERM.

Examples:
  sockit serve
  sockit serve --files-port 8021 --data-dir /srv/sockit
  sockit serve --host ::
  sockit serve --redis redis://db.lan:6379 --db postgres://sockit@db.lan/sockit   (one chat on several hosts)`,
    )
    .action(async (flags: ServeAllFlags, command: Command) => {
      // The dashboard's admin view shows the last log lines.
      const tail = flags.http ? new LogTail() : undefined;
      const log = loggerFor(command, 'info', tail);
      const tftpRoot = path.resolve(flags.dataDir, 'tftp');
      await mkdir(tftpRoot, { recursive: true }).catch((err: unknown) => {
        throw fileError(err, '--data-dir', tftpRoot, 'folder');
      });
      const [
        { openUserStore },
        { loadFakeKey, serveFiles },
        { serveChat },
        { Throttle },
        { ACCOUNT_FREE_FAILURES, LoginServer },
        { Metrics },
        { serveStatus },
      ] = await Promise.all([
        import('../auth/store.js'),
        import('../files/server.js'),
        import('../chat/service.js'),
        import('../auth/throttle.js'),
        import('../auth/login-server.js'),
        import('../runtime/metrics.js'),
        import('../http/status.js'),
      ]);
      // Before the services start, so that it sees every event of theirs.
      const metrics = flags.http ? new Metrics().start() : undefined;
      const database = flags.db ?? defaultDatabase(flags.dataDir);
      warnIfHistoryLocal(database, flags.redis, log);
      const store = await openUserStore(database);
      const webRoot = builtPages('chat');
      const dashboard = builtPages('dashboard');
      try {
        const launched = await launch({ model: 'event-loop', log }, async (model) => {
          warnIfExposed(flags.host, log);
          const services: Service[] = [];
          let chatService: ChatService | undefined;
          let tftp: TftpService | undefined;
          // One key for the fake salts of both services that log accounts in.
          const fakeKey = await loadFakeKey(flags.dataDir);
          // And one back-off for failed log-ins: a guesser gains nothing by going from the
          // file service to the chat or IRC (which share the chat's log-in server).
          const throttles = {
            throttle: new Throttle(),
            accountThrottle: new Throttle({ freeFailures: ACCOUNT_FREE_FAILURES }),
          };
          // One at a time, so that a service that cannot start stops the ones before it.
          await startOrStopAll(services, '--echo-port', async () =>
            serveEcho({ host: flags.host, port: flags.echoPort, model, log }),
          );
          await startOrStopAll(services, '--tftp-port', async () => {
            tftp = await serveTftp({ root: tftpRoot, host: flags.host, port: flags.tftpPort, log });
            return [tftp];
          });
          await startOrStopAll(services, '--files-port', async () => [
            await serveFiles({
              root: path.resolve(flags.dataDir, 'files'),
              store,
              host: flags.host,
              port: flags.filesPort,
              fakeKey,
              ...throttles,
              log,
            }),
          ]);
          // The chat's own listeners and IRC's: the message names which (chat/tcp, irc/tcp).
          const chatFlag = (message: string): string =>
            /\birc/.test(message) ? '--irc-port' : '--chat-port';
          await startOrStopAll(services, chatFlag, async () => {
            const chat = await serveChat({
              store,
              history: database,
              fakeKey,
              host: flags.host,
              port: flags.chatPort,
              ircPort: flags.ircPort,
              ...(webRoot === undefined ? {} : { webRoot }),
              ...(flags.redis === undefined ? {} : { redis: flags.redis, redisPrefix: flags.redisPrefix }),
              ...(flags.chatKeepDays === undefined ? {} : { keepDays: flags.chatKeepDays }),
              ...throttles,
              log,
            });
            chatService = chat;
            return [chat];
          });
          if (metrics !== undefined) {
            // Every listener: the chat's UDP and IRC ones are held by its service.
            const shown = services.flatMap((s) =>
              s === chatService
                ? [s, ...(chatService.udp ? [chatService.udp] : []), ...chatService.others]
                : [s],
            );
            await startOrStopAll(services, '--http-port', async () => [
              await serveStatus({
                host: flags.host,
                port: flags.httpPort,
                // A dashboard asks every second: its requests would bury the services' lines
                // (admin log-ins and actions have lines of their own).
                accessLog: false,
                metrics,
                ...(dashboard === undefined ? {} : { webRoot: dashboard }),
                source: {
                  services: () => shown,
                  stateOf: (s) => (s === chatService ? chatService.cluster?.state : undefined),
                  rooms: () => chatService?.server.hub.rooms() ?? [],
                  transfers: () => tftp?.active().map((t) => ({ service: 'tftp', ...t })) ?? [],
                  stopTransfer: (service, client) => service === 'tftp' && (tftp?.stop(client) ?? false),
                  disconnect: (nick) => chatService?.server.disconnect(nick, 'disconnected by an admin') ?? 0,
                },
                admin: {
                  login: new LoginServer({ service: 'dashboard', store, fakeKey, ...throttles, log }),
                  store,
                  ...(tail === undefined ? {} : { tail }),
                },
                log,
              }),
            ]);
          }
          return services;
        });
        await launched.stopped;
      } finally {
        // Also when start-up fails: an open pool would keep the process alive.
        await store.close();
      }
    });
}

/**
 * Starts one service into `services`; when it fails, stops those already started and
 * rethrows, naming the `serve` flag that changes the port (the services' own messages
 * say `--port`, which `serve` does not have).
 */
async function startOrStopAll(
  services: Service[],
  flag: string | ((message: string) => string),
  start: () => Promise<Service[]>,
): Promise<void> {
  try {
    services.push(...(await start()));
  } catch (err) {
    await Promise.allSettled(services.map((s) => s.close()));
    services.length = 0;
    if (isSockitError(err) && (err.code === ErrorCode.ADDRESS_IN_USE || err.code === ErrorCode.BIND_DENIED)) {
      const name = typeof flag === 'string' ? flag : flag(err.message);
      throw new SockitError(err.code, err.message.replace(/--port\b/, name), { cause: err });
    }
    throw err;
  }
}

function warnIfExposed(host: string, log: Logger): void {
  if (isLoopback(host)) return;
  log.warn(
    { host },
    `binding ${host}: every service is reachable from the network, the file service without TLS ` +
      '(passwords are never sent, but file contents are readable on the wire), and the status ' +
      "dashboard over plain HTTP (an admin's session cookie could be read on the wire); " +
      `use --host ${SERVE_DEFAULT_HOST} to keep them on this machine`,
  );
}
