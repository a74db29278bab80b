/**
 * An IP address of either version: the version and the address as one unsigned `bigint`
 * (32 bits for IPv4, 128 for IPv6), so masks and ranges are plain shifts and ANDs.
 */
import { ErrorCode, SockitError } from '../errors.js';
import { formatIPv4, IPV4_BITS, parseIPv4 } from './ipv4.js';
import { formatIPv6, IPV6_BITS, parseIPv6 } from './ipv6.js';

export type IpVersion = 4 | 6;

export interface IpAddress {
  readonly version: IpVersion;
  /** The address as an unsigned integer, most significant bit first. */
  readonly value: bigint;
}

/**
 * Bits in an address of `version`: 32 or 128.
 *
 * @example
 * ```ts
 * addressBits(6); // 128
 * ```
 */
export function addressBits(version: IpVersion): number {
  return version === 4 ? IPV4_BITS : IPV6_BITS;
}

/**
 * The all-ones value of `version`: 2^32-1 or 2^128-1.
 *
 * @example
 * ```ts
 * allOnes(4); // 0xffffffffn
 * ```
 */
export function allOnes(version: IpVersion): bigint {
  return (1n << BigInt(addressBits(version))) - 1n;
}

/**
 * Parses IPv4 or IPv6 text (a colon means IPv6). Throws `ERR_INVALID_ARGUMENT`.
 *
 * @example
 * ```ts
 * parseIp('10.0.0.1'); // { version: 4, value: 167772161n }
 * parseIp('fe80::1'); // { version: 6, value: 0xfe800000000000000000000000000001n }
 * parseIp('[::1]'); // { version: 6, value: 1n }
 * ```
 */
export function parseIp(text: string): IpAddress {
  // `[::1]`, as URLs and HOST:PORT write IPv6 (RFC 3986 §3.2.2), is the address inside.
  const bracketed = /^\[([^\]]*:[^\]]*)\]$/.exec(text.trim());
  const trimmed = bracketed ? (bracketed[1] as string) : text.trim();
  if (trimmed === '') throw new SockitError(ErrorCode.INVALID_ARGUMENT, 'an IP address is empty');
  return trimmed.includes(':')
    ? { version: 6, value: parseIPv6(trimmed) }
    : { version: 4, value: parseIPv4(trimmed) };
}

/**
 * Builds an address from its version and value, checking the range.
 *
 * @example
 * ```ts
 * ipAddress(4, 0x7f000001n); // 127.0.0.1
 * ```
 */
export function ipAddress(version: IpVersion, value: bigint): IpAddress {
  if (value < 0n || value > allOnes(version)) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${value} is out of range for IPv${version}`);
  }
  return { version, value };
}

/**
 * Canonical text: dotted decimal for IPv4, RFC 5952 for IPv6.
 *
 * @example
 * ```ts
 * formatIp(parseIp('2001:DB8:0:0::1')); // '2001:db8::1'
 * ```
 */
export function formatIp(address: IpAddress): string {
  return formatValue(address.version, address.value);
}

/**
 * Canonical text of a raw value of `version`.
 *
 * @example
 * ```ts
 * formatValue(4, 0n); // '0.0.0.0'
 * ```
 */
export function formatValue(version: IpVersion, value: bigint): string {
  return version === 4 ? formatIPv4(value) : formatIPv6(value);
}
