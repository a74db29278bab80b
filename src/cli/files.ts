/** `sockit files`: the authenticated file service and its client commands. */

import { lstat, mkdir, readdir, stat } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { defaultDatabase } from '../auth/connect.js';
import { DEFAULT_ITERATIONS, MAX_ITERATIONS, MIN_ITERATIONS } from '../auth/credentials.js';
import { FileKeyCache } from '../auth/key-cache.js';
import type { SecretKey } from '../auth/secret-key.js';
import type { Quota } from '../auth/store.js';
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import type { FilesClient, LoginOptions, TransferResult } from '../files/client.js';
import { makeLocalFolder, planTree } from '../files/download.js';
import { requestedForm } from '../files/names.js';
import { FILES_PORT } from '../files/port.js';
import type { Entry } from '../files/protocol.js';
import { launch } from '../runtime/launch.js';
import {
  bytesOption,
  type Endpoint,
  guardLoginOptions,
  iterationsOption,
  type LoginLimitFlags,
  parseBytes,
  parseCount,
  parseEndpoint,
  parseIterations,
  parsePort,
  secondsOption,
} from './args.js';
import { loggerFor } from './context.js';
import { dataDirOption } from './data-dir.js';
import { downloadStream, STDIO, uploadStream } from './files-stdio.js';
import { readPassword } from './password.js';
import { formatBytes, Progress } from './progress.js';
import { parseServerQuota } from './quota.js';
import { clientTls, loadTls, type TlsFlags, tlsServerOptions } from './tls.js';

interface ServeFlags extends TlsFlags, LoginLimitFlags {
  root?: string;
  dataDir: string;
  db?: string;
  host?: string;
  port: number;
  allowRegister?: boolean;
  secretFile?: string;
  minIterations: number;
  maxFileSize: number;
  quota: Quota;
  maxConnections: number;
  maxPerUser: number;
  maxWaitingPerAddress: number;
  idleTimeout: number;
}

interface ClientFlags {
  /** In ms, as `secondsOption` holds them. */
  connectTimeout?: number;
  stallTimeout?: number;
  /** Set from `--user`, `USER@`, `SOCKIT_USER` or the login name before connecting. */
  user: string;
  tls?: boolean;
  tlsCa?: string;
  secretFile?: string;
  keyCache?: boolean;
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
  return { ...parseServer(at < 0 ? value : value.slice(at + 1)), user };
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

function clientOptions(command: Command): Command {
  return command
    .option(
      '-u, --user <name>',
      'account to log in as (default: USER@ of the server, SOCKIT_USER or your login name)',
    )
    .addOption(secondsOption('--connect-timeout <seconds>', 'give up connecting after this long', 10))
    .addOption(
      secondsOption(
        '--stall-timeout <seconds>',
        'fail when nothing moves on the connection this long (0: never)',
        60,
      ),
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
  const limits = { timeoutMs: flags.connectTimeout, stallTimeoutMs: flags.stallTimeout };
  if (flags.secretFile) {
    return { ...server, ...limits, tls, user: flags.user, secret: await readSecret(flags.secretFile) };
  }
  // Asked only when no cached keys fit the server's salt and count.
  const password = () => readPassword({ prompt: `Password for ${flags.user}: ` });
  const off = flags.keyCache === false || process.env.SOCKIT_KEY_CACHE === 'off';
  const keyCache = off ? undefined : new FileKeyCache(path.join(cacheDir(), 'scram'));
  return { ...server, ...limits, tls, user: flags.user, password, keyCache };
}

/** The user's cache folder for sockit (XDG Base Directory specification). */
function cacheDir(): string {
  if (process.env.SOCKIT_CACHE_DIR) return process.env.SOCKIT_CACHE_DIR;
  const xdg = process.env.XDG_CACHE_HOME;
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(homedir(), '.cache'), 'sockit');
}

/** A key made by `sockit secret new`; anything else is ERR_BAD_SECRET. */
async function readSecret(file: string): Promise<SecretKey> {
  const { SecretKey } = await import('../auth/secret-key.js');
  return SecretKey.read(file);
}

/**
 * Runs `work` with a logged-in client, closing it afterwards. Ctrl-C aborts whatever is under
 * way through the signal (the connection is dropped, a download's part file removed) and the
 * command ends with `ERR_ABORTED`.
 */
async function withClient<T>(
  target: string,
  flags: ClientFlags,
  work: (client: FilesClient, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const { FilesClient } = await import('../files/client.js');
  const controller = new AbortController();
  const interrupt = (): void => controller.abort();
  process.once('SIGINT', interrupt);
  try {
    const { user, ...server } = resolveTarget(target, flags);
    flags.user = user;
    const options = await loginOptions(server, flags);
    const client = await FilesClient.login({ ...options, signal: controller.signal });
    try {
      return await work(client, controller.signal);
    } finally {
      client.close();
    }
  } finally {
    process.off('SIGINT', interrupt);
  }
}

interface DownloadFlags extends ClientFlags {
  overwrite?: boolean;
  skipExisting?: boolean;
  maxFileSize?: number;
  maxFilesize?: number;
}

/** `--overwrite` and `--skip-existing` contradict each other. */
function existingPolicy(flags: { overwrite?: boolean; skipExisting?: boolean }): Existing {
  if (flags.overwrite && flags.skipExisting) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      '--overwrite and --skip-existing contradict each other; give one',
    );
  }
  return { overwrite: flags.overwrite ?? false, skipExisting: flags.skipExisting ?? false };
}

function summary(verb: string, name: string, r: TransferResult, ms: number): string {
  const rate = ms > 0 ? `, ${formatBytes((r.size - r.resumedFrom) / (ms / 1000))}/s` : '';
  const resumed = r.resumedFrom > 0 ? `, resumed at ${formatBytes(r.resumedFrom)}` : '';
  return `${verb} ${name}: ${formatBytes(r.size)} in ${(ms / 1000).toFixed(2)} s${rate}${resumed}, sha256 ${r.sha256.slice(0, 16)}…\n`;
}

/** What to do with a destination that exists: refuse (the default), replace, or skip it. */
interface Existing {
  overwrite: boolean;
  skipExisting: boolean;
}

async function uploadOne(
  client: FilesClient,
  local: string,
  remote: string,
  existing: Existing,
  signal: AbortSignal,
): Promise<void> {
  if (existing.skipExisting && (await remoteExists(client, remote, signal))) {
    process.stderr.write(`skipped ${remote}: exists\n`);
    return;
  }
  const overwrite = existing.overwrite;
  const progress = new Progress(`upload ${remote}`);
  const began = Date.now();
  const result = await client
    .upload(local, remote, {
      overwrite,
      signal,
      progress: (n, total) => progress.update(n, total),
    })
    .finally(() => progress.done());
  process.stderr.write(summary('uploaded', remote, result, Date.now() - began));
}

async function downloadOne(
  client: FilesClient,
  remote: string,
  local: string,
  options: {
    overwrite: boolean;
    skipExisting: boolean;
    maxFileSize: number | undefined;
    signal: AbortSignal;
  },
): Promise<void> {
  if (options.skipExisting && (await lstat(local).catch(() => undefined))) {
    process.stderr.write(`skipped ${remote}: ${local} exists\n`);
    return;
  }
  const progress = new Progress(`download ${remote}`);
  const began = Date.now();
  let result: TransferResult;
  try {
    result = await client.download(remote, local, {
      ...options,
      progress: (n, total) => progress.update(n, total),
    });
  } finally {
    progress.done();
  }
  process.stderr.write(summary('downloaded', remote, result, Date.now() - began));
}

/** Whether `remote` names something on the server; an answer of ERR_NOT_FOUND means no. */
async function remoteExists(client: FilesClient, remote: string, signal: AbortSignal): Promise<boolean> {
  try {
    await client.stat(remote, { signal });
    return true;
  } catch (err) {
    if (isSockitError(err) && err.code === ErrorCode.NOT_FOUND) return false;
    throw err;
  }
}

/** Uploads a file, or a folder with everything in it (links and special files are skipped). */
async function uploadPath(
  client: FilesClient,
  local: string,
  remote: string,
  existing: Existing,
  signal: AbortSignal,
): Promise<void> {
  const info = await stat(local);
  if (info.isFile()) return uploadOne(client, local, remote, existing, signal);
  if (!info.isDirectory())
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${local} is neither a file nor a folder`);
  await client.mkdir(remote, true, { signal });
  for (const entry of await readdir(local, { withFileTypes: true })) {
    if (!entry.isFile() && !entry.isDirectory()) continue;
    await uploadPath(client, path.join(local, entry.name), `${remote}/${entry.name}`, existing, signal);
  }
}

/** The local name of a download: the last component of the user's `remote`, or `user` for the home. */
function localName(remote: string, user: string): string {
  const name = path.posix.basename(requestedForm(remote));
  const chosen = name === '.' ? user : name;
  if (chosen === '..' || /[\\\0]/.test(chosen)) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${JSON.stringify(remote)} names no file to download`);
  }
  return chosen;
}

export function filesCommand(): Command {
  const files = new Command('files')
    .description(
      'an authenticated file service: accounts with SCRAM-SHA-256, per-user folders, verified and resumable transfers',
    )
    .addHelpText(
      'after',
      `
Examples:
  sockit files serve
  sockit files upload ann@127.0.0.1 ./photos
  sockit files ls ann@127.0.0.1 -R`,
    );

  guardLoginOptions(tlsServerOptions(files.command('serve')))
    .description('serve a folder holding one home per user')
    .option('--root <dir>', "folder of the users' homes (default: DATA-DIR/files)")
    .addOption(dataDirOption('where the account database and keys live, as for sockit serve and users'))
    .addOption(
      new Option(
        '--db <url>',
        'accounts: mysql://, mariadb://, postgres:// or sqlite:FILE (default: DATA-DIR/sockit.db)',
      ).env('SOCKIT_DB'),
    )
    .option('-H, --host <address>', 'bind address (default: all, IPv6 and IPv4)')
    .option('-p, --port <port>', 'port; 0 picks a free one', parsePort, FILES_PORT)
    .option('--allow-register', 'let anyone who can connect create an account')
    .option(
      '--secret-file <file>',
      'key made by `sockit secret new`, for machine log-ins as an existing user',
    )
    .option(
      '--min-iterations <n>',
      `least PBKDF2 iterations for self-registered accounts, ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`,
      parseIterations,
      DEFAULT_ITERATIONS,
    )
    .addOption(bytesOption('--max-file-size <bytes>', 'largest file accepted', '64GiB'))
    .addOption(
      new Option(
        '--quota <bytes>',
        "quota of users without their own (sockit users quota): a size, 0 (nothing may be stored) or 'unlimited'",
      )
        .argParser(parseServerQuota)
        .default('unlimited'),
    )
    .option('--max-connections <n>', 'connections at once', parseCount, 256)
    .option('--max-per-user <n>', 'logged-in connections at once of one user', parseCount, 16)
    .option(
      '--max-waiting-per-address <n>',
      'connections not yet logged in at once from one address (an IPv6 /64)',
      parseCount,
      8,
    )
    .addOption(
      secondsOption('--idle-timeout <seconds>', 'close a connection silent this long (0: never)', 300),
    )
    .addHelpText(
      'after',
      `
Accounts: sockit users add NAME (same --db), or with --allow-register, sockit files register.
Uploads land under their real name only once whole and verified (SHA-256); interrupted ones
resume. Each user sees only ROOT/NAME; '..', absolute paths and symbolic links are refused.

Examples:
  sockit files serve                                       port 7021, accounts in DATA-DIR
  sockit files serve --port 8021 --quota 10GiB --allow-register
  sockit files serve --tls-cert cert.pem --tls-key key.pem`,
    )
    .action(async (flags: ServeFlags, command: Command) => {
      const log = loggerFor(command);
      const tls = await loadTls(flags);
      const [{ openUserStore }, { loadFakeKey, serveFiles }] = await Promise.all([
        import('../auth/store.js'),
        import('../files/server.js'),
      ]);
      const store = await openUserStore(flags.db ?? defaultDatabase(flags.dataDir));
      try {
        const launched = await launch({ model: 'event-loop', log }, async () => [
          await serveFiles({
            root: flags.root ?? path.join(flags.dataDir, 'files'),
            store,
            host: flags.host,
            port: flags.port,
            allowRegister: flags.allowRegister,
            secret: flags.secretFile ? await readSecret(flags.secretFile) : undefined,
            fakeKey: await loadFakeKey(flags.dataDir),
            minIterations: flags.minIterations,
            maxFileSize: flags.maxFileSize,
            quotaBytes: flags.quota,
            maxConnections: flags.maxConnections,
            maxPerAddress: flags.maxPerAddress,
            maxPerUser: flags.maxPerUser,
            maxUnauthenticatedPerAddress: flags.maxWaitingPerAddress,
            loginTimeoutMs: flags.loginTimeout,
            idleTimeoutMs: flags.idleTimeout,
            tls,
            log,
          }),
        ]);
        await launched.stopped;
      } finally {
        // Also when start-up fails: an open pool would keep the process alive.
        await store.close();
      }
    });

  files
    .command('register')
    .description('create an account on a server started with --allow-register')
    .argument('<server>', '[USER@]HOST[:PORT]')
    .option(
      '-u, --user <name>',
      'account name: 1-32 of A-Z a-z 0-9 _ . - (default: USER@ of the server, SOCKIT_USER or your login name)',
    )
    .addOption(iterationsOption())
    .option('--tls', 'connect over TLS')
    .option('--tls-ca <file>', 'trust this certificate (PEM); implies --tls')
    .addHelpText(
      'after',
      `
The password comes from SOCKIT_PASSWORD, or else is asked for twice on the terminal.

Examples:
  sockit files register ann@127.0.0.1
  sockit files register ann@files.example:8021 --tls`,
    )
    .action(async (target: string, flags: ClientFlags & { iterations: number }) => {
      const tls = await clientTls(flags);
      const { FilesClient } = await import('../files/client.js');
      // Connected first: with the server down, nobody types a password for nothing.
      const { user, ...server } = resolveTarget(target, flags);
      flags.user = user;
      const client = await FilesClient.connect({ ...server, tls });
      try {
        const password = await readPassword({ prompt: `Password for ${flags.user}: `, confirm: true });
        await client.register(flags.user, password, flags.iterations);
      } finally {
        client.close();
      }
      process.stderr.write(`registered ${flags.user}\n`);
    });

  clientOptions(
    files
      .command('ls')
      .description('list a folder (default: your home)')
      .argument('<server>', '[USER@]HOST[:PORT]')
      .argument('[path]', 'folder or file', '')
      .option('-R, --recursive', 'the whole tree')
      .option('--json', 'one JSON array of {path, type, size, mtime}')
      .addHelpText(
        'after',
        `
Examples:
  sockit files ls ann@127.0.0.1
  sockit files ls ann@127.0.0.1:7021 photos -R --json`,
      ),
  ).action(
    async (target: string, remote: string, flags: ClientFlags & { recursive?: boolean; json?: boolean }) => {
      const entries = await withClient(target, flags, (c, signal) =>
        c.list(remote, flags.recursive ?? false, { signal }),
      );
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(entries)}\n`);
        return;
      }
      for (const e of entries) process.stdout.write(formatEntry(e));
    },
  );

  clientOptions(
    files
      .command('upload')
      .description('upload files and folders (resumes an interrupted upload of the same file)')
      .argument('<server>', '[USER@]HOST[:PORT]')
      .argument('<local...>', 'files or folders; - reads stdin (give --as)')
      .addOption(new Option('--to <dir>', 'remote folder to upload into').default('', 'your home'))
      .option('--as <name>', 'name on the server of a single file or of stdin (default: the local name)')
      .option('--overwrite', 'replace files that exist (default: refuse with ERR_EXISTS)')
      .option('--skip-existing', 'leave files that exist on the server as they are, and go on with the rest')
      .addHelpText(
        'after',
        `
Examples:
  sockit files upload ann@127.0.0.1 report.pdf
  sockit files upload ann@127.0.0.1 ./photos --to backup --skip-existing
  tar c src | sockit files upload ann@127.0.0.1 - --as src.tar`,
      ),
  ).action(
    async (
      target: string,
      locals: string[],
      flags: ClientFlags & { to: string; as?: string; overwrite?: boolean; skipExisting?: boolean },
    ) => {
      const existing = existingPolicy(flags);
      if (flags.as !== undefined && locals.length > 1) {
        throw new SockitError(ErrorCode.INVALID_ARGUMENT, '--as names one upload: give one LOCAL');
      }
      if (locals.includes(STDIO) && flags.as === undefined) {
        throw new SockitError(
          ErrorCode.INVALID_ARGUMENT,
          'an upload from stdin needs a name on the server: give --as NAME',
        );
      }
      await withClient(target, flags, async (client, signal) => {
        if (flags.to) await client.mkdir(flags.to, true, { signal });
        for (const local of locals) {
          const name = flags.as ?? path.basename(path.resolve(local));
          if (local === STDIO) {
            const remote = flags.to ? `${flags.to}/${name}` : name;
            if (existing.skipExisting && (await remoteExists(client, remote, signal))) {
              process.stderr.write(`skipped ${remote}: exists\n`);
              continue;
            }
            const began = Date.now();
            const result = await uploadStream(client, process.stdin, remote, {
              overwrite: existing.overwrite,
              signal,
            });
            process.stderr.write(summary('uploaded', remote, result, Date.now() - began));
            continue;
          }
          const remote = flags.to ? `${flags.to}/${name}` : name;
          await uploadPath(client, local, remote, existing, signal);
        }
      });
    },
  );

  clientOptions(
    files
      .command('download')
      .description('download a file or a folder (resumes from LOCAL.sockit-part)')
      .argument('<server>', '[USER@]HOST[:PORT]')
      .argument('<remote>', 'file or folder in your home')
      .argument('[local]', 'destination; - writes to stdout (default: the remote name, here)')
      .option('--overwrite', 'replace local files that exist (default: refuse with ERR_EXISTS)')
      .option('--skip-existing', 'leave local files that exist as they are, and go on with the rest')
      .addOption(
        new Option(
          '--max-file-size <bytes>',
          'refuse a file the server announces larger than this, before writing (default: no limit but the free disk space)',
        ).argParser(parseBytes),
      )
      .addOption(new Option('--max-filesize <bytes>').argParser(parseBytes).hideHelp())
      .addHelpText(
        'after',
        `
Each file is written to LOCAL.sockit-part and renamed to LOCAL only once its SHA-256 matches
the server's; rerun the same command after an interruption and it resumes. Ctrl-C removes the
part. Names the server sends are checked: '..', '.', empty names, '/', '\\' and NUL in a name
or an absolute path fail with ERR_BAD_REQUEST, and nothing is written outside LOCAL. An
existing file is never replaced without --overwrite. The server's announced size is checked
against --max-file-size and the free space before a byte is written, and no more than that
size is ever taken.

Examples:
  sockit files download ann@127.0.0.1 report.pdf
  sockit files download ann@127.0.0.1 photos ./restore/ --skip-existing
  sockit files download ann@127.0.0.1 src.tar - | tar x`,
      ),
  ).action(async (target: string, remote: string, local: string | undefined, flags: DownloadFlags) => {
    await withClient(target, flags, async (client, signal) => {
      const options = {
        ...existingPolicy(flags),
        maxFileSize: flags.maxFileSize ?? flags.maxFilesize,
        signal,
      };
      // The library refuses a stat answer about another path than `remote`.
      const entry = await client.stat(remote, { signal });
      // The local name is the user's own: the last component of `remote` (the user's name for
      // the home), never a name the server sent.
      if (local === STDIO) {
        if (entry.type !== 'file') {
          throw new SockitError(
            ErrorCode.INVALID_ARGUMENT,
            `${remote} is a folder: only a file goes to stdout`,
          );
        }
        const began = Date.now();
        const result = await downloadStream(client, remote, process.stdout, options);
        process.stderr.write(summary('downloaded', remote, result, Date.now() - began));
        return;
      }
      const name = localName(remote, flags.user);
      // Like cp: into an existing folder, under the remote name.
      const into = local !== undefined && (await stat(local).catch(() => undefined))?.isDirectory();
      const base = local === undefined ? name : into ? path.join(local, name) : local;
      if (entry.type === 'file') return downloadOne(client, remote, base, options);
      const steps = planTree(base, await client.list(remote, true, { signal }));
      await mkdir(base, { recursive: true });
      const from = requestedForm(remote);
      for (const step of steps) {
        if (step.entry.type === 'dir') await makeLocalFolder(step.local);
        else
          await downloadOne(
            client,
            from === '.' ? step.listed : `${from}/${step.listed}`,
            step.local,
            options,
          );
      }
    });
  });

  clientOptions(
    files
      .command('rm')
      .description('remove files or folders')
      .argument('<server>', '[USER@]HOST[:PORT]')
      .argument('<path...>', 'files or folders in your home')
      .option('-r, --recursive', 'remove folders with what is in them')
      .addHelpText(
        'after',
        `
Examples:
  sockit files rm ann@127.0.0.1 old.log
  sockit files rm ann@127.0.0.1 backup -r`,
      ),
  ).action(async (target: string, paths: string[], flags: ClientFlags & { recursive?: boolean }) => {
    await withClient(target, flags, async (client, signal) => {
      for (const p of paths) await client.remove(p, flags.recursive ?? false, { signal });
    });
  });

  clientOptions(
    files
      .command('mkdir')
      .description('make folders')
      .argument('<server>', '[USER@]HOST[:PORT]')
      .argument('<path...>', 'folders to make in your home')
      .option('-p, --parents', 'make missing parents too, and accept folders that exist')
      .addHelpText(
        'after',
        `
Examples:
  sockit files mkdir ann@127.0.0.1 photos
  sockit files mkdir ann@127.0.0.1 backup/2026/december -p`,
      ),
  ).action(async (target: string, paths: string[], flags: ClientFlags & { parents?: boolean }) => {
    await withClient(target, flags, async (client, signal) => {
      for (const p of paths) await client.mkdir(p, flags.parents ?? false, { signal });
    });
  });

  return files;
}

function formatEntry(e: Entry): string {
  const when = new Date(e.mtime).toISOString().slice(0, 16).replace('T', ' ');
  const size = e.type === 'dir' ? '-' : String(e.size);
  return `${e.type === 'dir' ? 'd' : '-'} ${size.padStart(12)}  ${when}  ${e.path}${e.type === 'dir' ? '/' : ''}\n`;
}
