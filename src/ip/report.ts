/**
 * Everything there is to say about an address in a subnet, as plain JSON-ready objects:
 * what `sockit ip --json` prints and the text output is drawn from.
 *
 * Counts are JSON numbers for IPv4 and decimal strings for IPv6, whose counts go past
 * 2^53 and would lose digits as numbers.
 */
import { ErrorCode, SockitError } from '../errors.js';
import { formatValue, type IpAddress, type IpVersion } from './address.js';
import { ipv4Class } from './classful.js';
import { type Embedding, embeddedIPv4 } from './embedded.js';
import { binaryIPv4 } from './ipv4.js';
import { expandIPv6 } from './ipv6.js';
import { type AddressKind, classifyIp, mappedIPv4 } from './kind.js';
import { prefixToMask, wildcardOf } from './mask.js';
import {
  addressCount,
  formatSubnet,
  lastAddress,
  type Subnet,
  sameSubnet,
  splitSubnet,
  subnetCount,
  subnetOf,
  usableHosts,
} from './subnet.js';

/** A count: a number for IPv4, a decimal string for IPv6. */
export type Count = number | string;

export interface SubnetReport {
  version: IpVersion;
  /** Canonical text: dotted decimal, or RFC 5952 for IPv6. */
  address: string;
  /** IPv6: all 32 hex digits; IPv4: null. */
  expanded: string | null;
  /** IPv4: the address in binary octets; IPv6: null. */
  binary: string | null;
  prefix: number;
  mask: string;
  wildcard: string;
  /** `network/prefix`. */
  network: string;
  /** The address AND the mask. */
  networkAddress: string;
  /** IPv4: the directed broadcast (last address); IPv6 has no broadcast: null. */
  broadcast: string | null;
  firstAddress: string;
  lastAddress: string;
  addressCount: Count;
  /** Usable host addresses, with /31 and /32 per RFC 3021 (IPv6: RFC 4291, RFC 6164). */
  hosts: { first: string; last: string; count: Count };
  /** IPv4 only: the classful class and its default mask. */
  class: { name: string; defaultPrefix: number | null; defaultMask: string | null; use: string } | null;
  kind: AddressKind;
  /** IPv4-mapped IPv6 addresses: the IPv4 address inside. */
  mappedIPv4: string | null;
  /** IPv4-mapped or NAT64 (64:ff9b::/96) addresses: the IPv4 address inside, dotted, and how. */
  embeddedIPv4: { address: string; via: Embedding; block: string } | null;
}

export interface AndRow {
  address: string;
  mask: string;
  /** address AND mask. */
  network: string;
}

export interface ComparisonReport {
  sameSubnet: boolean;
  prefix: number;
  mask: string;
  /** The shared `network/prefix`, or null when they differ. */
  network: string | null;
  and: AndRow[];
  results: SubnetReport[];
}

export interface SplitEntry {
  network: string;
  firstAddress: string;
  lastAddress: string;
  hosts: { first: string; last: string; count: Count };
}

export interface SplitReport {
  network: string;
  newPrefix: number;
  /** How many subnets there are in all. */
  count: Count;
  /** True when `subnets` stops at the limit before the end. */
  truncated: boolean;
  subnets: SplitEntry[];
}

/**
 * Describes `address` in the subnet of `prefix` bits.
 *
 * @example
 * ```ts
 * const r = describeSubnet(parseIp('172.16.10.1'), 24);
 * r.network; // '172.16.10.0/24'
 * r.class?.name; // 'B'
 * r.kind.kind; // 'private'
 * ```
 */
export function describeSubnet(address: IpAddress, prefix: number): SubnetReport {
  const { version } = address;
  const subnet = subnetOf(address, prefix);
  const text = (value: bigint): string => formatValue(version, value);
  const cls = version === 4 ? ipv4Class(address.value) : undefined;
  const mapped = mappedIPv4(address);
  const embedded = embeddedIPv4(address);
  return {
    version,
    address: text(address.value),
    expanded: version === 6 ? expandIPv6(address.value) : null,
    binary: version === 4 ? binaryIPv4(address.value) : null,
    prefix,
    mask: text(prefixToMask(version, prefix)),
    wildcard: text(wildcardOf(version, prefix)),
    network: formatSubnet(subnet),
    networkAddress: text(subnet.network),
    broadcast: version === 4 ? text(lastAddress(subnet)) : null,
    firstAddress: text(subnet.network),
    lastAddress: text(lastAddress(subnet)),
    addressCount: count(version, addressCount(subnet)),
    hosts: hostsOf(subnet),
    class: cls
      ? {
          name: cls.class,
          defaultPrefix: cls.defaultPrefix ?? null,
          defaultMask: cls.defaultPrefix === undefined ? null : text(prefixToMask(4, cls.defaultPrefix)),
          use: cls.use,
        }
      : null,
    kind: classifyIp(address),
    mappedIPv4: mapped ? formatValue(4, mapped.value) : null,
    embeddedIPv4: embedded
      ? { address: formatValue(4, embedded.ipv4.value), via: embedded.via, block: embedded.block }
      : null,
  };
}

/**
 * Whether two addresses share the subnet of `prefix` bits, with the AND of each.
 *
 * @example
 * ```ts
 * compareSubnets(parseIp('172.16.10.1'), parseIp('172.16.10.2'), 24).sameSubnet; // true
 * ```
 */
export function compareSubnets(a: IpAddress, b: IpAddress, prefix: number): ComparisonReport {
  if (a.version !== b.version) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, 'compare an IPv4 address with IPv4, IPv6 with IPv6');
  }
  const results = [describeSubnet(a, prefix), describeSubnet(b, prefix)];
  const same = sameSubnet(a, b, prefix);
  return {
    sameSubnet: same,
    prefix,
    mask: formatValue(a.version, prefixToMask(a.version, prefix)),
    network: same ? (results[0]?.network ?? null) : null,
    and: results.map((r) => ({ address: r.address, mask: r.mask, network: r.networkAddress })),
    results,
  };
}

/**
 * The subnets of `newPrefix` bits inside `subnet`, at most `limit` of them.
 *
 * @example
 * ```ts
 * describeSplit(parseSubnet('192.168.0.0/24'), 26, 100).subnets.map((s) => s.network);
 * // ['192.168.0.0/26', '192.168.0.64/26', '192.168.0.128/26', '192.168.0.192/26']
 * ```
 */
export function describeSplit(subnet: Subnet, newPrefix: number, limit: number): SplitReport {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      `the split limit must be a whole number from 1, got ${limit}`,
    );
  }
  const total = subnetCount(subnet, newPrefix);
  const subnets: SplitEntry[] = [];
  for (const part of splitSubnet(subnet, newPrefix)) {
    if (subnets.length >= limit) break;
    subnets.push({
      network: formatSubnet(part),
      firstAddress: formatValue(part.version, part.network),
      lastAddress: formatValue(part.version, lastAddress(part)),
      hosts: hostsOf(part),
    });
  }
  return {
    network: formatSubnet(subnet),
    newPrefix,
    count: count(subnet.version, total),
    truncated: BigInt(subnets.length) < total,
    subnets,
  };
}

function hostsOf(subnet: Subnet): SplitEntry['hosts'] {
  const hosts = usableHosts(subnet);
  return {
    first: formatValue(subnet.version, hosts.first),
    last: formatValue(subnet.version, hosts.last),
    count: count(subnet.version, hosts.count),
  };
}

function count(version: IpVersion, n: bigint): Count {
  return version === 4 ? Number(n) : n.toString();
}
