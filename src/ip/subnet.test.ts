import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { formatValue, type IpAddress, parseIp } from './address.js';
import {
  addressCount,
  contains,
  formatSubnet,
  lastAddress,
  parseCidr,
  parseSubnet,
  sameSubnet,
  splitSubnet,
  subnetCount,
  subnetOf,
  usableHosts,
} from './subnet.js';

const INVALID = expect.objectContaining({ name: 'SockitError', code: ErrorCode.INVALID_ARGUMENT });

function hosts(cidr: string): [string, string, bigint] {
  const subnet = parseSubnet(cidr);
  const h = usableHosts(subnet);
  return [formatValue(subnet.version, h.first), formatValue(subnet.version, h.last), h.count];
}

describe('parseCidr and parseSubnet', () => {
  it('read ADDR, ADDR/PREFIX and ADDR/NETMASK', () => {
    expect(parseCidr('10.1.2.3')).toEqual({ address: parseIp('10.1.2.3'), prefix: undefined });
    expect(parseCidr('10.1.2.3/8').prefix).toBe(8);
    expect(parseCidr('10.1.2.3/255.255.0.0').prefix).toBe(16);
    expect(parseCidr('2001:db8::1/48').prefix).toBe(48);
  });

  it('clear host bits, as ip_network(strict=False) does', () => {
    expect(formatSubnet(parseSubnet('192.168.1.77/26'))).toBe('192.168.1.64/26');
    expect(formatSubnet(parseSubnet('2001:db8:1:2::1/32'))).toBe('2001:db8::/32');
    expect(formatSubnet(parseSubnet('10.0.0.1'))).toBe('10.0.0.1/32');
    expect(formatSubnet(parseSubnet('::1'))).toBe('::1/128');
  });

  it.each(['10.0.0.0/', '10.0.0.0/33', '10.0.0.0/8/8', '10.0.0.0/255.0.255.0', '::/129', '/8'])(
    'refuses %j',
    (text) => {
      expect(() => parseCidr(text)).toThrow(INVALID);
    },
  );
});

describe('subnet ranges', () => {
  it('give network, last address and count', () => {
    const s = parseSubnet('172.16.10.1/24');
    expect(formatValue(4, s.network)).toBe('172.16.10.0');
    expect(formatValue(4, lastAddress(s))).toBe('172.16.10.255');
    expect(addressCount(s)).toBe(256n);
    expect(addressCount(parseSubnet('::/0'))).toBe(1n << 128n);
  });

  it('usable hosts exclude network and broadcast in IPv4', () => {
    expect(hosts('192.168.1.0/24')).toEqual(['192.168.1.1', '192.168.1.254', 254n]);
    expect(hosts('10.0.0.0/30')).toEqual(['10.0.0.1', '10.0.0.2', 2n]);
    expect(hosts('0.0.0.0/0')).toEqual(['0.0.0.1', '255.255.255.254', 4294967294n]);
  });

  it('a /31 has two usable addresses (RFC 3021) and a /32 has one', () => {
    expect(hosts('10.0.0.0/31')).toEqual(['10.0.0.0', '10.0.0.1', 2n]);
    expect(hosts('10.0.0.5/32')).toEqual(['10.0.0.5', '10.0.0.5', 1n]);
  });

  it('IPv6 hosts skip only the Subnet-Router anycast address; /127 and /128 keep all', () => {
    expect(hosts('2001:db8::/126')).toEqual(['2001:db8::1', '2001:db8::3', 3n]);
    expect(hosts('2001:db8::/127')).toEqual(['2001:db8::', '2001:db8::1', 2n]);
    expect(hosts('2001:db8::7/128')).toEqual(['2001:db8::7', '2001:db8::7', 1n]);
  });
});

describe('contains and sameSubnet', () => {
  it('compare the AND of each address with the mask', () => {
    const a = parseIp('172.16.10.1');
    const b = parseIp('172.16.10.2');
    const c = parseIp('172.16.11.1');
    expect(sameSubnet(a, b, 24)).toBe(true);
    expect(sameSubnet(a, c, 24)).toBe(false);
    expect(sameSubnet(a, c, 23)).toBe(true);
    expect(sameSubnet(a, parseIp('::ffff:172.16.10.1'), 0)).toBe(false);
    expect(contains(parseSubnet('10.0.0.0/8'), parseIp('10.255.0.1'))).toBe(true);
    expect(contains(parseSubnet('10.0.0.0/8'), parseIp('11.0.0.0'))).toBe(false);
    expect(contains(parseSubnet('::/0'), parseIp('10.0.0.1'))).toBe(false);
  });
});

describe('splitSubnet', () => {
  it('lists the subnets in order', () => {
    const parts = [...splitSubnet(parseSubnet('192.168.0.0/24'), 26)].map(formatSubnet);
    expect(parts).toEqual(['192.168.0.0/26', '192.168.0.64/26', '192.168.0.128/26', '192.168.0.192/26']);
    expect([...splitSubnet(parseSubnet('2001:db8::/32'), 34)].map(formatSubnet)).toEqual([
      '2001:db8::/34',
      '2001:db8:4000::/34',
      '2001:db8:8000::/34',
      '2001:db8:c000::/34',
    ]);
  });

  it('is lazy: a /8 into /30s yields its first subnet at once', () => {
    const parts = splitSubnet(parseSubnet('10.0.0.0/8'), 30);
    expect(subnetCount(parseSubnet('10.0.0.0/8'), 30)).toBe(4194304n);
    const first = parts.next();
    expect(first.done).toBe(false);
    expect(formatSubnet(first.value)).toBe('10.0.0.0/30');
  });

  it('refuses a shorter or out-of-range prefix', () => {
    expect(() => [...splitSubnet(parseSubnet('10.0.0.0/24'), 23)]).toThrow(INVALID);
    expect(() => subnetCount(parseSubnet('10.0.0.0/24'), 33)).toThrow(INVALID);
  });

  it('the parts tile the parent exactly (property)', () => {
    const arb = fc
      .record({ value: fc.bigInt({ min: 0n, max: 0xffffffffn }), prefix: fc.integer({ min: 0, max: 32 }) })
      .chain(({ value, prefix }) =>
        fc.record({
          address: fc.constant<IpAddress>({ version: 4, value }),
          prefix: fc.constant(prefix),
          extra: fc.integer({ min: 0, max: Math.min(6, 32 - prefix) }),
        }),
      );
    fc.assert(
      fc.property(arb, ({ address, prefix, extra }) => {
        const parent = subnetOf(address, prefix);
        const parts = [...splitSubnet(parent, prefix + extra)];
        expect(parts.length).toBe(2 ** extra);
        let next = parent.network;
        for (const part of parts) {
          expect(part.network).toBe(next);
          next = lastAddress(part) + 1n;
        }
        expect(next).toBe(lastAddress(parent) + 1n);
      }),
    );
  });
});
