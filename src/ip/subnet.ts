/**
 * Subnets: a network address and a prefix length, and the arithmetic on them.
 *
 * The network address is the address AND the netmask; the last address (the IPv4
 * directed broadcast, RFC 919) is the network OR the wildcard.
 */
import { ErrorCode, SockitError } from '../errors.js';
import { addressBits, formatValue, type IpAddress, type IpVersion, parseIp } from './address.js';
import { checkPrefix, parsePrefixOrMask, prefixToMask, wildcardOf } from './mask.js';

export interface Subnet {
  readonly version: IpVersion;
  /** The first address: host bits all zero. */
  readonly network: bigint;
  readonly prefix: number;
}

/** An address as written with an optional `/prefix` or `/netmask`. */
export interface CidrInput {
  readonly address: IpAddress;
  /** Undefined when the text carried no `/`. */
  readonly prefix: number | undefined;
}

/** The assignable addresses of a subnet; see `usableHosts`. */
export interface HostRange {
  readonly first: bigint;
  readonly last: bigint;
  readonly count: bigint;
}

/**
 * Parses `ADDR`, `ADDR/PREFIX` or `ADDR/NETMASK`. Throws `ERR_INVALID_ARGUMENT`.
 *
 * @example
 * ```ts
 * parseCidr('10.1.2.3/8'); // { address: 10.1.2.3, prefix: 8 }
 * parseCidr('10.1.2.3/255.255.0.0'); // { address: 10.1.2.3, prefix: 16 }
 * parseCidr('::1'); // { address: ::1, prefix: undefined }
 * ```
 */
export function parseCidr(text: string): CidrInput {
  const slash = text.indexOf('/');
  if (slash < 0) return { address: parseIp(text), prefix: undefined };
  const address = parseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (prefixText === '' || prefixText.includes('/')) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `"${text}": expected ADDRESS/PREFIX, e.g. 10.0.0.0/8`);
  }
  return { address, prefix: parsePrefixOrMask(address.version, prefixText) };
}

/**
 * The subnet of `prefix` bits that holds `address` (its host bits cleared).
 *
 * @example
 * ```ts
 * formatSubnet(subnetOf(parseIp('192.168.1.77'), 26)); // '192.168.1.64/26'
 * ```
 */
export function subnetOf(address: IpAddress, prefix: number): Subnet {
  const mask = prefixToMask(address.version, prefix);
  return { version: address.version, network: address.value & mask, prefix };
}

/**
 * Parses `NETWORK/PREFIX`, clearing any host bits, as `ip_network(text, strict=False)` does.
 * Without a prefix the subnet is the single address (/32 or /128).
 *
 * @example
 * ```ts
 * formatSubnet(parseSubnet('2001:db8::1/32')); // '2001:db8::/32'
 * ```
 */
export function parseSubnet(text: string): Subnet {
  const { address, prefix } = parseCidr(text);
  return subnetOf(address, prefix ?? addressBits(address.version));
}

/**
 * `network/prefix` in canonical text.
 *
 * @example
 * ```ts
 * formatSubnet({ version: 4, network: 0x0a000000n, prefix: 8 }); // '10.0.0.0/8'
 * ```
 */
export function formatSubnet(subnet: Subnet): string {
  return `${formatValue(subnet.version, subnet.network)}/${subnet.prefix}`;
}

/**
 * The last address of the subnet; for IPv4 its directed broadcast address.
 *
 * @example
 * ```ts
 * formatValue(4, lastAddress(parseSubnet('10.0.0.0/8'))); // '10.255.255.255'
 * ```
 */
export function lastAddress(subnet: Subnet): bigint {
  return subnet.network | wildcardOf(subnet.version, subnet.prefix);
}

/**
 * How many addresses the subnet spans: 2^(bits - prefix).
 *
 * @example
 * ```ts
 * addressCount(parseSubnet('10.0.0.0/24')); // 256n
 * ```
 */
export function addressCount(subnet: Subnet): bigint {
  return 1n << BigInt(addressBits(subnet.version) - subnet.prefix);
}

/**
 * The addresses that can be given to hosts.
 *
 * IPv4: all but the network and broadcast addresses; a /31 has two usable addresses on
 * a point-to-point link (RFC 3021 §2) and a /32 is the one host. IPv6 has no broadcast:
 * all but the Subnet-Router anycast address, the network (RFC 4291 §2.6.1); a /127 has
 * both (RFC 6164 §5) and a /128 is the one host. This matches Python's `hosts()`.
 *
 * @example
 * ```ts
 * usableHosts(parseSubnet('192.168.1.0/24')); // { first: .1, last: .254, count: 254n }
 * usableHosts(parseSubnet('10.0.0.0/31')).count; // 2n
 * ```
 */
export function usableHosts(subnet: Subnet): HostRange {
  const bits = addressBits(subnet.version);
  const last = lastAddress(subnet);
  const count = addressCount(subnet);
  if (subnet.prefix >= bits - 1) return { first: subnet.network, last, count };
  if (subnet.version === 6) return { first: subnet.network + 1n, last, count: count - 1n };
  return { first: subnet.network + 1n, last: last - 1n, count: count - 2n };
}

/**
 * True when `address` lies in `subnet`.
 *
 * @example
 * ```ts
 * contains(parseSubnet('10.0.0.0/8'), parseIp('10.9.9.9')); // true
 * ```
 */
export function contains(subnet: Subnet, address: IpAddress): boolean {
  return (
    address.version === subnet.version &&
    (address.value & prefixToMask(subnet.version, subnet.prefix)) === subnet.network
  );
}

/**
 * True when both addresses AND the same mask to the same network.
 *
 * @example
 * ```ts
 * sameSubnet(parseIp('172.16.10.1'), parseIp('172.16.10.2'), 24); // true
 * sameSubnet(parseIp('172.16.10.1'), parseIp('172.16.11.1'), 24); // false
 * ```
 */
export function sameSubnet(a: IpAddress, b: IpAddress, prefix: number): boolean {
  if (a.version !== b.version) return false;
  const mask = prefixToMask(a.version, prefix);
  return (a.value & mask) === (b.value & mask);
}

/**
 * How many subnets of `newPrefix` bits the subnet splits into: 2^(newPrefix - prefix).
 *
 * @example
 * ```ts
 * subnetCount(parseSubnet('10.0.0.0/24'), 26); // 4n
 * ```
 */
export function subnetCount(subnet: Subnet, newPrefix: number): bigint {
  checkSplit(subnet, newPrefix);
  return 1n << BigInt(newPrefix - subnet.prefix);
}

/**
 * The subnets of `newPrefix` bits inside `subnet`, in address order. Lazy, since a /8
 * split into /30s is four million subnets: take what you need.
 *
 * @example
 * ```ts
 * [...splitSubnet(parseSubnet('10.0.0.0/24'), 26)].map(formatSubnet);
 * // ['10.0.0.0/26', '10.0.0.64/26', '10.0.0.128/26', '10.0.0.192/26']
 * ```
 */
export function* splitSubnet(subnet: Subnet, newPrefix: number): Generator<Subnet> {
  const count = subnetCount(subnet, newPrefix);
  const step = 1n << BigInt(addressBits(subnet.version) - newPrefix);
  for (let i = 0n; i < count; i++) {
    yield { version: subnet.version, network: subnet.network + i * step, prefix: newPrefix };
  }
}

function checkSplit(subnet: Subnet, newPrefix: number): void {
  checkPrefix(subnet.version, newPrefix);
  if (newPrefix < subnet.prefix) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      `cannot split ${formatSubnet(subnet)} into /${newPrefix}: the new prefix must be /${subnet.prefix} or longer`,
    );
  }
}
