/**
 * `sockit/ip`: IPv4 and IPv6 address arithmetic, pure functions on `bigint` addresses.
 * Parse and format (RFC 5952 for IPv6), masks and prefixes, subnets and their hosts
 * (RFC 3021 for /31), splits, classful classes, and special-purpose kinds (RFC 6890).
 *
 * @example
 * ```ts
 * import { describeSubnet, parseIp, parseSubnet, formatSubnet, splitSubnet } from 'sockit/ip';
 * describeSubnet(parseIp('172.16.10.1'), 24).network; // '172.16.10.0/24'
 * [...splitSubnet(parseSubnet('10.0.0.0/24'), 25)].map(formatSubnet); // ['10.0.0.0/25', '10.0.0.128/25']
 * ```
 */

export {
  addressBits,
  allOnes,
  formatIp,
  formatValue,
  type IpAddress,
  type IpVersion,
  ipAddress,
  parseIp,
} from './address.js';
export { type ClassInfo, type Ipv4Class, ipv4Class } from './classful.js';
export { type EmbeddedIPv4, type Embedding, embeddedIPv4 } from './embedded.js';
export { binaryIPv4, formatIPv4, IPV4_BITS, IPV4_MAX, parseIPv4 } from './ipv4.js';
export { expandIPv6, formatIPv6, IPV6_BITS, IPV6_MAX, parseIPv6 } from './ipv6.js';
export { type AddressKind, classifyIp, describeKind, type IpKind, mappedIPv4 } from './kind.js';
export { checkPrefix, maskToPrefix, parsePrefixOrMask, prefixToMask, wildcardOf } from './mask.js';
export { answerIpQuery, DEFAULT_SPLIT_LIMIT, type IpAnswer, type IpQuery } from './query.js';
export { parseRange, summarizeRange } from './range.js';
export {
  type AndRow,
  type ComparisonReport,
  type Count,
  compareSubnets,
  describeSplit,
  describeSubnet,
  type SplitEntry,
  type SplitReport,
  type SubnetReport,
} from './report.js';
export {
  addressCount,
  type CidrInput,
  contains,
  formatSubnet,
  type HostRange,
  lastAddress,
  parseCidr,
  parseSubnet,
  type Subnet,
  sameSubnet,
  splitSubnet,
  subnetCount,
  subnetOf,
  usableHosts,
} from './subnet.js';
export { formatComparison, formatIpAnswer, formatSplit, formatSubnetReport } from './text.js';
