/**
 * The `sockit` command tree. Each subcommand's code is loaded only when that subcommand
 * runs: `sockit ip ...` never loads the TFTP, database or logging code, so a short command
 * starts about as fast as Node itself. Help for the whole command, an unknown command, or
 * none at all load every subcommand.
 */
import { createRequire } from 'node:module';
import { Command, Option } from 'commander';
import { LOG_LEVELS } from '../runtime/log-levels.js';
import { SUBCOMMAND_NAMES, type SubcommandName } from './command-names.js';
import { withUsageErrors } from './failure.js';

// For the entry point, which loads this module and nothing else of its own.
export { reportFailure } from './failure.js';

/** Each subcommand, loaded on demand from `./NAME.js` (scripts/build-cli.mjs relies on that). */
const LOADERS: Readonly<Record<SubcommandName, () => Promise<Command>>> = {
  serve: async () => (await import('./serve.js')).serveCommand(),
  echo: async () => (await import('./echo.js')).echoCommand(),
  nc: async () => (await import('./nc.js')).ncCommand(),
  tftp: async () => (await import('./tftp.js')).tftpCommand(),
  files: async () => (await import('./files.js')).filesCommand(),
  chat: async () => (await import('./chat.js')).chatCommand(),
  exec: async () => (await import('./exec.js')).execCommand(),
  lan: async () => (await import('./lan.js')).lanCommand(),
  http: async () => (await import('./http.js')).httpCommand(),
  users: async () => (await import('./users.js')).usersCommand(),
  secret: async () => (await import('./secret.js')).secretCommand(),
  ip: async () => (await import('./ip.js')).ipCommand(),
  ports: async () => (await import('./ports.js')).portsCommand(),
  // Its script covers the whole tree, not the one-command tree it runs in.
  completion: async () => (await import('./completion.js')).completionCommand(() => program()),
};

/** Set by the bundler (scripts/build-cli.mjs) to package.json's version. */
declare const SOCKIT_VERSION: string | undefined;

/** The version: the bundle's, else (running from src/cli, two folders below the package) package.json's. */
function sockitVersion(): string {
  if (typeof SOCKIT_VERSION === 'string') return SOCKIT_VERSION;
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}

export { SUBCOMMAND_NAMES, subcommandsFor } from './command-names.js';

/**
 * The command tree with every subcommand, or only with those in `only` when given (what
 * `subcommandsFor` says an argument list needs).
 *
 * @example
 * ```ts
 * const root = await program();
 * await root.parseAsync(['node', 'sockit', 'ip', '10.1.2.3/20']);
 * ```
 */
export async function program(options: { only?: readonly string[] } = {}): Promise<Command> {
  const wanted = SUBCOMMAND_NAMES.filter((name) => options.only?.includes(name) ?? true);
  const subcommands = await Promise.all(wanted.map((name) => LOADERS[name]()));
  const sockit = new Command('sockit')
    .description('socket programming as real tools: servers, clients and utilities for TCP and UDP')
    .addOption(new Option('--log-level <level>', 'log detail').choices(LOG_LEVELS))
    .addOption(
      new Option('--log-format <format>', 'log lines: pretty on a terminal, JSON otherwise')
        .choices(['auto', 'pretty', 'json'])
        .default('auto'),
    );
  sockit.version(sockitVersion());
  for (const sub of subcommands) sockit.addCommand(sub);
  sockit.addHelpText(
    'after',
    `
Examples:
  sockit serve                                 echo, TFTP and files with their defaults
  sockit ip 10.1.2.3/20                        an IP calculator
  sockit files upload ann@127.0.0.1 notes.txt  a verified upload
  sockit COMMAND --help                        each command's options and examples`,
  );
  return withUsageErrors(sockit);
}
