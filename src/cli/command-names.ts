/**
 * The names of sockit's subcommands, and which of them an argument list needs: kept apart
 * from the command tree (program.ts) so that the entry point can choose what to load
 * before loading any of it.
 */

/** In the order `sockit --help` lists them. */
export const SUBCOMMAND_NAMES = [
  'serve',
  'echo',
  'nc',
  'tftp',
  'files',
  'chat',
  'exec',
  'lan',
  'http',
  'users',
  'secret',
  'ip',
  'ports',
  'completion',
] as const;

export type SubcommandName = (typeof SUBCOMMAND_NAMES)[number];

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
    return (SUBCOMMAND_NAMES as readonly string[]).includes(arg) ? [arg] : undefined;
  }
  return version ? [] : undefined;
}
