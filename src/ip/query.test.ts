import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { parseIp } from './address.js';
import { answerIpQuery, type IpQuery } from './query.js';
import { type ComparisonReport, compareSubnets, type SplitReport, type SubnetReport } from './report.js';

const INVALID = expect.objectContaining({ name: 'SockitError', code: ErrorCode.INVALID_ARGUMENT });

function subnet(query: IpQuery): SubnetReport {
  const answer = answerIpQuery(query);
  if (answer.form !== 'subnet') throw new Error(`expected a subnet answer, got ${answer.form}`);
  return answer.report;
}

function compare(query: IpQuery): ComparisonReport {
  const answer = answerIpQuery(query);
  if (answer.form !== 'compare') throw new Error(`expected a comparison, got ${answer.form}`);
  return answer.report;
}

function split(query: IpQuery): SplitReport {
  const answer = answerIpQuery(query);
  if (answer.form !== 'split') throw new Error(`expected a split, got ${answer.form}`);
  return answer.report;
}

describe('answerIpQuery: one address', () => {
  it('describes 192.168.1.77/26 in full', () => {
    const r = subnet({ addresses: ['192.168.1.77/26'] });
    expect(r).toMatchObject({
      version: 4,
      address: '192.168.1.77',
      binary: '11000000.10101000.00000001.01001101',
      expanded: null,
      prefix: 26,
      mask: '255.255.255.192',
      wildcard: '0.0.0.63',
      network: '192.168.1.64/26',
      networkAddress: '192.168.1.64',
      broadcast: '192.168.1.127',
      addressCount: 64,
      hosts: { first: '192.168.1.65', last: '192.168.1.126', count: 62 },
      class: { name: 'C', defaultPrefix: 24, defaultMask: '255.255.255.0', use: 'unicast' },
      kind: { kind: 'private', block: '192.168.0.0/16', rfc: 'RFC 1918' },
      mappedIPv4: null,
    });
  });

  it('derives the prefix from --mask, and a bare address is a /32', () => {
    expect(subnet({ addresses: ['10.1.2.3'], mask: '255.255.0.0' }).network).toBe('10.1.0.0/16');
    expect(subnet({ addresses: ['10.1.2.3'] }).network).toBe('10.1.2.3/32');
  });

  it('describes IPv6 with expanded form, range and counts as strings', () => {
    const r = subnet({ addresses: ['2001:DB8:0:0::1/64'] });
    expect(r).toMatchObject({
      version: 6,
      address: '2001:db8::1',
      expanded: '2001:0db8:0000:0000:0000:0000:0000:0001',
      binary: null,
      mask: 'ffff:ffff:ffff:ffff::',
      network: '2001:db8::/64',
      broadcast: null,
      firstAddress: '2001:db8::',
      lastAddress: '2001:db8::ffff:ffff:ffff:ffff',
      addressCount: '18446744073709551616',
      hosts: { first: '2001:db8::1', count: '18446744073709551615' },
      class: null,
      kind: { kind: 'documentation' },
    });
    expect(subnet({ addresses: ['::ffff:10.0.0.1'] }).mappedIPv4).toBe('10.0.0.1');
  });
});

describe('answerIpQuery: two addresses', () => {
  it('172.16.10.1 and 172.16.10.2 under 255.255.255.0 share 172.16.10.0/24 (acceptance)', () => {
    const r = compare({ addresses: ['172.16.10.1', '172.16.10.2'], mask: '255.255.255.0' });
    expect(r.sameSubnet).toBe(true);
    expect(r.network).toBe('172.16.10.0/24');
    expect(r.and).toEqual([
      { address: '172.16.10.1', mask: '255.255.255.0', network: '172.16.10.0' },
      { address: '172.16.10.2', mask: '255.255.255.0', network: '172.16.10.0' },
    ]);
    for (const one of r.results) {
      expect(one.network).toBe('172.16.10.0/24');
      expect(one.class?.name).toBe('B');
      expect(one.kind.kind).toBe('private');
    }
  });

  it('reports different subnets, taking the prefix from ADDR/PREFIX', () => {
    const r = compare({ addresses: ['10.0.0.1/25', '10.0.0.200'] });
    expect(r.sameSubnet).toBe(false);
    expect(r.network).toBeNull();
    expect(r.and.map((row) => row.network)).toEqual(['10.0.0.0', '10.0.0.128']);
  });

  it('refuses mixed versions, a missing mask and disagreeing prefixes', () => {
    expect(() => answerIpQuery({ addresses: ['10.0.0.1', '::1'], mask: '/8' })).toThrow(INVALID);
    expect(() => answerIpQuery({ addresses: ['10.0.0.1', '10.0.0.2'] })).toThrow(INVALID);
    expect(() => answerIpQuery({ addresses: ['10.0.0.1/24', '10.0.0.2/25'] })).toThrow(/disagree/);
    expect(() => answerIpQuery({ addresses: ['10.0.0.1/24'], mask: '255.255.0.0' })).toThrow(INVALID);
    expect(() => answerIpQuery({ addresses: ['1.1.1.1', '2.2.2.2', '3.3.3.3'], mask: '/8' })).toThrow(
      INVALID,
    );
    expect(() => answerIpQuery({ addresses: [] })).toThrow(INVALID);
  });

  it('names a non-contiguous mask', () => {
    expect(() => answerIpQuery({ addresses: ['10.0.0.1', '10.0.0.2'], mask: '255.0.255.0' })).toThrow(
      /not contiguous/,
    );
  });
});

describe('answerIpQuery: split', () => {
  it('lists the subnets with their hosts', () => {
    const r = split({ addresses: ['192.168.0.0/24'], split: '/26' });
    expect(r.count).toBe(4);
    expect(r.truncated).toBe(false);
    expect(r.subnets.map((s) => s.network)).toEqual([
      '192.168.0.0/26',
      '192.168.0.64/26',
      '192.168.0.128/26',
      '192.168.0.192/26',
    ]);
    expect(r.subnets[1]).toEqual({
      network: '192.168.0.64/26',
      firstAddress: '192.168.0.64',
      lastAddress: '192.168.0.127',
      hosts: { first: '192.168.0.65', last: '192.168.0.126', count: 62 },
    });
  });

  it('stops at the limit and says so', () => {
    const r = split({ addresses: ['10.0.0.0/8'], split: '30', limit: 3 });
    expect(r.count).toBe(4194304);
    expect(r.truncated).toBe(true);
    expect(r.subnets.map((s) => s.network)).toEqual(['10.0.0.0/30', '10.0.0.4/30', '10.0.0.8/30']);
  });

  it('refuses a split without a prefix, of two addresses, or to a shorter prefix', () => {
    expect(() => answerIpQuery({ addresses: ['10.0.0.0'], split: '/26' })).toThrow(INVALID);
    expect(() => answerIpQuery({ addresses: ['10.0.0.0/24', '10.0.0.1'], split: '/26' })).toThrow(INVALID);
    expect(() => answerIpQuery({ addresses: ['10.0.0.0/24'], split: '/16' })).toThrow(INVALID);
  });
});

describe('compareSubnets', () => {
  it('refuses to compare IPv4 with IPv6', () => {
    expect(() => compareSubnets(parseIp('10.0.0.1'), parseIp('::1'), 8)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });
});
