/** Parsers for command-line values: each failure is one clear `ERR_INVALID_ARGUMENT`. */

import { isIPv6 } from 'node:net';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_ITERATIONS, MAX_ITERATIONS, MIN_ITERATIONS } from '../auth/credentials.js';
import { ErrorCode, SockitError } from '../errors.js';
import { groupDigits } from '../runtime/units.js';

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

/** A parser of whole numbers from `min` to `max`, e.g. `ranged(8, 65464)` for a TFTP blksize. */
export function ranged(min: number, max: number): (value: string) => number {
  return (value) => parseInteger(value, min, max, `${min} to ${max}`);
}

/** A parser of sizes (as `parseBytes`) from `min` to `max` bytes. */
export function bytesWithin(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = parseBytes(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected ${min} to ${max} bytes`);
    return n;
  };
}

function parseInteger(value: string, min: number, max: number, what: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min || n > max) throw new InvalidArgumentError(`expected ${what}`);
  return n;
}

/** A host and port as parsed from the command line. */
export interface Endpoint {
  host: string;
  port: number;
}

const HOST_PORT_FORMS = 'write HOST, HOST:PORT or [IPv6]:PORT, e.g. 127.0.0.1:7021 or [::1]:7021';

function badEndpoint(value: string, why: string): SockitError {
  return new SockitError(
    ErrorCode.INVALID_ARGUMENT,
    `bad address ${JSON.stringify(value)}: ${why}; ${HOST_PORT_FORMS}`,
  );
}

/**
 * The one parser of a server address on the command line: `HOST`, `HOST:PORT`, `[IPv6]:PORT`,
 * `[IPv6]` or a bare IPv6 literal (RFC 3986 section 3.2.2 brackets an IPv6 address before a
 * port). Without a port, `defaultPort` is used; without one either, a port is required.
 * Anything else is `ERR_INVALID_ARGUMENT`, thrown as a `SockitError` so that the command prints
 * one line with its code.
 *
 * @example
 * parseEndpoint('[::1]:7021'); // { host: '::1', port: 7021 }
 * parseEndpoint('files.lan', 7021); // { host: 'files.lan', port: 7021 }
 */
export function parseEndpoint(value: string, defaultPort?: number): Endpoint {
  let host: string;
  let port: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(value);
  if (bracketed) {
    host = bracketed[1] as string;
    port = bracketed[2];
    if (!isIPv6(host)) throw badEndpoint(value, 'brackets hold an IPv6 address only');
  } else if (value.indexOf(':') !== value.lastIndexOf(':') && isIPv6(value)) {
    // (An IPv6 address has two colons at least: the common HOST:PORT never pays for isIPv6,
    // whose first call compiles a large expression, some 4 ms of a short command.)
    host = value;
  } else {
    const colon = value.lastIndexOf(':');
    host = colon < 0 ? value : value.slice(0, colon);
    port = colon < 0 ? undefined : value.slice(colon + 1);
    if (host === '') throw badEndpoint(value, 'the host is missing');
    if (!/^[A-Za-z0-9._-]+$/.test(host)) throw badEndpoint(value, 'that is not a host name or address');
  }
  if (port === undefined) {
    if (defaultPort === undefined) throw badEndpoint(value, 'the port is missing');
    return { host, port: defaultPort };
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw badEndpoint(
      value,
      port === '' ? 'the port is missing after ":"' : 'the port must be from 1 to 65535',
    );
  }
  return { host, port: Number(port) };
}

/** `HOST:PORT` or `[IPv6]:PORT`, the port required: `parseEndpoint` without a default port. */
export function parseHostPort(value: string): Endpoint {
  return parseEndpoint(value);
}

/** An option in seconds, held in milliseconds, whose help shows the default in seconds; `parse` may bound it (`secondsWithin`). */
export function secondsOption(
  flags: string,
  description: string,
  defaultSeconds: number,
  parse: (value: string) => number = parseSeconds,
): Option {
  return new Option(flags, description).argParser(parse).default(defaultSeconds * 1000, `${defaultSeconds}`);
}

/** A parser of seconds (as `parseSeconds`, to milliseconds) from `min` to `max`. */
export function secondsWithin(min: number, max: number): (value: string) => number {
  return (value) => {
    const ms = parseSeconds(value);
    if (ms < min * 1000 || ms > max * 1000)
      throw new InvalidArgumentError(`expected ${min} to ${max} seconds`);
    return ms;
  };
}

/** A size option whose help shows the default as written, e.g. `16MiB`; `parse` may bound it (`bytesWithin`). */
export function bytesOption(
  flags: string,
  description: string,
  defaultSize: string,
  parse: (value: string) => number = parseBytes,
): Option {
  return new Option(flags, description).argParser(parse).default(parseBytes(defaultSize), defaultSize);
}

/** `--iterations`: PBKDF2 iterations within the bounds the server accepts. */
export function iterationsOption(): Option {
  return new Option('--iterations <n>', `PBKDF2 iterations, ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`)
    .argParser(parseIterations)
    .default(DEFAULT_ITERATIONS, groupDigits(DEFAULT_ITERATIONS));
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
