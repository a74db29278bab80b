import { describe, expect, it } from 'vitest';
import { formatIp, parseIp } from './address.js';
import { embeddedIPv4 } from './embedded.js';

describe('embeddedIPv4', () => {
  it('finds the IPv4 address in the last 32 bits of a NAT64 address (RFC 6052 §2.4 example)', () => {
    const found = embeddedIPv4(parseIp('64:ff9b::c000:221'));
    expect(found?.via).toBe('nat64');
    expect(found && formatIp(found.ipv4)).toBe('192.0.2.33');
  });

  it('finds it in an IPv4-mapped address', () => {
    const found = embeddedIPv4(parseIp('::ffff:10.1.2.3'));
    expect(found?.via).toBe('ipv4-mapped');
    expect(found && formatIp(found.ipv4)).toBe('10.1.2.3');
  });

  it('finds none elsewhere', () => {
    for (const text of ['2001:db8::c000:221', '64:ff9b:1::c000:221', '::1.2.3.4', '10.0.0.1', '::1']) {
      expect(embeddedIPv4(parseIp(text))).toBeUndefined();
    }
  });
});
