import { describe, expect, it } from 'vitest';
import { parseIp } from './address.js';
import { answerIpQuery } from './query.js';
import { compareSubnets, describeSplit, describeSubnet } from './report.js';
import { parseSubnet } from './subnet.js';
import { formatComparison, formatIpAnswer, formatSplit, formatSubnetReport } from './text.js';

describe('formatSubnetReport', () => {
  it('lays out every IPv4 fact under aligned labels', () => {
    expect(formatSubnetReport(describeSubnet(parseIp('192.168.1.77'), 26)).split('\n')).toEqual([
      'address    192.168.1.77   11000000.10101000.00000001.01001101',
      'netmask    255.255.255.192 = /26',
      'wildcard   0.0.0.63',
      'network    192.168.1.64/26',
      'broadcast  192.168.1.127',
      'addresses  64',
      'hosts      192.168.1.65 - 192.168.1.126 (62 usable; network and broadcast excluded)',
      'class      C (default mask 255.255.255.0 = /24)',
      'kind       private (192.168.0.0/16, RFC 1918): private-use network',
    ]);
  });

  it('shows an IPv6 range instead of a broadcast, and the host of a /128', () => {
    const text = formatSubnetReport(describeSubnet(parseIp('fe80::1'), 128));
    expect(text).toContain('range      fe80::1 - fe80::1');
    expect(text).toContain('hosts      fe80::1 - fe80::1 (1 usable: the one host)');
    expect(text).not.toContain('broadcast');
    expect(text).not.toContain('class');
  });

  it('says a class D address has no default mask', () => {
    expect(formatSubnetReport(describeSubnet(parseIp('239.1.2.3'), 32))).toContain(
      'class      D (multicast, no default mask)',
    );
  });
});

describe('formatComparison', () => {
  it('writes the IPv6 AND on one line per address', () => {
    const text = formatComparison(compareSubnets(parseIp('2001:db8::1'), parseIp('2001:db8:1::1'), 48));
    expect(text.split('\n')[0]).toBe(
      'different subnets: 2001:db8::1 and 2001:db8:1::1 are on 2001:db8::/48 and 2001:db8:1::/48',
    );
    expect(text).toContain('  2001:db8:1::1 AND ffff:ffff:ffff:: = 2001:db8:1::');
  });
});

describe('formatSplit', () => {
  it('counts what the limit left out, past 2^53 for IPv6', () => {
    const text = formatSplit(describeSplit(parseSubnet('2001:db8::/32'), 96, 1));
    expect(text.split('\n')).toEqual([
      '2001:db8::/32 split into /96: 18446744073709551616 subnets',
      '  2001:db8::/96   hosts 2001:db8::1 - 2001:db8::ffff:ffff (4294967295)',
      '  ... and 18446744073709551615 more (raise --limit to list them)',
    ]);
  });

  it('is what formatIpAnswer prints for a split, with a final newline', () => {
    const answer = answerIpQuery({ addresses: ['10.0.0.0/30'], split: '/31' });
    expect(formatIpAnswer(answer)).toBe(
      '10.0.0.0/30 split into /31: 2 subnets\n' +
        '  10.0.0.0/31   hosts 10.0.0.0 - 10.0.0.1 (2)\n' +
        '  10.0.0.2/31   hosts 10.0.0.2 - 10.0.0.3 (2)\n',
    );
  });

  it('refuses a limit below 1', () => {
    expect(() => describeSplit(parseSubnet('10.0.0.0/24'), 26, 0)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });
});
