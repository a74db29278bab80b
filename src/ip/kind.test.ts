import { describe, expect, it } from 'vitest';
import { formatIp, parseIp } from './address.js';
import { classifyIp, describeKind, mappedIPv4 } from './kind.js';

const kindOf = (text: string): string => classifyIp(parseIp(text)).kind;

describe('classifyIp (IPv4)', () => {
  it.each([
    ['10.0.0.1', 'private'],
    ['172.16.10.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.0', 'public'],
    ['192.168.0.1', 'private'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.10.20', 'link-local'],
    ['224.0.0.251', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.255', 'shared'],
    ['100.128.0.0', 'public'],
    ['192.0.2.1', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['0.0.0.0', 'reserved'],
    ['192.0.0.9', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
  ])('%s is %s', (address, kind) => {
    expect(kindOf(address)).toBe(kind);
  });

  it('names the block and RFC', () => {
    expect(classifyIp(parseIp('172.16.10.1'))).toMatchObject({ block: '172.16.0.0/12', rfc: 'RFC 1918' });
    expect(classifyIp(parseIp('255.255.255.255')).description).toBe('limited broadcast');
    expect(describeKind(classifyIp(parseIp('100.64.1.1')))).toBe(
      'shared (100.64.0.0/10, RFC 6598): shared address space for carrier-grade NAT',
    );
    expect(describeKind(classifyIp(parseIp('8.8.8.8')))).toBe('public: globally routable');
  });
});

describe('classifyIp (IPv6)', () => {
  it.each([
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['::ffff:10.0.0.1', 'ipv4-mapped'],
    ['fe80::1', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456:789a::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['2606:4700::1111', 'global'],
    ['64:ff9b::8.8.8.8', 'global'],
    ['fec0::1', 'reserved'],
    ['100::1', 'reserved'],
    ['::2', 'reserved'],
    ['4000::1', 'reserved'],
  ])('%s is %s', (address, kind) => {
    expect(kindOf(address)).toBe(kind);
  });
});

describe('mappedIPv4', () => {
  it('extracts the IPv4 address of ::ffff:a.b.c.d only', () => {
    const inner = mappedIPv4(parseIp('::ffff:192.168.1.1'));
    expect(inner && formatIp(inner)).toBe('192.168.1.1');
    expect(mappedIPv4(parseIp('::1.2.3.4'))).toBeUndefined();
    expect(mappedIPv4(parseIp('10.0.0.1'))).toBeUndefined();
  });
});
