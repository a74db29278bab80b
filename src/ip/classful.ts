/**
 * The classful IPv4 address classes, A to E.
 *
 * Classes fixed the network/host split by the leading bits (RFC 791 §3.2; class D
 * multicast from RFC 1112 §4, class E reserved). CIDR (RFC 4632) replaced them in 1993,
 * but the class and its default mask are still how subnetting is taught, so we show them.
 */
import { ErrorCode, SockitError } from '../errors.js';
import { IPV4_MAX } from './ipv4.js';

export type Ipv4Class = 'A' | 'B' | 'C' | 'D' | 'E';

export interface ClassInfo {
  readonly class: Ipv4Class;
  /** The leading bits that pick the class, e.g. `10` for B. */
  readonly leadingBits: string;
  /** First and last address of the class. */
  readonly range: readonly [string, string];
  /** The default (natural) prefix: 8, 16 or 24; undefined for D and E, which have none. */
  readonly defaultPrefix: number | undefined;
  readonly use: string;
}

const CLASSES: readonly ClassInfo[] = [
  { class: 'A', leadingBits: '0', range: ['0.0.0.0', '127.255.255.255'], defaultPrefix: 8, use: 'unicast' },
  {
    class: 'B',
    leadingBits: '10',
    range: ['128.0.0.0', '191.255.255.255'],
    defaultPrefix: 16,
    use: 'unicast',
  },
  {
    class: 'C',
    leadingBits: '110',
    range: ['192.0.0.0', '223.255.255.255'],
    defaultPrefix: 24,
    use: 'unicast',
  },
  {
    class: 'D',
    leadingBits: '1110',
    range: ['224.0.0.0', '239.255.255.255'],
    defaultPrefix: undefined,
    use: 'multicast',
  },
  {
    class: 'E',
    leadingBits: '1111',
    range: ['240.0.0.0', '255.255.255.255'],
    defaultPrefix: undefined,
    use: 'reserved',
  },
];

/**
 * The class of an IPv4 address, from its first octet's leading bits.
 *
 * @example
 * ```ts
 * ipv4Class(parseIPv4('172.16.10.1')); // { class: 'B', defaultPrefix: 16, ... }
 * ipv4Class(parseIPv4('239.1.1.1')).class; // 'D'
 * ```
 */
export function ipv4Class(value: bigint): ClassInfo {
  if (value < 0n || value > IPV4_MAX) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${value} is not a 32-bit IPv4 address value`);
  }
  const top = Number(value >> 24n);
  const index = top < 128 ? 0 : top < 192 ? 1 : top < 224 ? 2 : top < 240 ? 3 : 4;
  return CLASSES[index] as ClassInfo;
}
