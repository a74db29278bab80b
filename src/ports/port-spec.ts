/** `--port` as people write it: a number, a range `8000-8100`, or a service name `ssh`. */
import { ErrorCode, SockitError } from '../errors.js';
import { servicePort } from './labels.js';

/** Ports `from` to `to`, both included. */
export interface PortSpan {
  from: number;
  to: number;
}

/**
 * Reads a port, a range or a service name from the built-in table. Throws
 * `ERR_INVALID_ARGUMENT` for anything else, or a range that runs backwards.
 *
 * @example
 * ```ts
 * parsePortSpec('5432'); // { from: 5432, to: 5432 }
 * parsePortSpec('8000-8100'); // { from: 8000, to: 8100 }
 * parsePortSpec('ssh'); // { from: 22, to: 22 }
 * ```
 */
export function parsePortSpec(text: string): PortSpan {
  const trimmed = text.trim();
  const range = /^(\d{1,5})\s*-\s*(\d{1,5})$/.exec(trimmed);
  if (range) {
    const from = toPort(range[1] as string, text);
    const to = toPort(range[2] as string, text);
    if (from > to) throw invalid(`port range "${text}" runs backwards; write ${to}-${from}`);
    return { from, to };
  }
  if (/^\d+$/.test(trimmed)) {
    const port = toPort(trimmed, text);
    return { from: port, to: port };
  }
  const port = servicePort(trimmed);
  if (port === undefined) {
    throw invalid(`"${text}" is not a port, a range such as 8000-8100, or a known service name`);
  }
  return { from: port, to: port };
}

/** True when `port` lies in the span. */
export function inPortSpan(port: number, span: PortSpan): boolean {
  return port >= span.from && port <= span.to;
}

function toPort(digits: string, text: string): number {
  const n = Number(digits);
  if (n > 65535) throw invalid(`"${text}": ports run from 0 to 65535`);
  return n;
}

function invalid(message: string): SockitError {
  return new SockitError(ErrorCode.INVALID_ARGUMENT, message);
}
