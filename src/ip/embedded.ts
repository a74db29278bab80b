/**
 * IPv4 addresses carried inside IPv6 ones: the last 32 bits of an IPv4-mapped address
 * (`::ffff:0:0/96`, RFC 4291 §2.5.5.2) or of a NAT64 address under the well-known prefix
 * (`64:ff9b::/96`, RFC 6052 §2.1 and §2.2, where a /96 prefix puts the IPv4 in bits 96-127).
 */
import { type IpAddress, ipAddress } from './address.js';

/** How an IPv6 address carries its IPv4 address. */
export type Embedding = 'ipv4-mapped' | 'nat64';

export interface EmbeddedIPv4 {
  readonly ipv4: IpAddress;
  readonly via: Embedding;
  /** The /96 prefix and the RFC that defines it, e.g. `64:ff9b::/96, RFC 6052`. */
  readonly block: string;
}

const LOW_32 = 0xffff_ffffn;
const MAPPED_PREFIX = 0xffffn; // ::ffff:0:0/96, the address shifted right by 32 bits
const NAT64_PREFIX = 0x64ff9b_0000_0000_0000_0000n; // 64:ff9b::/96, shifted right by 32 bits

/**
 * The IPv4 address inside an IPv4-mapped or NAT64 (well-known prefix) address, or undefined.
 *
 * @example
 * ```ts
 * embeddedIPv4(parseIp('64:ff9b::c000:221'))?.ipv4; // 192.0.2.33, via 'nat64'
 * embeddedIPv4(parseIp('::ffff:10.0.0.1'))?.via; // 'ipv4-mapped'
 * embeddedIPv4(parseIp('2001:db8::1')); // undefined
 * ```
 */
export function embeddedIPv4(address: IpAddress): EmbeddedIPv4 | undefined {
  if (address.version !== 6) return undefined;
  const high = address.value >> 32n;
  const ipv4 = ipAddress(4, address.value & LOW_32);
  if (high === MAPPED_PREFIX) return { ipv4, via: 'ipv4-mapped', block: '::ffff:0:0/96, RFC 4291' };
  if (high === NAT64_PREFIX) return { ipv4, via: 'nat64', block: '64:ff9b::/96, RFC 6052' };
  return undefined;
}
