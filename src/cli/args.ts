/** Parsers for command-line values: each failure is one clear `ERR_INVALID_ARGUMENT`. */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_ITERATIONS, MAX_ITERATIONS, MIN_ITERATIONS } from '../auth/credentials.js';

export function parsePort(value: string): number {
  return parseInteger(value, 0, 65535, 'a port from 0 to 65535');
}

export function parseCount(value: string): number {
  return parseInteger(value, 1, 1_000_000, 'a whole number from 1');
}

export function parseBytes(value: string): number {
  const m = /^(\d+)\s*([kmg]i?b?)?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected a size such as 64, 16k or 16MiB');
  const unit = (m[2] ?? '').toLowerCase().charAt(0);
  const scale = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Number(m[1]) * scale;
}

/** Seconds (fractions allowed) to milliseconds. */
export function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 2_000_000)
    throw new InvalidArgumentError('expected seconds, e.g. 10 or 0.5');
  return Math.round(n * 1000);
}

function parseInteger(value: string, min: number, max: number, what: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min || n > max) throw new InvalidArgumentError(`expected ${what}`);
  return n;
}

/** `HOST:PORT`, `[IPv6]:PORT` or `IPv6` then port separately is not accepted here. */
export function parseHostPort(value: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:]+):(\d+)$/.exec(value);
  if (!m) throw new InvalidArgumentError('expected HOST:PORT, e.g. 127.0.0.1:7007 or [::1]:7007');
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new InvalidArgumentError('port must be from 1 to 65535');
  return { host: m[1] as string, port };
}

/** An option in seconds, held in milliseconds, whose help shows the default in seconds. */
export function secondsOption(flags: string, description: string, defaultSeconds: number): Option {
  return new Option(flags, description)
    .argParser(parseSeconds)
    .default(defaultSeconds * 1000, `${defaultSeconds}`);
}

/** A size option whose help shows the default as written, e.g. `16MiB`. */
export function bytesOption(flags: string, description: string, defaultSize: string): Option {
  return new Option(flags, description).argParser(parseBytes).default(parseBytes(defaultSize), defaultSize);
}

/** `--iterations`: PBKDF2 iterations within the bounds the server accepts. */
export function iterationsOption(): Option {
  return new Option('--iterations <n>', `PBKDF2 iterations, ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`)
    .argParser(parseIterations)
    .default(DEFAULT_ITERATIONS, DEFAULT_ITERATIONS.toLocaleString('en-US'));
}

export function parseIterations(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < MIN_ITERATIONS || n > MAX_ITERATIONS) {
    throw new InvalidArgumentError(`expected a whole number from ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`);
  }
  return n;
}

/** The limits `guardLoginOptions` adds, as parsed. */
export interface LoginLimitFlags {
  maxPerAddress: number;
  loginTimeout: number;
}

/**
 * Flags of a server whose clients log in: `--max-per-address` and `--login-timeout`
 * (see `guardServer`), beside its `--max-connections` and `--idle-timeout`.
 */
export function guardLoginOptions(command: Command): Command {
  return command
    .option('--max-per-address <n>', 'connections at once from one address', parseCount, 32)
    .addOption(
      secondsOption('--login-timeout <seconds>', 'close a connection not logged in this long (0: never)', 10),
    );
}
