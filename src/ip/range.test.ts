import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { parseIp } from './address.js';
import { parseRange, summarizeRange } from './range.js';
import { formatSubnet } from './subnet.js';

const INVALID = expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT });
const blocks = (text: string): string[] => parseRange(text).map(formatSubnet);

describe('summarizeRange', () => {
  it('covers 10.0.0.3-10.0.0.17 with the four blocks netmask -c gives', () => {
    expect(blocks('10.0.0.3-10.0.0.17')).toEqual([
      '10.0.0.3/32',
      '10.0.0.4/30',
      '10.0.0.8/29',
      '10.0.0.16/31',
    ]);
  });

  it('gives one block for an aligned range, and the whole space as /0', () => {
    expect(blocks('192.168.0.0-192.168.1.255')).toEqual(['192.168.0.0/23']);
    expect(blocks('0.0.0.0-255.255.255.255')).toEqual(['0.0.0.0/0']);
    expect(blocks('::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toEqual(['::/0']);
    expect(blocks('10.0.0.5-10.0.0.5')).toEqual(['10.0.0.5/32']);
  });

  it('handles IPv6, bracketed too', () => {
    expect(blocks('[2001:db8::1]-[2001:db8::4]')).toEqual([
      '2001:db8::1/128',
      '2001:db8::2/127',
      '2001:db8::4/128',
    ]);
  });

  it('the worst case stays within 2 x bits blocks', () => {
    expect(blocks('0.0.0.1-255.255.255.254')).toHaveLength(62);
  });

  it('refuses a reversed range, mixed versions and malformed text', () => {
    expect(() => summarizeRange(parseIp('10.0.0.9'), parseIp('10.0.0.1'))).toThrow(INVALID);
    expect(() => summarizeRange(parseIp('10.0.0.1'), parseIp('::1'))).toThrow(INVALID);
    for (const bad of ['10.0.0.1-', '-10.0.0.1', '10.0.0.1-10.0.0.2-10.0.0.3', '10.0.0.0/24-10.0.1.0']) {
      expect(() => parseRange(bad)).toThrow(INVALID);
    }
  });
});
