import { describe, expect, it } from 'vitest';
import { addressGroup, networkGroup } from './netgroup.js';

describe('addressGroup', () => {
  it('counts IPv4 addresses one by one by default, and by a wider prefix when asked', () => {
    expect(addressGroup('203.0.113.7')).toBe('203.0.113.7');
    expect(addressGroup('203.0.113.7', { v4Prefix: 24 })).toBe('203.0.113.0/24');
    expect(addressGroup('203.0.113.200', { v4Prefix: 24 })).toBe('203.0.113.0/24');
  });

  it('groups IPv6 addresses by /64, so one host cannot take a new address per connection', () => {
    expect(addressGroup('2001:db8:1:2::7')).toBe('2001:db8:1:2::/64');
    expect(addressGroup('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressGroup('2001:db8:1:3::7')).toBe('2001:db8:1:3::/64');
    expect(addressGroup('::1', { v6Prefix: 128 })).toBe('::1');
    expect(addressGroup('fe80::1%eth0')).toBe('fe80::/64');
  });

  it('counts an IPv4-mapped IPv6 address as its IPv4 address', () => {
    expect(addressGroup('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(addressGroup('::ffff:10.1.2.3', { v4Prefix: 24 })).toBe('10.1.2.0/24');
  });

  it('keeps text that is not an address as its own group', () => {
    expect(addressGroup(undefined)).toBe('?');
    expect(addressGroup('/run/sockit.sock')).toBe('/run/sockit.sock');
  });
});

describe('networkGroup', () => {
  it('groups by the site network: IPv4 /24, IPv6 /48', () => {
    expect(networkGroup('10.1.2.3')).toBe('10.1.2.0/24');
    expect(networkGroup('::ffff:10.1.2.3')).toBe('10.1.2.0/24');
    expect(networkGroup('2001:db8:1:2::7')).toBe('2001:db8:1::/48');
    expect(networkGroup('2001:db8:1:ff00::1')).toBe(networkGroup('2001:db8:1:2::7'));
  });
});
