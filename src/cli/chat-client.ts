/**
 * What the chat's client commands share: `HOST[:PORT]`, joining as a guest (`--nick`) or an
 * account (`--user`, the password from SOCKIT_PASSWORD or asked without echo), TLS; and
 * `sockit chat send` and `sockit chat tail`, for scripts and logs.
 */
import { userInfo } from 'node:os';
import { Command } from 'commander';
import type { ChatClient, ChatClientOptions, ClientEvent } from '../chat/client.js';
import { CHAT_PORT } from '../chat/port.js';
import type { ChatMessage } from '../chat/protocol.js';
import { ErrorCode, SockitError } from '../errors.js';
import { parseEndpoint, secondsOption } from './args.js';
import { interruptible } from './interrupt.js';
import { levelOf, type OutputFlags } from './output.js';
import { readPassword } from './password.js';
import { plainLogger } from './plain-log.js';
import { writeStdout } from './stdout.js';
import { clientTls } from './tls.js';

export interface ChatClientFlags extends OutputFlags {
  nick?: string;
  user?: string;
  tls?: boolean;
  tlsCa?: string;
  connectTimeout?: number;
}

/** `--nick` or `--user`, TLS and the connect timeout. */
export function chatClientOptions(command: Command): Command {
  return command
    .option('-n, --nick <nick>', 'join as a guest with this nick (default: your login name)')
    .option('-u, --user <account>', 'log in to this account (password: SOCKIT_PASSWORD, or asked)')
    .option('--tls', 'connect over TLS (the server runs with --tls-cert)')
    .option('--tls-ca <file>', 'trust this certificate (PEM), e.g. a self-signed server; implies --tls')
    .addOption(
      secondsOption('--connect-timeout <seconds>', 'give up connecting after this long (0: never)', 10),
    )
    .option('-v, --verbose', 'each step on stderr: connection, TLS, log-in');
}

/** The client's options for `target` and the flags; the password is asked only when needed. */
export async function connectOptions(
  target: string,
  flags: ChatClientFlags,
  command: Command,
  signal?: AbortSignal,
): Promise<ChatClientOptions> {
  if (flags.nick !== undefined && flags.user !== undefined) {
    throw new SockitError(ErrorCode.USAGE, '--nick joins as a guest, --user logs in: give one');
  }
  const { host, port } = parseEndpoint(target, CHAT_PORT);
  const tls = await clientTls(flags);
  const who =
    flags.user !== undefined
      ? { user: flags.user, password: () => readPassword({ prompt: `Password for ${flags.user}: ` }) }
      : { nick: flags.nick ?? guestNick() };
  return {
    host,
    port,
    ...(tls ? { tls } : {}),
    ...(flags.connectTimeout === undefined ? {} : { timeoutMs: flags.connectTimeout }),
    ...(signal ? { signal } : {}),
    log: plainLogger(command, 'chat', levelOf(flags)),
    ...who,
  };
}

/** `HOST[:PORT][,HOST[:PORT]...]`: the servers of one chat (its nodes), to try in turn. */
export function serverList(target: string): string[] {
  const servers = target.split(',').map((t) => t.trim());
  if (servers.some((t) => t === '')) {
    throw new SockitError(
      ErrorCode.USAGE,
      `"${target}": an empty server in the list; give HOST[:PORT],HOST[:PORT]`,
    );
  }
  return servers;
}

/**
 * Connects to the first server that takes the client, trying each once from `start` on (the
 * list wraps); the last error when none does. `at`: the index of the one connected to.
 */
export async function connectFirst(
  Client: typeof ChatClient,
  servers: readonly string[],
  start: number,
  flags: ChatClientFlags,
  command: Command,
  signal?: AbortSignal,
): Promise<{ client: ChatClient; at: number }> {
  let failure: unknown;
  for (let i = 0; i < servers.length; i++) {
    const at = (start + i) % servers.length;
    try {
      const client = await Client.connect(
        await connectOptions(servers[at] as string, flags, command, signal),
      );
      return { client, at };
    } catch (err) {
      if (signal?.aborted) throw err;
      failure = err;
    }
  }
  throw failure;
}

/** The login name as a nick (a letter first, only what nicks may hold), else `guest`. */
function guestNick(): string {
  let name = 'guest';
  try {
    name = userInfo().username;
  } catch {}
  const nick = name.replace(/[^A-Za-z0-9_\-[\]\\`^{|}]/g, '').slice(0, 32);
  return /^[A-Za-z[\]\\`_^{|}]/.test(nick) ? nick : 'guest';
}

/** Waits for the first event `until` accepts; a refusal or a goodbye throws as its error. */
export async function awaitEvent(
  client: ChatClient,
  until: (e: ClientEvent) => boolean,
): Promise<ClientEvent> {
  const { refusalError } = await import('../chat/client.js');
  for await (const event of client) {
    if (until(event)) return event;
    if (event.type === 'refused' || event.type === 'bye') throw refusalError(event);
  }
  throw new SockitError(ErrorCode.CONNECTION_CLOSED, `${client.server} closed the connection`);
}

export function sendCommand(): Command {
  return chatClientOptions(new Command('send'))
    .description('send one message to a room and exit once the server has it')
    .argument(
      '<server>',
      'HOST[:PORT] (default port 7788), or several nodes of one chat: the first that answers',
    )
    .argument('<room>', 'room, e.g. lobby')
    .argument('<text...>', 'the message (words are joined by spaces)')
    .option('--json', 'print the message as stored (id, server time) as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  sockit chat send chat.lan lobby build 1234 passed\n  sockit chat send --user ann chat.lan ops "deploy done"',
    )
    .action(
      async (server: string, room: string, words: string[], flags: ChatClientFlags, command: Command) => {
        const { ChatClient } = await import('../chat/client.js');
        await interruptible(
          async (signal) => {
            const { client } = await connectFirst(ChatClient, serverList(server), 0, flags, command, signal);
            try {
              client.send({ type: 'join', room });
              await awaitEvent(client, (e) => e.type === 'joined');
              client.send({ type: 'say', room, text: words.join(' ') });
              const echo = await awaitEvent(client, (e) => e.type === 'message' && e.echo === true);
              if (flags.json && echo.type === 'message') writeStdout(`${JSON.stringify(echo.message)}\n`);
            } finally {
              await client.close();
            }
          },
          { atOnce: true },
        );
      },
    );
}

export function tailCommand(): Command {
  return chatClientOptions(new Command('tail'))
    .description("print a room's recent messages, then each new one as it comes (Ctrl-C stops)")
    .argument(
      '<server>',
      'HOST[:PORT] (default port 7788), or several nodes of one chat: HOST[:PORT],HOST[:PORT]',
    )
    .argument('<room>', 'room, e.g. lobby')
    .option('--json', 'one JSON object per message (id, at, from, room, text)')
    .option('--no-follow', 'print the recent messages and exit')
    .addHelpText(
      'after',
      '\nA lost connection is made again (1 s, then up to 30 s apart), to the next server of the list first; no message is missed or shown twice.\n\nExamples:\n  sockit chat tail chat.lan lobby\n  sockit chat tail chat.lan ops --json >> ops.log',
    )
    .action(
      async (
        server: string,
        room: string,
        flags: ChatClientFlags & { follow: boolean },
        command: Command,
      ) => {
        const { ChatClient, refusalError } = await import('../chat/client.js');
        const { messageLine } = await import('../chat/text-lines.js');
        const print = (m: ChatMessage): void =>
          writeStdout(`${flags.json ? JSON.stringify(m) : messageLine(m, room)}\n`);
        const { Resume } = await import('../chat/resume.js');
        const resume = new Resume();
        const servers = serverList(server);
        let connected = false;
        await interruptible(async (signal) => {
          for (let failures = 0, at = 0; ; ) {
            let client: ChatClient;
            try {
              ({ client, at } = await connectFirst(ChatClient, servers, at, flags, command, signal));
            } catch (err) {
              // The first connection must work; later, a server that is away is waited for.
              if (!connected || signal.aborted) throw err;
              await backOff(++failures, signal);
              continue;
            }
            connected = true;
            failures = 0;
            const after = resume.after();
            client.send(after ? { type: 'join', room, after } : { type: 'join', room });
            let joined = false;
            try {
              for await (const event of client) {
                if (event.type === 'refused' || event.type === 'bye') throw refusalError(event);
                if (event.type === 'history' && event.room === room) {
                  joined = true;
                  for (const m of event.messages) if (resume.take(m.id)) print(m);
                  // After a reconnection the page runs forward from where it resumed: more may
                  // have come meanwhile than one page holds.
                  const end = event.messages.at(-1)?.id;
                  if (after && event.more && end) client.send({ type: 'history', room, after: end });
                  else if (!flags.follow) return;
                } else if (event.type === 'message' && event.message.room === room && joined) {
                  if (resume.take(event.message.id)) print(event.message);
                }
              }
            } catch (err) {
              if (!(err instanceof SockitError) || err.code !== ErrorCode.CONNECTION_CLOSED) throw err;
            } finally {
              await client.close().catch(() => undefined);
            }
            if (signal.aborted) return;
            at++; // that server may be gone: the next in the list first
            await backOff(++failures, signal);
          }
        });
      },
    );
}

/** Waits before reconnection `attempt` (1, 2, ...): 1 s, 2 s, 4 s ... up to 30 s, with a little jitter; cut short by the signal. */
export function backOff(attempt: number, signal: AbortSignal): Promise<void> {
  const ms = Math.min(30_000, 1000 * 2 ** Math.min(attempt - 1, 5)) * (0.8 + Math.random() * 0.4);
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
