/**
 * What every command that reports a result shares (docs/cli.md, "Output"): `--json` prints one
 * JSON value per result on stdout and nothing else there; `-q/--quiet` prints no progress and
 * no summary; `-v/--verbose` adds a line on stderr for each step (the debug log of the library
 * at work, see plain-log.ts). Commander only: a short command such as `sockit ip` loads no
 * logging code for it.
 */
import { type Command, Option } from 'commander';
import type { LogLevel } from '../runtime/log.js';
import { writeStdout } from './stdout.js';

export interface OutputFlags {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

/** The help of each flag this command takes; a flag left out is not added. */
export interface OutputHelp {
  json?: string;
  quiet?: string;
  verbose?: string;
}

/**
 * Adds `--json`, `-q/--quiet` and `-v/--verbose` as `help` describes them; `-q` and `-v`
 * together are a usage error.
 *
 * @example
 * ```ts
 * outputOptions(command, { quiet: 'print nothing on success' });
 * ```
 */
export function outputOptions(command: Command, help: OutputHelp): Command {
  if (help.json) command.option('--json', help.json);
  if (help.quiet) {
    const quiet = new Option('-q, --quiet', help.quiet);
    command.addOption(help.verbose ? quiet.conflicts('verbose') : quiet);
  }
  if (help.verbose) command.option('-v, --verbose', help.verbose);
  return command;
}

/** The log level the flags ask for: `-v` every step (debug), `-q` errors only, else `normal`. */
export function levelOf(flags: OutputFlags, normal: LogLevel = 'warn'): LogLevel {
  return flags.verbose ? 'debug' : flags.quiet ? 'error' : normal;
}

/**
 * Writes a result: its JSON object as one line on stdout with `--json`, else `text` to
 * `textTo` (the command's usual stream for it; stdout by default) unless `-q`.
 */
export function printResult(
  flags: OutputFlags,
  result: object,
  text: () => string,
  textTo?: NodeJS.WritableStream,
): void {
  if (flags.json) writeStdout(`${JSON.stringify(result)}\n`);
  else if (flags.quiet) return;
  else if (textTo) textTo.write(text());
  else writeStdout(text());
}
