/**
 * Range to CIDR: the fewest subnets that cover exactly the addresses FIRST..LAST, as
 * Python's `ipaddress.summarize_address_range` and `netmask -c` compute them.
 */
import { ErrorCode, SockitError } from '../errors.js';
import { addressBits, type IpAddress, parseIp } from './address.js';
import type { Subnet } from './subnet.js';

/**
 * The minimal list of subnets covering `first`..`last` inclusive, lowest first. Each step
 * takes the largest block that starts at the current address (aligned to it) and does not
 * pass `last`, so the list has at most 2 × (address bits) entries.
 * Throws `ERR_INVALID_ARGUMENT` for mixed versions or a reversed range.
 *
 * @example
 * ```ts
 * summarizeRange(parseIp('10.0.0.3'), parseIp('10.0.0.17')).map(formatSubnet);
 * // ['10.0.0.3/32', '10.0.0.4/30', '10.0.0.8/29', '10.0.0.16/31']
 * ```
 */
export function summarizeRange(first: IpAddress, last: IpAddress): Subnet[] {
  if (first.version !== last.version) {
    throw invalid('a range runs from IPv4 to IPv4 or from IPv6 to IPv6, not across');
  }
  if (first.value > last.value) throw invalid('the range is reversed: give the lower address first');
  const { version } = first;
  const bits = addressBits(version);
  const blocks: Subnet[] = [];
  let start = first.value;
  while (start <= last.value) {
    // Host bits the block may have: no more than the trailing zeros of `start` ...
    let host = start === 0n ? bits : trailingZeros(start);
    // ... and no more than fit before `last`.
    while (host > 0 && start + (1n << BigInt(host)) - 1n > last.value) host--;
    blocks.push({ version, network: start, prefix: bits - host });
    start += 1n << BigInt(host);
  }
  return blocks;
}

/**
 * Parses `FIRST-LAST` (IPv6 may be bracketed: `[::1]-[::9]`) and summarizes it.
 *
 * @example
 * ```ts
 * parseRange('192.168.0.0-192.168.1.255').map(formatSubnet); // ['192.168.0.0/23']
 * ```
 */
export function parseRange(text: string): Subnet[] {
  const parts = text.split('-');
  if (parts.length !== 2 || parts.some((p) => p.trim() === '' || p.includes('/'))) {
    throw invalid(`"${text}": expected FIRST-LAST, e.g. 10.0.0.3-10.0.0.17`);
  }
  return summarizeRange(parseIp(parts[0] as string), parseIp(parts[1] as string));
}

function trailingZeros(value: bigint): number {
  let n = 0;
  while ((value & 1n) === 0n) {
    value >>= 1n;
    n++;
  }
  return n;
}

function invalid(message: string): SockitError {
  return new SockitError(ErrorCode.INVALID_ARGUMENT, `ip: ${message}`);
}
