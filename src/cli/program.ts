/**
 * The `sockit` command tree. Each subcommand's code is loaded only when that subcommand
 * runs: `sockit ip ...` never loads the TFTP, database or logging code, so a short command
 * starts about as fast as Node itself. Help for the whole command, an unknown command, or
 * none at all load every subcommand.
 */
import { createRequire } from 'node:module';
import { Command, Option } from 'commander';
import { LOG_LEVELS } from '../runtime/log-levels.js';
import { withUsageErrors } from './failure.js';

// For the entry point, which loads this module and nothing else of its own.
export { reportFailure } from './failure.js';

/** The subcommands, in the order `sockit --help` lists them, each loaded on demand. */
const SUBCOMMANDS: ReadonlyArray<readonly [name: string, load: () => Promise<Command>]> = [
  ['serve', async () => (await import('./serve.js')).serveCommand()],
  ['echo', async () => (await import('./echo.js')).echoCommand()],
  ['nc', async () => (await import('./nc.js')).ncCommand()],
  ['tftp', async () => (await import('./tftp.js')).tftpCommand()],
  ['files', async () => (await import('./files.js')).filesCommand()],
  ['users', async () => (await import('./users.js')).usersCommand()],
  ['secret', async () => (await import('./secret.js')).secretCommand()],
  ['ip', async () => (await import('./ip.js')).ipCommand()],
  ['ports', async () => (await import('./ports.js')).portsCommand()],
  // Its script covers the whole tree, not the one-command tree it runs in.
  ['completion', async () => (await import('./completion.js')).completionCommand(() => program())],
];

/** Set by the bundler (scripts/build-cli.mjs) to package.json's version. */
declare const SOCKIT_VERSION: string | undefined;

/** The version: the bundle's, else (running from src/cli, two folders below the package) package.json's. */
function sockitVersion(): string {
  if (typeof SOCKIT_VERSION === 'string') return SOCKIT_VERSION;
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}

/** Root options that take a value, so that the value is not taken for a subcommand's name. */
const VALUE_OPTIONS = new Set(['--log-level', '--log-format']);

/**
 * The subcommands an argument list needs (`sockit [root options] NAME ...`): the one it names;
 * none for `--version` alone; all of them for help, an unknown command or none (commander's
 * help and its "did you mean" need every name).
 *
 * @example
 * ```ts
 * subcommandsFor(['--log-level', 'debug', 'ip', '10.0.0.1']); // ['ip']
 * subcommandsFor(['--version']); // []
 * subcommandsFor(['--help']); // undefined: all
 * ```
 */
export function subcommandsFor(args: readonly string[]): string[] | undefined {
  let version = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') break;
    if (VALUE_OPTIONS.has(arg)) {
      i++;
      continue;
    }
    if (arg === '-h' || arg === '--help') return undefined;
    if (arg === '-V' || arg === '--version') version = true;
    if (arg.startsWith('-')) continue;
    return SUBCOMMANDS.some(([name]) => name === arg) ? [arg] : undefined;
  }
  return version ? [] : undefined;
}

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
  const wanted = SUBCOMMANDS.filter(([name]) => options.only?.includes(name) ?? true);
  const subcommands = await Promise.all(wanted.map(([, load]) => load()));
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
