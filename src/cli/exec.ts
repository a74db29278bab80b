/**
 * `sockit exec`: run a command on another machine (`sockit exec HOST -- CMD ARGS...`), and
 * the server that runs them (`sockit exec serve`). The client's status is the remote
 * command's, as ssh's is; its own failures are 255.
 */
import path from 'node:path';
import { Command, Option } from 'commander';
import { defaultDatabase } from '../auth/connect.js';
import { ErrorCode, formatHostPort, isSockitError, SockitError } from '../errors.js';
import { EXEC_PORT } from '../exec/port.js';
import { readEnded } from '../runtime/stream-end.js';
import { bytesOption, parseCount, parsePort, secondsOption } from './args.js';
import { loggerFor } from './context.js';
import { databaseOption, dataDirOption } from './data-dir.js';
import { failureLine } from './failure.js';
import { type ClientFlags, clientOptions, readSecret, resolveTarget } from './files-client.js';
import { loadTls, type TlsFlags, tlsServerOptions } from './tls.js';

interface ExecFlags extends ClientFlags {
  stdin: boolean;
  shell?: boolean;
  cwd?: string;
  keep?: boolean;
  /** In ms. */
  keepFor: number;
  stop?: boolean;
  serveKept?: boolean;
  tty?: boolean;
}

interface ServeFlags extends TlsFlags {
  dataDir: string;
  db?: string;
  host?: string;
  port: number;
  allow: string[];
  allowShell?: boolean;
  cwd?: string;
  timeout: number;
  grace: number;
  maxOutput: number;
  maxPerUser: number;
  maxCommands: number;
  env: string[];
  runAs?: string;
  secretFile?: string;
  maxConnections: number;
}

/** The status of `sockit exec` when sockit itself failed (no connection, a refusal): ssh's. */
export const EXEC_FAILED = 255;

const repeated = (value: string, list: string[]): string[] => [...list, value];

export function execCommand(): Command {
  const exec = clientOptions(new Command('exec'))
    .description('run a command on a machine running sockit exec serve')
    .usage('[options] [USER@]HOST[:PORT] -- COMMAND [ARGS...]')
    .argument('<target>', `[USER@]HOST[:PORT] (port ${EXEC_PORT})`)
    .argument('[command...]', 'the program and its arguments, given to it as they are (no shell)')
    .option('-n, --no-stdin', 'give the command no input (EOF at once), as ssh -n')
    .option('--shell', 'send the words as one command line for /bin/sh -c (the server must --allow-shell)')
    .option('--cwd <dir>', "folder to run in, inside the server's working folder")
    .option(
      '-t, --tty',
      'run it on a pseudo-terminal (vi, top, a shell): keys go as typed, stdout and stderr are one stream',
    )
    .option(
      '-k, --keep',
      'keep the connection open in the background: later sockit exec to the same USER@HOST:PORT use it, with no log-in',
    )
    .addOption(
      secondsOption(
        '--keep-for <seconds>',
        'end a kept connection unused this long (0: only --stop does)',
        600,
      ),
    )
    .option('--stop', 'end the kept connection to USER@HOST:PORT (no command)')
    .addOption(new Option('--serve-kept').hideHelp())
    .addHelpText(
      'after',
      `
The command's stdin, stdout and stderr are this command's; Ctrl-C and SIGTERM go to the
remote process group (a third Ctrl-C leaves at once). The status is the remote command's
(128 + N when signal N ended it); 255 when sockit itself failed, with one line saying why.
With -t, the command runs on a pseudo-terminal of this terminal's size (80x24 when this is
not one): this terminal is put in raw mode, so Ctrl-C and every other key reach the remote
program as typed, and the end of piped input is sent as ^D.

With --keep, the connection stays open in a background process after the command, and every
later sockit exec to the same USER@HOST:PORT (with or without --keep) runs through it: no
connection, no log-in. It listens on a Unix socket in $XDG_RUNTIME_DIR/sockit (else
~/.cache/sockit/sockets), a folder only you may enter; whoever can open it runs commands as
that account, as with ssh's ControlMaster. It ends after --keep-for unused, with --stop, or
when the server closes it.

Examples:
  sockit exec ann@build.lan -- uname -a
  sockit exec build.lan -- make -C src test          (as your login name, or SOCKIT_USER)
  tar cz src | sockit exec build.lan -- tar xz       (stdin goes to the command)
  sockit exec build.lan --shell -- 'ls | wc -l'       (when the server runs --allow-shell)
  sockit exec -t build.lan -- top                    (an interactive program)
  sockit exec build.lan --keep -- make               (later commands to build.lan: no log-in)
  sockit exec build.lan --stop                       (end the kept connection)`,
    )
    .action(async (target: string, words: string[], flags: ExecFlags) => {
      if (flags.serveKept) {
        process.exitCode = await serveKept(target, flags).catch((err: unknown) => {
          // Read by the command that started this process: its first line says why.
          process.stdout.write(failureLine(err));
          return EXEC_FAILED;
        });
        return;
      }
      process.exitCode = await runRemote(target, words, flags).catch((err: unknown) => {
        process.stderr.write(failureLine(err));
        return EXEC_FAILED;
      });
    });
  // A command's output may rightly pause for hours: no stall timeout here.
  exec.options.find((o) => o.long === '--stall-timeout')?.hideHelp();
  exec.addCommand(serveCommand());
  // `serve` has options of the same names as the client's (--cwd, --secret-file), and
  // commander gives such options to the parent wherever they stand: hand them over.
  exec.hook('preSubcommand', (parent, sub) => {
    for (const name of ['cwd', 'secretFile']) {
      if (parent.getOptionValueSource(name) !== 'cli') continue;
      sub.setOptionValueWithSource(name, parent.getOptionValue(name), 'cli');
      parent.setOptionValue(name, undefined);
    }
  });
  // `sockit exec help [serve]`, as every command group has.
  exec.helpCommand(true);
  return exec;
}

async function runRemote(target: string, words: string[], flags: ExecFlags): Promise<number> {
  const server = resolveTarget(target, flags, process.env, EXEC_PORT);
  flags.user = server.user;
  if (words.length === 0 && !flags.stop && !flags.keep) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      'no command to run: sockit exec [USER@]HOST -- COMMAND [ARGS...]',
    );
  }
  const kept = keptTarget(server, flags);
  const where = `${server.user}@${formatHostPort(server.host, server.port)}`;
  const [{ ExecClient }, keep] = await Promise.all([import('../exec/client.js'), import('./exec-keep.js')]);
  // Kept connections need a private socket folder; a plain command goes direct when there is
  // no such folder or something is wrong with it (too long a path, another user's folder).
  let socketPath: string | undefined;
  try {
    socketPath = keep.keptSocketPath(kept);
  } catch (err) {
    if (flags.keep || flags.stop) throw err;
    flags.log?.debug({ err: (err as Error).message }, 'exec: no kept connection folder');
  }
  if (flags.stop) {
    if (words.length > 0 || flags.keep) {
      throw new SockitError(ErrorCode.INVALID_ARGUMENT, '--stop takes no command and no --keep');
    }
    const { stopControl } = await import('../exec/control.js');
    if (socketPath === undefined || !(await stopControl(socketPath))) {
      throw new SockitError(ErrorCode.NOT_FOUND, `no kept connection to ${where}`);
    }
    process.stderr.write(`sockit: ended the kept connection to ${where}\n`);
    return 0;
  }
  let client = socketPath === undefined ? undefined : await ExecClient.attach(socketPath, server.user);
  flags.log?.debug({ socket: socketPath, kept: client !== undefined }, 'exec: kept connection');
  let keeping: import('./exec-keep.js').KeptStart | undefined;
  if (client === undefined) {
    let typed: string | undefined;
    client = await logIn(ExecClient, server, flags, async (prompt) => {
      typed = await prompt();
      return typed;
    });
    if (flags.keep) keeping = keep.startKept(kept, flags, typed);
  }
  if (words.length === 0) {
    // --keep alone: the kept connection, ready (or already there).
    client.close();
    await keeping?.ready;
    return 0;
  }
  try {
    return await runCommand(client, words, flags);
  } finally {
    await keeping?.ready.catch((err: unknown) => process.stderr.write(failureLine(err)));
  }
}

/** What names a kept connection: the account, the server, and whether it is over TLS. */
function keptTarget(server: { host: string; port: number; user: string }, flags: ExecFlags) {
  return { ...server, tls: Boolean(flags.tls || flags.tlsCa) };
}

/** Connects to the server and logs in; `ask` wraps the password prompt (asked only when needed). */
async function logIn(
  ExecClient: typeof import('../exec/client.js').ExecClient,
  server: { host: string; port: number; user: string },
  flags: ExecFlags,
  ask: (prompt: () => Promise<string>) => Promise<string>,
): Promise<import('../exec/client.js').ExecClient> {
  const [{ FileKeyCache }, { cacheDir }, { readPassword }, { clientTls }] = await Promise.all([
    import('../auth/key-cache.js'),
    import('./user-dirs.js'),
    import('./password.js'),
    import('./tls.js'),
  ]);
  const tls = await clientTls(flags);
  const off = flags.keyCache === false || process.env.SOCKIT_KEY_CACHE === 'off';
  return ExecClient.connect({
    host: server.host,
    port: server.port,
    ...(tls ? { tls } : {}),
    user: server.user,
    ...(flags.secretFile
      ? { secret: await readSecret(flags.secretFile) }
      : {
          password: () => ask(() => readPassword({ prompt: `Password for ${server.user}: ` })),
          ...(off ? {} : { keyCache: new FileKeyCache(path.join(cacheDir(), 'scram')) }),
        }),
    ...(flags.connectTimeout ? { timeoutMs: flags.connectTimeout } : {}),
    ...(flags.log ? { log: flags.log } : {}),
  });
}

/**
 * The kept connection's own process (`--serve-kept`, started by `startKept`): logs in with
 * what it was handed, listens on the control socket, says `ready`, and serves until it ends.
 */
async function serveKept(target: string, flags: ExecFlags): Promise<number> {
  const server = resolveTarget(target, flags, process.env, EXEC_PORT);
  flags.user = server.user;
  const [{ ExecClient }, keep, { serveControl }] = await Promise.all([
    import('../exec/client.js'),
    import('./exec-keep.js'),
    import('../exec/control.js'),
  ]);
  const handover = await keep.readHandover();
  process.umask(0o077);
  const socketPath = keep.keptSocketPath(keptTarget(server, flags), { create: true });
  if (socketPath === undefined) throw new SockitError(ErrorCode.INTERNAL, 'no socket folder after making it');
  const client = await logIn(ExecClient, server, flags, (prompt) =>
    handover.password === undefined ? prompt() : Promise.resolve(handover.password),
  );
  // Whatever fails from here on, the log-in is not left open behind a process nobody reaches.
  let control: import('../exec/control.js').ControlServer;
  try {
    control = await serveControl(client, { path: socketPath, idleMs: flags.keepFor });
  } catch (err) {
    client.close();
    // Another kept connection got there first (two --keep at once): that is the one to use.
    if (isSockitError(err, ErrorCode.ADDRESS_IN_USE)) {
      process.stdout.write('ready\n');
      return 0;
    }
    throw err;
  }
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => control.stop(signal));
  }
  process.stdout.write('ready\n');
  await control.ended;
  return 0;
}

/** Runs one command on `client` with this process's stdio; resolves with the status to exit with. */
async function runCommand(
  client: import('../exec/client.js').ExecClient,
  words: string[],
  flags: ExecFlags,
): Promise<number> {
  const { constants } = await import('node:os');
  // A terminal that has no size set says 0.
  // The protocol takes 1 to 1000 each way: a wider terminal gets the widest it can.
  const clamp = (n: number) => Math.min(1000, Math.max(1, n));
  const size = (): { cols: number; rows: number } => ({
    cols: clamp((process.stdout.isTTY && process.stdout.columns) || 80),
    rows: clamp((process.stdout.isTTY && process.stdout.rows) || 24),
  });
  const remote = client.start(flags.shell ? { shell: words.join(' ') } : words, {
    ...(flags.cwd === undefined ? {} : { cwd: flags.cwd }),
    ...(process.env.TERM ? { env: { TERM: process.env.TERM } } : {}),
    ...(flags.tty ? { tty: size() } : {}),
  });
  // On a terminal, keys go to the remote one as they are typed (Ctrl-C included, as a
  // byte), and its size follows this one's.
  const raw = flags.tty === true && flags.stdin && process.stdin.isTTY === true;
  const restore = (): void => {
    if (raw) process.stdin.setRawMode(false);
  };
  const resized = (): void => {
    const { cols, rows } = size();
    remote.resize(cols, rows);
  };
  if (raw) {
    process.stdin.setRawMode(true);
    process.once('exit', restore);
  }
  if (flags.tty) process.stdout.on('resize', resized);
  // Ctrl-C and SIGTERM are the remote command's to handle; a third Ctrl-C leaves.
  let interrupts = 0;
  const forward = (signal: 'INT' | 'TERM' | 'HUP') => () => {
    if (signal === 'INT' && ++interrupts >= 3) process.exit(130);
    remote.kill(signal);
  };
  const handlers = { SIGINT: forward('INT'), SIGTERM: forward('TERM'), SIGHUP: forward('HUP') };
  for (const [name, handler] of Object.entries(handlers)) process.on(name, handler);
  remote.stdout.pipe(process.stdout);
  remote.stderr.pipe(process.stderr);
  if (flags.stdin) {
    process.stdin.pipe(remote.stdin);
    process.stdin.on('error', () => remote.stdin.end());
  } else {
    remote.stdin.end();
  }
  try {
    const result = await remote.done;
    // The output written out before the status counts.
    await Promise.all([readEnded(remote.stdout), readEnded(remote.stderr)]);
    if (result.truncated) {
      process.stderr.write(
        "sockit: the server cut the command's output at its cap (--max-output) and ended it\n",
      );
    }
    if (result.timedOut)
      process.stderr.write("sockit: the command ran past the server's --timeout and was ended\n");
    if (result.exit !== null) return result.exit;
    const number = (constants.signals as Record<string, number>)[`SIG${result.signal}`];
    return number === undefined ? EXEC_FAILED : 128 + number;
  } finally {
    restore();
    process.stdout.off('resize', resized);
    for (const [name, handler] of Object.entries(handlers)) process.off(name, handler);
    // A terminal's stdin would keep the process waiting for a line nobody asked for.
    process.stdin.unpipe(remote.stdin);
    process.stdin.destroy();
    client.close();
  }
}

function serveCommand(): Command {
  return tlsServerOptions(new Command('serve'))
    .description('run commands for accounts with the exec grant (sockit users grant NAME exec)')
    .addOption(dataDirOption('where the account database and keys live, as for sockit serve and users'))
    .addOption(databaseOption('accounts'))
    .option('-H, --host <address>', 'bind address (default: all, IPv6 and IPv4)')
    .option('-p, --port <port>', 'port; 0 picks a free one', parsePort, EXEC_PORT)
    .addOption(
      new Option(
        '--allow <program>',
        'a program that may run: a name found in PATH now, or a full path (repeat)',
      )
        .argParser(repeated)
        .default([], 'none'),
    )
    .option('--allow-shell', 'also run command lines through /bin/sh -c (sockit exec --shell)')
    .option('--cwd <dir>', 'the working folder; clients may ask for folders inside it (default: here)')
    .addOption(
      secondsOption('--timeout <seconds>', "end a command's process group after this long (0: never)", 0),
    )
    .addOption(secondsOption('--grace <seconds>', 'between TERM and KILL when a command is ended', 2))
    .addOption(
      bytesOption(
        '--max-output <bytes>',
        'stdout and stderr a command may write, then it is ended (0: no cap)',
        '0',
      ),
    )
    .option('--max-per-user <n>', 'commands running at once per account', parseCount, 8)
    .option('--max-commands <n>', 'commands running at once in all', parseCount, 64)
    .addOption(
      new Option('--env <name>', "one of this server's environment variables to pass on to commands (repeat)")
        .argParser(repeated)
        .default([], 'PATH, HOME, LANG only'),
    )
    .option('--run-as <user>', 'run commands as this local user (the server must run as root)')
    .option(
      '--secret-file <file>',
      'key made by `sockit secret new`, for machine log-ins as an existing user',
    )
    .option('--max-connections <n>', 'connections at once', parseCount, 256)
    .addHelpText(
      'after',
      `
Only accounts with the exec grant run anything (sockit users grant NAME exec). Programs run
by argv, never through a shell unless --allow-shell; PATH is /usr/local/bin:/usr/bin:/bin,
HOME the working folder, and no other variable of this server's unless --env names it. Each
command is a process group of its own: --timeout, the output cap and a client that goes
away end all of it (TERM, then KILL after --grace). One log line per command: who, from
where, argv, status, duration, bytes.

Examples:
  sockit exec serve --allow uname --allow make --cwd /srv/build
  sockit exec serve --allow-shell --timeout 600 --tls-cert cert.pem --tls-key key.pem`,
    )
    .action(async (flags: ServeFlags, command: Command) => {
      const log = loggerFor(command);
      const tls = await loadTls(flags);
      const [{ openUserStore }, { loadFakeKey }, { LoginServer }, { serveExec }, { launch }] =
        await Promise.all([
          import('../auth/store.js'),
          import('../files/server.js'),
          import('../auth/login-server.js'),
          import('../exec/server.js'),
          import('../runtime/launch.js'),
        ]);
      const runAs = flags.runAs === undefined ? undefined : await localUser(flags.runAs);
      // This process is the server's alone: what it inherited open must not reach the commands.
      (await import('../exec/descriptors.js')).closeInheritedDescriptors(log);
      const store = await openUserStore(flags.db ?? defaultDatabase(flags.dataDir));
      try {
        const launched = await launch({ model: 'event-loop', log }, async () => [
          await serveExec({
            login: new LoginServer({
              service: 'exec',
              store,
              fakeKey: await loadFakeKey(flags.dataDir),
              ...(flags.secretFile ? { secret: await readSecret(flags.secretFile) } : {}),
              log,
            }),
            allow: flags.allow,
            allowShell: flags.allowShell,
            ...(flags.cwd === undefined ? {} : { cwd: flags.cwd }),
            timeoutMs: flags.timeout,
            graceMs: flags.grace,
            maxOutputBytes: flags.maxOutput,
            maxPerUser: flags.maxPerUser,
            maxCommands: flags.maxCommands,
            passEnv: flags.env,
            ...(runAs ? { runAs } : {}),
            host: flags.host,
            port: flags.port,
            maxConnections: flags.maxConnections,
            ...(tls ? { tls } : {}),
            log,
          }),
        ]);
        await launched.stopped;
      } finally {
        await store.close();
      }
    });
}

/** A local user's uid and gid, from /etc/passwd; only root may run commands as another user. */
async function localUser(name: string): Promise<{ uid: number; gid: number }> {
  if (process.getuid?.() !== 0) {
    throw new SockitError(ErrorCode.FORBIDDEN, '--run-as needs the server to run as root');
  }
  const { readFile } = await import('node:fs/promises');
  const passwd = await readFile('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined)
      return { uid: Number(uid), gid: Number(gid) };
  }
  throw new SockitError(ErrorCode.NOT_FOUND, `--run-as ${name}: no such local user`);
}
