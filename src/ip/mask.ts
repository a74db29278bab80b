/**
 * Prefix lengths and netmasks, one derived from the other.
 *
 * A mask is `prefix` one bits followed by zero bits. RFC 950 once allowed other bit
 * patterns, but CIDR (RFC 4632 §3.1) counts a network by its prefix length, so only
 * contiguous masks have a prefix; any other pattern is refused by name.
 */
import { ErrorCode, SockitError } from '../errors.js';
import { addressBits, allOnes, formatValue, type IpAddress, type IpVersion, parseIp } from './address.js';

/**
 * Checks that `prefix` is a whole number from 0 to 32 (IPv4) or 128 (IPv6).
 *
 * @example
 * ```ts
 * checkPrefix(4, 24); // 24
 * checkPrefix(4, 33); // throws ERR_INVALID_ARGUMENT
 * ```
 */
export function checkPrefix(version: IpVersion, prefix: number): number {
  const bits = addressBits(version);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      `prefix length /${prefix} is out of range: IPv${version} takes /0 to /${bits}`,
    );
  }
  return prefix;
}

/**
 * The netmask of a prefix length: `prefix` one bits, then zeros.
 *
 * @example
 * ```ts
 * prefixToMask(4, 24); // 0xffffff00n (255.255.255.0)
 * ```
 */
export function prefixToMask(version: IpVersion, prefix: number): bigint {
  checkPrefix(version, prefix);
  return allOnes(version) ^ hostBits(version, prefix);
}

/**
 * The wildcard (host mask, the inverse of the netmask), as Cisco ACLs write it.
 *
 * @example
 * ```ts
 * wildcardOf(4, 24); // 0xffn (0.0.0.255)
 * ```
 */
export function wildcardOf(version: IpVersion, prefix: number): bigint {
  checkPrefix(version, prefix);
  return hostBits(version, prefix);
}

/**
 * The prefix length of a netmask; throws `ERR_INVALID_ARGUMENT` for a non-contiguous mask.
 *
 * @example
 * ```ts
 * maskToPrefix(4, 0xfffffe00n); // 23
 * maskToPrefix(4, 0xff00ff00n); // throws: 255.0.255.0 is not contiguous
 * ```
 */
export function maskToPrefix(version: IpVersion, mask: bigint): number {
  const ones = allOnes(version);
  if (mask < 0n || mask > ones) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${mask} is out of range for an IPv${version} mask`);
  }
  const inverse = ones ^ mask;
  // The host part is contiguous exactly when inverse + 1 is a power of two.
  if ((inverse & (inverse + 1n)) !== 0n) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      `netmask ${formatValue(version, mask)} is not contiguous: its one bits must all come before ` +
        'its zero bits (RFC 4632), e.g. 255.255.255.0',
    );
  }
  return addressBits(version) - bitLength(inverse);
}

/**
 * Reads a prefix given as `/24`, `24`, or a netmask such as `255.255.255.0` (or an IPv6
 * mask such as `ffff:ffff::`). Throws `ERR_INVALID_ARGUMENT`.
 *
 * @example
 * ```ts
 * parsePrefixOrMask(4, '255.255.240.0'); // 20
 * parsePrefixOrMask(6, '/64'); // 64
 * ```
 */
export function parsePrefixOrMask(version: IpVersion, text: string): number {
  const body = text.trim().replace(/^\//, '');
  if (/^\d+$/.test(body)) return checkPrefix(version, Number(body));
  let parsed: IpAddress;
  try {
    parsed = parseIp(body);
  } catch (err) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      `"${text}" is neither a prefix length (/24) nor a netmask (255.255.255.0)`,
      { cause: err },
    );
  }
  if (parsed.version !== version) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      `mask "${text}" is an IPv${parsed.version} mask, but the address is IPv${version}`,
    );
  }
  return maskToPrefix(version, parsed.value);
}

function hostBits(version: IpVersion, prefix: number): bigint {
  return (1n << BigInt(addressBits(version) - prefix)) - 1n;
}

function bitLength(value: bigint): number {
  return value === 0n ? 0 : value.toString(2).length;
}
