/**
 * What every command that reports a result shares (docs/cli.md, "Output"): `--json` prints one
 * JSON object per result on stdout and nothing else there; `-q/--quiet` prints no progress and
 * no summary; `-v/--verbose` adds a line on stderr for each step. The step lines are the debug
 * log of the library at work, written as plain `NAME: what key=value` lines unless
 * `--log-format` asks for pretty or JSON ones.
 */
import { type Command, Option } from 'commander';
import { pino } from 'pino';
import type { Logger, LogLevel } from '../runtime/log.js';
import { loggerFor } from './context.js';

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
 * The logger of a command run by a person: plain `NAME: message key=value` lines on stderr,
 * at `--log-level` or else `fallbackLevel`. An explicit `--log-format pretty|json` gets the
 * usual structured logger instead, for scripts and tests that parse the lines.
 *
 * @example
 * ```ts
 * const log = plainLogger(command, 'tftp', levelOf(flags));
 * log.debug({ blksize: 1428 }, 'options negotiated'); // tftp: options negotiated blksize=1428
 * ```
 */
export function plainLogger(command: Command, name: string, fallbackLevel: LogLevel): Logger {
  const opts = command.optsWithGlobals<{ logFormat?: string; logLevel?: LogLevel }>();
  if (opts.logFormat !== undefined && opts.logFormat !== 'auto') return loggerFor(command, fallbackLevel);
  return pino(
    { level: opts.logLevel ?? fallbackLevel, base: undefined, timestamp: false },
    { write: (line: string) => process.stderr.write(plainLine(name, JSON.parse(line))) },
  );
}

/** One pino entry as a plain line: the message, then each field as `key=value`. */
export function plainLine(name: string, entry: Record<string, unknown>): string {
  const { level: _level, msg, err, ...fields } = entry;
  const error = (err as { message?: unknown } | undefined)?.message ?? err;
  const message = typeof msg === 'string' ? msg : typeof error === 'string' ? error : '';
  if (typeof msg === 'string' && error !== undefined) fields.err = error;
  const rest = Object.entries(fields).map(([key, value]) => ` ${key}=${plainValue(value)}`);
  return `${name}: ${message}${rest.join('')}\n`;
}

function plainValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/**
 * Writes a result: its JSON object as one line on stdout with `--json`, else `text` to
 * `textTo` (the command's usual stream for it) unless `-q`.
 */
export function printResult(
  flags: OutputFlags,
  result: object,
  text: () => string,
  textTo: NodeJS.WritableStream = process.stdout,
): void {
  if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else if (!flags.quiet) textTo.write(text());
}
