/**
 * What kind of address this is: private, loopback, multicast, and so on.
 *
 * The blocks come from the IANA special-purpose registries (RFC 6890) and the RFCs that
 * assigned them; each result names its block and RFC so the answer can be checked.
 */
import { type IpAddress, ipAddress } from './address.js';
import { contains, parseSubnet, type Subnet } from './subnet.js';

export type IpKind =
  | 'private'
  | 'shared'
  | 'loopback'
  | 'link-local'
  | 'multicast'
  | 'documentation'
  | 'reserved'
  | 'public'
  | 'unspecified'
  | 'unique-local'
  | 'ipv4-mapped'
  | 'global';

export interface AddressKind {
  readonly kind: IpKind;
  /** The special-purpose block that holds the address, e.g. `172.16.0.0/12`. */
  readonly block: string | undefined;
  /** Where the block is defined, e.g. `RFC 1918`. */
  readonly rfc: string | undefined;
  readonly description: string;
}

interface Block {
  readonly subnet: Subnet;
  readonly kind: AddressKind;
}

function block(cidr: string, kind: IpKind, rfc: string, description: string): Block {
  return { subnet: parseSubnet(cidr), kind: { kind, block: cidr, rfc, description } };
}

/** Most specific first: the first block that holds the address wins. */
const IPV4_BLOCKS: readonly Block[] = [
  block('0.0.0.0/8', 'reserved', 'RFC 1122 §3.2.1.3', '"this network"; 0.0.0.0 means any address'),
  block('10.0.0.0/8', 'private', 'RFC 1918', 'private-use network'),
  block('100.64.0.0/10', 'shared', 'RFC 6598', 'shared address space for carrier-grade NAT'),
  block('127.0.0.0/8', 'loopback', 'RFC 1122 §3.2.1.3', 'loopback'),
  block('169.254.0.0/16', 'link-local', 'RFC 3927', 'link-local (APIPA, no DHCP answer)'),
  block('172.16.0.0/12', 'private', 'RFC 1918', 'private-use network'),
  block('192.0.0.0/24', 'reserved', 'RFC 6890', 'IETF protocol assignments'),
  block('192.0.2.0/24', 'documentation', 'RFC 5737', 'TEST-NET-1, for examples'),
  block('192.88.99.0/24', 'reserved', 'RFC 7526', 'former 6to4 relay anycast'),
  block('192.168.0.0/16', 'private', 'RFC 1918', 'private-use network'),
  block('198.18.0.0/15', 'reserved', 'RFC 2544', 'network benchmark tests'),
  block('198.51.100.0/24', 'documentation', 'RFC 5737', 'TEST-NET-2, for examples'),
  block('203.0.113.0/24', 'documentation', 'RFC 5737', 'TEST-NET-3, for examples'),
  block('224.0.0.0/4', 'multicast', 'RFC 5771', 'multicast (class D)'),
  block('255.255.255.255/32', 'reserved', 'RFC 919', 'limited broadcast'),
  block('240.0.0.0/4', 'reserved', 'RFC 1112 §4', 'reserved for future use (class E)'),
];

const IPV6_BLOCKS: readonly Block[] = [
  block('::/128', 'unspecified', 'RFC 4291 §2.5.2', 'the unspecified address'),
  block('::1/128', 'loopback', 'RFC 4291 §2.5.3', 'loopback'),
  block('::ffff:0:0/96', 'ipv4-mapped', 'RFC 4291 §2.5.5.2', 'IPv4-mapped IPv6 address'),
  block('64:ff9b::/96', 'global', 'RFC 6052', 'IPv4/IPv6 translation (NAT64)'),
  block('100::/64', 'reserved', 'RFC 6666', 'discard-only'),
  block('2001:db8::/32', 'documentation', 'RFC 3849', 'for examples'),
  block('3fff::/20', 'documentation', 'RFC 9637', 'for examples'),
  block('2000::/3', 'global', 'RFC 4291 §2.5.4', 'global unicast'),
  block('fc00::/7', 'unique-local', 'RFC 4193', 'unique local address (ULA)'),
  block('fe80::/10', 'link-local', 'RFC 4291 §2.5.6', 'link-local unicast'),
  block('fec0::/10', 'reserved', 'RFC 3879', 'former site-local'),
  block('ff00::/8', 'multicast', 'RFC 4291 §2.7', 'multicast'),
];

const PUBLIC_V4: AddressKind = {
  kind: 'public',
  block: undefined,
  rfc: undefined,
  description: 'globally routable',
};
const UNASSIGNED_V6: AddressKind = {
  kind: 'reserved',
  block: undefined,
  rfc: 'RFC 4291 §2.4',
  description: 'not assigned by IANA',
};

/**
 * Classifies an address by the special-purpose block that holds it.
 *
 * @example
 * ```ts
 * classifyIp(parseIp('172.16.10.1')).kind; // 'private'
 * classifyIp(parseIp('100.64.1.1')).kind; // 'shared' (carrier-grade NAT)
 * classifyIp(parseIp('fd12::1')).kind; // 'unique-local'
 * ```
 */
export function classifyIp(address: IpAddress): AddressKind {
  const blocks = address.version === 4 ? IPV4_BLOCKS : IPV6_BLOCKS;
  const found = blocks.find((b) => contains(b.subnet, address));
  if (found) return found.kind;
  return address.version === 4 ? PUBLIC_V4 : UNASSIGNED_V6;
}

/**
 * The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), or undefined.
 *
 * @example
 * ```ts
 * mappedIPv4(parseIp('::ffff:10.0.0.1')); // { version: 4, value: 0x0a000001n }
 * ```
 */
export function mappedIPv4(address: IpAddress): IpAddress | undefined {
  if (address.version !== 6 || address.value >> 32n !== 0xffffn) return undefined;
  return ipAddress(4, address.value & 0xffff_ffffn);
}

/**
 * One line, e.g. `private (172.16.0.0/12, RFC 1918): private-use network`.
 *
 * @example
 * ```ts
 * describeKind(classifyIp(parseIp('8.8.8.8'))); // 'public: globally routable'
 * ```
 */
export function describeKind(kind: AddressKind): string {
  const where = [kind.block, kind.rfc].filter((x) => x !== undefined).join(', ');
  return where === '' ? `${kind.kind}: ${kind.description}` : `${kind.kind} (${where}): ${kind.description}`;
}
