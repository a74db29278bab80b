/**
 * Range to CIDR against Python's `ipaddress.summarize_address_range`: random IPv4 and IPv6
 * ranges, short and long, go to one python3 process, and every block list must match ours.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../test/prng.js';
import { formatValue, type IpVersion, ipAddress } from './address.js';
import { summarizeRange } from './range.js';
import { formatSubnet, parseSubnet } from './subnet.js';

const CASES_PER_VERSION = 1000;
const SEED = Number(process.env.SOCKIT_IP_SEED ?? 20240611);

const PYTHON = `
import ipaddress as ip, json, sys
for line in sys.stdin:
    v, a, b = json.loads(line)
    cls = ip.IPv4Address if v == 4 else ip.IPv6Address
    print(json.dumps([n.compressed for n in ip.summarize_address_range(cls(int(a)), cls(int(b)))]))
`;

describe("range to CIDR agrees with Python's summarize_address_range", () => {
  it(`for ${2 * CASES_PER_VERSION} random ranges (seed ${SEED})`, () => {
    const next = seededRandom(SEED);
    const bits = (n: number): bigint => {
      let v = 0n;
      for (let i = 0; i < n; i += 16) v = (v << 16n) | BigInt(Math.floor(next() * 0x10000));
      return v & ((1n << BigInt(n)) - 1n);
    };
    const cases: [IpVersion, bigint, bigint][] = [];
    for (const v of [4, 6] as const) {
      const width = v === 4 ? 32 : 128;
      for (let i = 0; i < CASES_PER_VERSION; i++) {
        const a = bits(width);
        // Half short ranges (a span of up to 2^16), half anywhere up to the end of the space.
        const b = next() < 0.5 ? a + bits(Math.ceil(next() * 16)) : bits(width);
        const max = (1n << BigInt(width)) - 1n;
        const [lo, hi] = a <= b ? [a, b > max ? max : b] : [b, a];
        cases.push([v, lo, hi]);
      }
    }
    const input = `${cases.map(([v, a, b]) => JSON.stringify([v, a.toString(), b.toString()])).join('\n')}\n`;
    const output = execFileSync('python3', ['-c', PYTHON], { input, maxBuffer: 64 << 20 }).toString();
    const theirs = output
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as string[]);
    expect(theirs).toHaveLength(cases.length);
    const mismatches = cases.flatMap(([v, a, b], i) => {
      const mine = summarizeRange(ipAddress(v, a), ipAddress(v, b)).map(formatSubnet);
      // Python 3.11 prints IPv4-mapped networks in hex; compare by value through our formatter.
      const python = (theirs[i] ?? []).map((n) => formatSubnet(parseSubnet(n)));
      return JSON.stringify(mine) === JSON.stringify(python)
        ? []
        : [{ first: formatValue(v, a), last: formatValue(v, b), mine, python }];
    });
    expect(mismatches.slice(0, 5)).toEqual([]);
  });
});
