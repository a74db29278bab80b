/**
 * Cross-check against Python's `ipaddress`, an independent implementation: a few thousand
 * random IPv4 and IPv6 prefixes go to one python3 process on stdin, and every fact it
 * prints must match ours. Python 3.11 prints IPv4-mapped addresses in hex; RFC 5952 §5
 * recommends mixed notation (as Python 3.13 does), so the script prints that form.
 */
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../test/prng.js';
import { type IpVersion, ipAddress, parseIp } from './address.js';
import { classifyIp } from './kind.js';
import { describeSubnet } from './report.js';
import { parseSubnet } from './subnet.js';

const CASES_PER_VERSION = 3000;
const SEED = Number(process.env.SOCKIT_IP_SEED ?? 20240611);

const PYTHON = `
import ipaddress as ip, json, sys
RFC1918 = [ip.ip_network(n) for n in ('10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16')]
SHARED = ip.ip_network('100.64.0.0/10')
DOC4 = [ip.ip_network(n) for n in ('192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24')]
DOC6 = [ip.ip_network(n) for n in ('2001:db8::/32', '3fff::/20')]
ULA = ip.ip_network('fc00::/7')
def text(a):
    if a.version == 6 and a.ipv4_mapped is not None:
        return '::ffff:' + str(a.ipv4_mapped)
    return a.compressed
for line in sys.stdin:
    case = json.loads(line)
    cls = ip.IPv4Network if case['v'] == 4 else ip.IPv6Network
    net = cls((int(case['value']), case['prefix']), strict=False)
    a = net.network_address.__class__(int(case['value']))
    hosts = net.hosts()
    out = {
        'address': text(a), 'exploded': a.exploded, 'compressed': a.compressed,
        'network': text(net.network_address) + '/' + str(net.prefixlen),
        'last': text(net.broadcast_address), 'mask': text(net.netmask), 'wildcard': text(net.hostmask),
        'count': str(net.num_addresses), 'firstHost': text(next(iter(hosts))),
        'loopback': a.is_loopback, 'linkLocal': a.is_link_local, 'multicast': a.is_multicast,
    }
    if net.num_addresses <= 4096:
        listed = list(net.hosts())
        out['lastHost'] = text(listed[-1])
        out['hostCount'] = str(len(listed))
    if a.version == 4:
        out.update(reserved=a.is_reserved, isGlobal=a.is_global, shared=a in SHARED,
                   rfc1918=any(a in n for n in RFC1918), documentation=any(a in n for n in DOC4))
    else:
        out.update(unspecified=a.is_unspecified, mapped=a.ipv4_mapped is not None, ula=a in ULA,
                   siteLocal=a.is_site_local, documentation=any(a in n for n in DOC6))
    print(json.dumps(out))
`;

interface Case {
  v: IpVersion;
  value: string;
  prefix: number;
}

/** Seeded, so that a failure can be replayed with SOCKIT_IP_SEED. */
const random = seededRandom;

const SPECIAL_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
]
  .concat(['192.0.0.0/24', '192.0.2.0/24', '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24'])
  .concat(['203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4', '255.255.255.255/32', '172.0.0.0/8']);
const SPECIAL_V6 = [
  '::/128',
  '::1/128',
  '::ffff:0:0/96',
  'fe80::/10',
  'fc00::/7',
  'fec0::/10',
  'ff00::/8',
].concat(['2001:db8::/32', '3fff::/20', '::/120', '64:ff9b::/96', '2000::/3']);

function makeCases(seed: number): Case[] {
  const next = random(seed);
  const bits = (n: number): bigint => {
    let v = 0n;
    for (let i = 0; i < n; i += 16) v = (v << 16n) | BigInt(Math.floor(next() * 0x10000));
    return v & ((1n << BigInt(n)) - 1n);
  };
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  const inBlock = (cidr: string, width: number): bigint => {
    const block = parseSubnet(cidr);
    return block.network | (bits(width) & ((1n << BigInt(width - block.prefix)) - 1n));
  };
  const cases: Case[] = [];
  for (let i = 0; i < CASES_PER_VERSION; i++) {
    const value = next() < 0.3 ? inBlock(pick(SPECIAL_V4), 32) : bits(32);
    cases.push({ v: 4, value: value.toString(), prefix: Math.floor(next() * 33) });
  }
  for (let i = 0; i < CASES_PER_VERSION; i++) {
    const roll = next();
    let value: bigint;
    if (roll < 0.3) value = inBlock(pick(SPECIAL_V6), 128);
    else if (roll < 0.65) {
      // Zero groups half the time, so "::" placement is exercised.
      value = 0n;
      for (let g = 0; g < 8; g++) value = (value << 16n) | (next() < 0.5 ? 0n : bits(16));
    } else value = bits(128);
    const prefix = next() < 0.5 ? Math.floor(next() * 129) : 112 + Math.floor(next() * 17);
    cases.push({ v: 6, value: value.toString(), prefix });
  }
  return cases;
}

function ours(c: Case): Record<string, unknown> {
  const address = ipAddress(c.v, BigInt(c.value));
  const r = describeSubnet(address, c.prefix);
  const kind = classifyIp(address);
  const out: Record<string, unknown> = {
    address: r.address,
    network: r.network,
    last: r.lastAddress,
    mask: r.mask,
    wildcard: r.wildcard,
    count: String(r.addressCount),
    firstHost: r.hosts.first,
    loopback: kind.kind === 'loopback',
    linkLocal: kind.kind === 'link-local',
    multicast: kind.kind === 'multicast',
    documentation: kind.kind === 'documentation',
  };
  if (c.v === 4) {
    out.reserved = kind.block === '240.0.0.0/4' || kind.block === '255.255.255.255/32';
    out.shared = kind.kind === 'shared';
    out.rfc1918 = kind.kind === 'private';
  } else {
    out.unspecified = kind.kind === 'unspecified';
    out.mapped = kind.kind === 'ipv4-mapped';
    out.ula = kind.kind === 'unique-local';
    out.siteLocal = kind.block === 'fec0::/10';
  }
  return out;
}

describe("agreement with Python's ipaddress", () => {
  const cases = makeCases(SEED);
  const input = `${cases.map((c) => JSON.stringify(c)).join('\n')}\n`;
  let theirs: Record<string, unknown>[] = [];

  beforeAll(() => {
    const output = execFileSync('python3', ['-c', PYTHON], { input, maxBuffer: 64 << 20 }).toString();
    theirs = output
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  });

  it(`answers every one of ${2 * CASES_PER_VERSION} cases (seed ${SEED})`, () => {
    expect(theirs.length).toBe(cases.length);
    expect(cases.filter((c) => c.v === 4).length).toBe(CASES_PER_VERSION);
  });

  it('formats, masks, ranges, counts and kinds agree', () => {
    const mismatches: unknown[] = [];
    cases.forEach((c, i) => {
      const py = theirs[i] ?? {};
      const mine = ours(c);
      if (py.lastHost !== undefined) {
        const r = describeSubnet(ipAddress(c.v, BigInt(c.value)), c.prefix);
        mine.lastHost = r.hosts.last;
        mine.hostCount = String(r.hosts.count);
      }
      const expected = Object.fromEntries(Object.keys(mine).map((k) => [k, py[k]]));
      if (JSON.stringify(mine) !== JSON.stringify(expected))
        mismatches.push({ case: c, mine, python: expected });
    });
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  it("parses Python's exploded and compressed text back to the same value", () => {
    const wrong = cases.filter((c, i) => {
      const py = theirs[i] ?? {};
      const value = BigInt(c.value);
      return [py.exploded, py.compressed, py.address].some((t) => parseIp(String(t)).value !== value);
    });
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  it('public IPv4 addresses are global to Python too', () => {
    const wrong = cases.filter(
      (c, i) =>
        c.v === 4 && classifyIp(ipAddress(4, BigInt(c.value))).kind === 'public' && !theirs[i]?.isGlobal,
    );
    expect(wrong.slice(0, 5)).toEqual([]);
  });
});
