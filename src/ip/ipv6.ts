/**
 * IPv6 addresses as 128-bit `bigint`s.
 *
 * Input follows the text forms of RFC 4291 §2.2: eight groups of one to four hex digits,
 * at most one `::` standing for one or more zero groups, and optionally a dotted IPv4
 * address in place of the last two groups. Output follows RFC 5952: lower case, no
 * leading zeros, `::` for the longest run of two or more zero groups (the first such run
 * on a tie), and mixed notation for IPv4-mapped addresses (§5).
 */
import { ErrorCode, SockitError } from '../errors.js';
import { formatIPv4, parseIPv4 } from './ipv4.js';

/** Bits in an IPv6 address. */
export const IPV6_BITS = 128;
/** The largest IPv6 address as a number: ffff:...:ffff. */
export const IPV6_MAX = (1n << 128n) - 1n;

const GROUP = /^[0-9a-f]{1,4}$/i;
/** ::ffff:0:0/96, the IPv4-mapped prefix of RFC 4291 §2.5.5.2, shifted down by 32 bits. */
const MAPPED_HIGH = 0xffffn;

/**
 * Parses IPv6 text to a 128-bit value. Throws `ERR_INVALID_ARGUMENT`.
 *
 * @example
 * ```ts
 * parseIPv6('2001:db8::1'); // 0x20010db8000000000000000000000001n
 * parseIPv6('::ffff:192.0.2.1'); // 0xffffc0000201n
 * ```
 */
export function parseIPv6(text: string): bigint {
  if (text.includes('%')) {
    throw invalidIPv6(text, 'a zone index (%eth0) names an interface and is not part of the address');
  }
  let body = text;
  // RFC 4291 §2.2 (3): the low 32 bits may be written as dotted IPv4.
  const lastColon = body.lastIndexOf(':');
  const tail = body.slice(lastColon + 1);
  if (lastColon >= 0 && tail.includes('.')) {
    const v4 = parseIPv4(tail);
    body = `${body.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = body.split('::');
  if (halves.length > 2) throw invalidIPv6(text, '"::" may appear only once');
  const head = groupsOf(halves[0] ?? '', text);
  const rest = halves.length === 2 ? groupsOf(halves[1] ?? '', text) : [];
  const given = head.length + rest.length;
  if (halves.length === 1 && given !== 8) {
    throw invalidIPv6(text, `expected 8 groups of hex digits (or "::"), got ${given}`);
  }
  if (halves.length === 2 && given > 7) throw invalidIPv6(text, 'too many groups around "::"');
  const groups = [...head, ...Array<number>(8 - given).fill(0), ...rest];
  return groups.reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}

/**
 * Formats a 128-bit value as RFC 5952 text.
 *
 * @example
 * ```ts
 * formatIPv6(parseIPv6('2001:0DB8:0:0:0:0:0:0001')); // '2001:db8::1'
 * formatIPv6(parseIPv6('::ffff:c000:201')); // '::ffff:192.0.2.1'
 * ```
 */
export function formatIPv6(value: bigint): string {
  const groups = groupValues(value);
  // RFC 5952 §5: IPv4-mapped addresses are recognised by their prefix, so mixed notation.
  if (value >> 32n === MAPPED_HIGH) return `::ffff:${formatIPv4(value & 0xffff_ffffn)}`;
  // RFC 5952 §4.2: shorten the longest run of zero groups, only if it is two or more long,
  // and the first one when runs tie (§4.2.3).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  // RFC 5952 §4.1 and §4.3: no leading zeros, lower case.
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLength).join(':');
  return `${left}::${right}`;
}

/**
 * All eight groups written out with four digits each.
 *
 * @example
 * ```ts
 * expandIPv6(parseIPv6('2001:db8::1')); // '2001:0db8:0000:0000:0000:0000:0000:0001'
 * ```
 */
export function expandIPv6(value: bigint): string {
  return groupValues(value)
    .map((g) => g.toString(16).padStart(4, '0'))
    .join(':');
}

function groupValues(value: bigint): number[] {
  if (value < 0n || value > IPV6_MAX) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${value} is not a 128-bit IPv6 address value`);
  }
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  return groups;
}

function groupsOf(part: string, text: string): number[] {
  if (part === '') return [];
  return part.split(':').map((group) => {
    if (!GROUP.test(group)) {
      throw invalidIPv6(
        text,
        group === '' ? 'an empty group (a lone ":")' : `"${group}" is not 1 to 4 hex digits`,
      );
    }
    return Number.parseInt(group, 16);
  });
}

function invalidIPv6(text: string, why: string): SockitError {
  return new SockitError(ErrorCode.INVALID_ARGUMENT, `invalid IPv6 address "${text}": ${why}`);
}
