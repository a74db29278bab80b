/**
 * Human-readable text for the answers of `answerIpQuery`: the lines `sockit ip` prints.
 * For IPv4 comparisons the AND is shown bit by bit, as subnetting is taught.
 */
import { binaryIPv4, parseIPv4 } from './ipv4.js';
import { describeKind } from './kind.js';
import type { IpAnswer } from './query.js';
import type { ComparisonReport, SplitReport, SubnetReport } from './report.js';

/**
 * The text for any answer, ending in a newline.
 *
 * @example
 * ```ts
 * process.stdout.write(formatIpAnswer(answerIpQuery({ addresses: ['10.0.0.1/8'] })));
 * ```
 */
export function formatIpAnswer(answer: IpAnswer): string {
  switch (answer.form) {
    case 'subnet':
      return `${formatSubnetReport(answer.report)}\n`;
    case 'compare':
      return `${formatComparison(answer.report)}\n`;
    case 'split':
      return `${formatSplit(answer.report)}\n`;
    case 'range':
      return answer.report.map((block) => `${block}\n`).join('');
  }
}

/**
 * One `label  value` line per fact about the address and its subnet.
 *
 * @example
 * ```ts
 * formatSubnetReport(describeSubnet(parseIp('10.0.0.1'), 8));
 * // address    10.0.0.1   00001010.00000000.00000000.00000001
 * // netmask    255.0.0.0 = /8
 * // ...
 * ```
 */
export function formatSubnetReport(r: SubnetReport): string {
  const rows: [string, string][] = [['address', r.binary ? `${r.address}   ${r.binary}` : r.address]];
  if (r.expanded) rows.push(['expanded', r.expanded]);
  const e = r.embeddedIPv4;
  if (e)
    rows.push(['embedded IPv4', `${e.address} (${e.via === 'nat64' ? 'NAT64' : 'IPv4-mapped'}, ${e.block})`]);
  rows.push(['netmask', `${r.mask} = /${r.prefix}`]);
  if (r.version === 4) rows.push(['wildcard', r.wildcard]);
  rows.push(['network', r.network]);
  if (r.broadcast) rows.push(['broadcast', r.broadcast]);
  else rows.push(['range', `${r.firstAddress} - ${r.lastAddress}`]);
  rows.push(['addresses', String(r.addressCount)]);
  rows.push(['hosts', `${r.hosts.first} - ${r.hosts.last} (${r.hosts.count} usable${hostNote(r)})`]);
  if (r.class) {
    const mask = r.class.defaultMask
      ? `default mask ${r.class.defaultMask} = /${r.class.defaultPrefix}`
      : `${r.class.use}, no default mask`;
    rows.push(['class', `${r.class.name} (${mask})`]);
  }
  rows.push(['kind', describeKind(r.kind)]);
  return table(rows);
}

/**
 * Whether the two addresses share the subnet, the AND of each, then each report.
 *
 * @example
 * ```ts
 * formatComparison(compareSubnets(parseIp('10.0.0.1'), parseIp('10.0.0.2'), 24));
 * // same subnet: 10.0.0.1 and 10.0.0.2 are both on 10.0.0.0/24
 * //   00001010.00000000.00000000.00000001   10.0.0.1
 * // & 11111111.11111111.11111111.00000000   255.255.255.0
 * // = 00001010.00000000.00000000.00000000   10.0.0.0
 * // ...
 * ```
 */
export function formatComparison(c: ComparisonReport): string {
  const [a, b] = c.results;
  const names = `${a?.address} and ${b?.address}`;
  const verdict = c.sameSubnet
    ? `same subnet: ${names} are both on ${c.network}`
    : `different subnets: ${names} are on ${a?.network} and ${b?.network}`;
  const ands = c.and.map((row) => {
    if (!row.address.includes(':')) {
      const bits = (text: string): string => binaryIPv4(parseIPv4(text));
      return [
        `  ${bits(row.address)}   ${row.address}`,
        `& ${bits(row.mask)}   ${row.mask}`,
        `= ${bits(row.network)}   ${row.network}`,
      ].join('\n');
    }
    return `  ${row.address} AND ${row.mask} = ${row.network}`;
  });
  return [verdict, ...ands, ...c.results.map(formatSubnetReport)].join('\n\n');
}

/**
 * The subnets of a split, one per line, with a note when the list was cut at the limit.
 *
 * @example
 * ```ts
 * formatSplit(describeSplit(parseSubnet('10.0.0.0/24'), 25, 256));
 * ```
 */
export function formatSplit(s: SplitReport): string {
  const lines = [
    `${s.network} split into /${s.newPrefix}: ${s.count} ${String(s.count) === '1' ? 'subnet' : 'subnets'}`,
  ];
  const width = Math.max(...s.subnets.map((p) => p.network.length));
  for (const p of s.subnets) {
    lines.push(`  ${p.network.padEnd(width)}   hosts ${p.hosts.first} - ${p.hosts.last} (${p.hosts.count})`);
  }
  if (s.truncated) {
    const more = BigInt(s.count) - BigInt(s.subnets.length);
    lines.push(`  ... and ${more} more (raise --limit to list them)`);
  }
  return lines.join('\n');
}

function hostNote(r: SubnetReport): string {
  const bits = r.version === 4 ? 32 : 128;
  if (r.prefix === bits) return ': the one host';
  if (r.prefix === bits - 1)
    return r.version === 4 ? ', point-to-point, RFC 3021' : ', point-to-point, RFC 6164';
  return r.version === 4 ? `; network and broadcast excluded` : '; Subnet-Router anycast excluded';
}

function table(rows: readonly [string, string][]): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}
