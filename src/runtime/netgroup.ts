/**
 * Which network a peer's address belongs to, for limits that one host must not dodge by
 * changing its address. An IPv6 host is handed a whole /64 (RFC 7421; RFC 6177 advises
 * /56 or /48 per site), so a per-address cap that counts exact IPv6 addresses is no cap
 * at all: by default addresses are grouped by /64. IPv4 addresses count one by one by
 * default (NAT puts many users behind one address); a wider IPv4 prefix can be asked for.
 * IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) count as the IPv4 address they carry.
 */
import { parseIp } from '../ip/address.js';
import { formatIPv4 } from '../ip/ipv4.js';
import { formatIPv6 } from '../ip/ipv6.js';
import { mappedIPv4 } from '../ip/kind.js';

export interface AddressGroupOptions {
  /** Leading bits of an IPv4 address that name its group. Default 32 (each address). */
  v4Prefix?: number;
  /** Leading bits of an IPv6 address that name its group. Default 64. */
  v6Prefix?: number;
}

/**
 * The group of `address` as text, e.g. `203.0.113.7` or `2001:db8:1:2::/64`; text that is
 * not an address (a Unix socket, `undefined`) is its own group.
 *
 * @example
 * ```ts
 * addressGroup('2001:db8:1:2::7'); // '2001:db8:1:2::/64'
 * addressGroup('::ffff:10.1.2.3'); // '10.1.2.3'
 * addressGroup('10.1.2.3', { v4Prefix: 24 }); // '10.1.2.0/24'
 * ```
 */
export function addressGroup(address: string | undefined, options: AddressGroupOptions = {}): string {
  if (!address) return '?';
  let ip: ReturnType<typeof parseIp>;
  try {
    ip = parseIp(address.replace(/%.*$/, ''));
  } catch {
    return address;
  }
  const v4 = ip.version === 4 ? ip : mappedIPv4(ip);
  if (v4) return grouped(v4.value, 32, options.v4Prefix ?? 32, formatIPv4);
  return grouped(ip.value, 128, options.v6Prefix ?? 64, formatIPv6);
}

function grouped(value: bigint, bits: number, prefix: number, format: (v: bigint) => string): string {
  const keep = Math.max(0, Math.min(bits, Math.trunc(prefix)));
  if (keep === bits) return format(value);
  const shift = BigInt(bits - keep);
  return `${format((value >> shift) << shift)}/${keep}`;
}

/** Prefixes of a site's network: an IPv4 /24, an IPv6 /48 (RFC 6177's largest site assignment). */
export const NETWORK_PREFIXES: Readonly<Required<AddressGroupOptions>> = { v4Prefix: 24, v6Prefix: 48 };

/**
 * The wider group of `address`: its site's network (`NETWORK_PREFIXES`), for caps that a host
 * with many addresses (a /64, a /56, a rented /24) must not multiply.
 *
 * @example
 * ```ts
 * networkGroup('2001:db8:1:2::7'); // '2001:db8:1::/48'
 * networkGroup('10.1.2.3'); // '10.1.2.0/24'
 * ```
 */
export function networkGroup(address: string | undefined): string {
  return addressGroup(address, NETWORK_PREFIXES);
}

/** True for 127.0.0.0/8, ::1 and localhost: addresses no other machine can reach. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\./.test(bare) || /^::ffff:127\./.test(bare);
}
