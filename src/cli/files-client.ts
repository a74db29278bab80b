/**
 * What the client commands of `sockit files` share: the server and account they name, their
 * connection flags, logging in, and a client that lives for one command.
 */
import { userInfo } from 'node:os';
import path from 'node:path';
import { type Command, Option } from 'commander';
import { FileKeyCache } from '../auth/key-cache.js';
import type { SecretKey } from '../auth/secret-key.js';
import { ErrorCode, SockitError } from '../errors.js';
import type { FilesClient, LoginOptions } from '../files/client.js';
import { DEFAULT_STALL_MS, FILES_PORT } from '../files/port.js';
import type { Logger } from '../runtime/log.js';
import { type Endpoint, parseEndpoint, parseSeconds, secondsOption } from './args.js';
import { interruptible } from './interrupt.js';
import { localFileError } from './local-files.js';
import { levelOf, type OutputFlags } from './output.js';
import { readPassword } from './password.js';
import { plainLogger } from './plain-log.js';
import { clientTls } from './tls.js';
import { cacheDir } from './user-dirs.js';

export interface ClientFlags {
  /** In ms, as `secondsOption` holds them. */
  connectTimeout?: number;
  stallTimeout?: number;
  /** Set from `--user`, `USER@`, `SOCKIT_USER` or the login name before connecting. */
  user: string;
  tls?: boolean;
  tlsCa?: string;
  secretFile?: string;
  keyCache?: boolean;
  /** The client's log (connection, TLS, log-in steps): set before the action runs. */
  log?: Logger;
}

/** `HOST`, `HOST:PORT`, `[IPv6]:PORT`, `[IPv6]` or a bare IPv6 address; the port defaults to 7021. */
export function parseServer(value: string): Endpoint {
  return parseEndpoint(value, FILES_PORT);
}

/** The environment variable naming the account when neither `--user` nor `USER@` does. */
export const USER_ENV = 'SOCKIT_USER';

/**
 * The server and the account of a client command: `[USER@]HOST[:PORT]`; the account is `--user`,
 * else the `USER@` part, else `SOCKIT_USER`, else the login name, as ssh does.
 *
 * @example
 * resolveTarget('ann@files.lan', {}); // { host: 'files.lan', port: 7021, user: 'ann' }
 */
export function resolveTarget(
  value: string,
  flags: { user?: string },
  env: NodeJS.ProcessEnv = process.env,
  defaultPort: number = FILES_PORT,
): Endpoint & { user: string } {
  const at = value.lastIndexOf('@');
  const named = at < 0 ? undefined : value.slice(0, at);
  if (named === '') {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      `${JSON.stringify(value)}: the user before @ is missing; write USER@HOST[:PORT]`,
    );
  }
  if (named !== undefined && flags.user !== undefined && named !== flags.user) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      `${JSON.stringify(value)} names ${named} but --user names ${flags.user}; give one`,
    );
  }
  const user = flags.user ?? named ?? (env[USER_ENV] || undefined) ?? loginName();
  return { ...parseEndpoint(at < 0 ? value : value.slice(at + 1), defaultPort), user };
}

function loginName(): string {
  try {
    return userInfo().username;
  } catch (err) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      `no login name to log in as; give --user or ${USER_ENV}`,
      { cause: err },
    );
  }
}

/**
 * The flags of every command that logs in: the account, timeouts, TLS, the secret, the key
 * cache; and the client's log, at debug with `-v` or `--log-level debug`, as every client's.
 */
export function clientOptions(command: Command): Command {
  command.hook('preAction', (_root, action) => {
    action.setOptionValue('log', plainLogger(action, 'files', levelOf(action.opts<OutputFlags>())));
  });
  return command
    .option(
      '-u, --user <name>',
      'account to log in as (default: USER@ of the server, SOCKIT_USER or your login name)',
    )
    .addOption(
      secondsOption('--connect-timeout <seconds>', 'give up connecting after this long (0: never)', 10),
    )
    .addOption(
      // No default here: the library's applies, to servers that say when they are busy.
      new Option(
        '--stall-timeout <seconds>',
        `fail when nothing moves on the connection this long (0: never; default ${DEFAULT_STALL_MS / 1000}, none against a server older than protocol version 4)`,
      ).argParser(parseSeconds),
    )
    .option('--tls', 'connect over TLS (the server runs with --tls-cert)')
    .option('--tls-ca <file>', 'trust this certificate (PEM), e.g. a self-signed server; implies --tls')
    .option('--secret-file <file>', "log in with the server's shared secret instead of a password")
    .option(
      '--no-key-cache',
      'neither use nor keep salted keys from earlier log-ins (also SOCKIT_KEY_CACHE=off)',
    )
    .addHelpText(
      'after',
      '\nThe password comes from SOCKIT_PASSWORD, or else is asked for on the terminal without echo.\n' +
        'It never travels: SCRAM-SHA-256 proves it, and proves that the server knows it too.\n' +
        'After a log-in, the salted keys are kept in the cache folder (SOCKIT_CACHE_DIR, else\n' +
        '$XDG_CACHE_HOME/sockit or ~/.cache/sockit; files of mode 0600) and the next log-in to the\n' +
        'same server needs no password until it changes: whoever can read them can log in as you\n' +
        'to that server (and only that one). --no-key-cache turns this off.',
    );
}

async function loginOptions(
  server: { host: string; port: number },
  flags: ClientFlags,
): Promise<LoginOptions> {
  const tls = await clientTls(flags);
  const limits = { timeoutMs: flags.connectTimeout, stallTimeoutMs: flags.stallTimeout, log: flags.log };
  if (flags.secretFile) {
    return { ...server, ...limits, tls, user: flags.user, secret: await readSecret(flags.secretFile) };
  }
  // Asked only when no cached keys fit the server's salt and count.
  const password = () => readPassword({ prompt: `Password for ${flags.user}: ` });
  const off = flags.keyCache === false || process.env.SOCKIT_KEY_CACHE === 'off';
  const keyCache = off ? undefined : new FileKeyCache(path.join(cacheDir(), 'scram'));
  return { ...server, ...limits, tls, user: flags.user, password, keyCache };
}

/** A key made by `sockit secret new`; anything else is ERR_BAD_SECRET. */
export async function readSecret(file: string): Promise<SecretKey> {
  const { SecretKey } = await import('../auth/secret-key.js');
  return SecretKey.read(file);
}

/** The usage error for an empty remote path: it names nothing (the server would end the connection). */
export const EMPTY_REMOTE = 'an empty PATH names nothing in your home; "." is the home itself';

/**
 * Runs `work` with a logged-in client, closing it afterwards. `prepare` runs once the server
 * answers, before a password is asked for: the local checks of a command. Ctrl-C or SIGTERM
 * aborts whatever is under way through the signal (the connection is dropped, a download's
 * part file removed) and the command ends with `sockit: interrupted by Ctrl-C (SIGINT)
 * [ERR_ABORTED]`, status 130 (see `interruptible`). A system error on a local file becomes
 * one coded line (see `localFileError`).
 */
export async function withClient<T>(
  target: string,
  flags: ClientFlags,
  work: (client: FilesClient, signal: AbortSignal) => Promise<T>,
  prepare?: () => Promise<void>,
): Promise<T> {
  const { FilesClient } = await import('../files/client.js');
  return interruptible(async (signal) => {
    try {
      const { user, ...server } = resolveTarget(target, flags);
      flags.user = user;
      const options = await loginOptions(server, flags);
      const client = await FilesClient.login({ ...options, signal, connected: prepare });
      try {
        return await work(client, signal);
      } finally {
        client.close();
      }
    } catch (err) {
      throw localFileError(err);
    }
  });
}
