/**
 * The three questions `sockit ip` answers, from the arguments as typed:
 * one address (`ADDR[/PREFIX]`), two addresses compared under one mask, or a split.
 */
import { ErrorCode, SockitError } from '../errors.js';
import { addressBits, type IpAddress } from './address.js';
import { parsePrefixOrMask } from './mask.js';
import { parseRange } from './range.js';
import {
  type ComparisonReport,
  compareSubnets,
  describeSplit,
  describeSubnet,
  type SplitReport,
  type SubnetReport,
} from './report.js';
import { formatSubnet, parseCidr, subnetOf } from './subnet.js';

/** Default for `limit`: how many subnets a split lists. */
export const DEFAULT_SPLIT_LIMIT = 256;

export interface IpQuery {
  /** One or two addresses, each optionally with `/PREFIX` or `/NETMASK`. */
  addresses: readonly string[];
  /** A netmask (`255.255.255.0`) or prefix (`/24`, `24`) for all the addresses. */
  mask?: string | undefined;
  /** Split the subnet into subnets of this prefix (`/26`, `26` or a netmask). */
  split?: string | undefined;
  /** Most subnets a split lists; default 256. */
  limit?: number | undefined;
}

export type IpAnswer =
  | { form: 'subnet'; report: SubnetReport }
  | { form: 'compare'; report: ComparisonReport }
  | { form: 'split'; report: SplitReport }
  /** `FIRST-LAST`: the fewest `network/prefix` blocks covering exactly that range. */
  | { form: 'range'; report: string[] };

/**
 * Answers a query; throws `ERR_INVALID_ARGUMENT` for input that does not add up.
 *
 * @example
 * ```ts
 * const answer = answerIpQuery({ addresses: ['172.16.10.1', '172.16.10.2'], mask: '255.255.255.0' });
 * if (answer.form === 'compare') answer.report.sameSubnet; // true
 * ```
 */
export function answerIpQuery(query: IpQuery): IpAnswer {
  const count = query.addresses.length;
  if (count < 1 || count > 2) throw invalid(`give one or two addresses, not ${count}`);
  if (query.addresses.some((text) => text.includes('-'))) {
    if (count !== 1 || query.mask !== undefined || query.split !== undefined) {
      throw invalid('a range FIRST-LAST comes alone, without a second address, --mask or --split');
    }
    return { form: 'range', report: parseRange(query.addresses[0] as string).map(formatSubnet) };
  }
  const inputs = query.addresses.map((text) => parseCidr(text));
  const [first, second] = inputs;
  if (first === undefined) throw invalid('give an address');
  const { version } = first.address;
  if (second !== undefined && second.address.version !== version) {
    throw invalid('the two addresses must both be IPv4 or both IPv6');
  }
  const prefix = agreedPrefix(version, query.mask, inputs);

  if (query.split !== undefined) {
    if (second !== undefined) throw invalid('--split takes one ADDRESS/PREFIX, not two addresses');
    if (prefix === undefined)
      throw invalid('--split needs the prefix to split, e.g. 10.0.0.0/24 --split /26');
    const newPrefix = parsePrefixOrMask(version, query.split);
    const limit = query.limit ?? DEFAULT_SPLIT_LIMIT;
    return { form: 'split', report: describeSplit(subnetOf(first.address, prefix), newPrefix, limit) };
  }
  if (second !== undefined) {
    if (prefix === undefined) {
      throw invalid('comparing two addresses needs a mask: --mask 255.255.255.0 or ADDRESS/24');
    }
    return { form: 'compare', report: compareSubnets(first.address, second.address, prefix) };
  }
  // A bare address is the host itself: /32 or /128, as Python's ip_network reads it.
  return { form: 'subnet', report: describeSubnet(first.address, prefix ?? addressBits(version)) };
}

/** The one prefix given by --mask and any `/PREFIX`; they must not contradict each other. */
function agreedPrefix(
  version: IpAddress['version'],
  mask: string | undefined,
  inputs: readonly { prefix: number | undefined }[],
): number | undefined {
  const given = inputs.map((i) => i.prefix);
  if (mask !== undefined) given.unshift(parsePrefixOrMask(version, mask));
  const distinct = [...new Set(given.filter((p) => p !== undefined))];
  if (distinct.length > 1) {
    throw invalid(`the prefixes disagree (${distinct.map((p) => `/${p}`).join(' vs ')}); give one mask`);
  }
  return distinct[0];
}

function invalid(message: string): SockitError {
  return new SockitError(ErrorCode.INVALID_ARGUMENT, `ip: ${message}`);
}
