import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { binaryIPv4, formatIPv4, IPV4_MAX, parseIPv4 } from './ipv4.js';

const INVALID = expect.objectContaining({ name: 'SockitError', code: ErrorCode.INVALID_ARGUMENT });

describe('parseIPv4', () => {
  it('reads dotted decimal, most significant octet first', () => {
    expect(parseIPv4('0.0.0.0')).toBe(0n);
    expect(parseIPv4('127.0.0.1')).toBe(0x7f000001n);
    expect(parseIPv4('192.168.1.10')).toBe(0xc0a8010an);
    expect(parseIPv4('255.255.255.255')).toBe(IPV4_MAX);
  });

  it.each([
    ['', 'empty'],
    ['1.2.3', 'three octets'],
    ['1.2.3.4.5', 'five octets'],
    ['1.2.3.256', 'octet above 255'],
    ['1.2.3.-1', 'negative'],
    ['01.2.3.4', 'leading zero (octal to inet_aton)'],
    ['1.2.3.0x4', 'hex octet'],
    ['1..3.4', 'empty octet'],
    ['1.2.3.4 ', 'trailing space'],
    ['127.1', 'inet_aton short form'],
    ['1.2.3.1000', 'four digits'],
  ])('refuses %j (%s)', (text) => {
    expect(() => parseIPv4(text)).toThrow(INVALID);
  });

  it('names the leading-zero ambiguity in its message', () => {
    expect(() => parseIPv4('010.0.0.1')).toThrow(/leading zero/);
  });
});

describe('formatIPv4', () => {
  it('writes dotted decimal', () => {
    expect(formatIPv4(0n)).toBe('0.0.0.0');
    expect(formatIPv4(0xac100a01n)).toBe('172.16.10.1');
    expect(formatIPv4(IPV4_MAX)).toBe('255.255.255.255');
  });

  it('refuses values outside 32 bits', () => {
    expect(() => formatIPv4(-1n)).toThrow(INVALID);
    expect(() => formatIPv4(IPV4_MAX + 1n)).toThrow(INVALID);
  });
});

describe('binaryIPv4', () => {
  it('writes four zero-padded binary octets', () => {
    expect(binaryIPv4(0xffffff00n)).toBe('11111111.11111111.11111111.00000000');
    expect(binaryIPv4(0xac100a01n)).toBe('10101100.00010000.00001010.00000001');
  });
});

describe('IPv4 round trips (property)', () => {
  const value = fc.bigInt({ min: 0n, max: IPV4_MAX });

  it('parse(format(v)) === v for every 32-bit value', () => {
    fc.assert(fc.property(value, (v) => parseIPv4(formatIPv4(v)) === v));
  });

  it('format(parse(text)) === text for every canonical dotted quad', () => {
    const octets = fc.tuple(...Array.from({ length: 4 }, () => fc.integer({ min: 0, max: 255 })));
    fc.assert(
      fc.property(octets, (parts) => {
        const text = parts.join('.');
        return formatIPv4(parseIPv4(text)) === text;
      }),
    );
  });

  it('binary text read back in base 2 is the value', () => {
    fc.assert(fc.property(value, (v) => BigInt(`0b${binaryIPv4(v).replaceAll('.', '')}`) === v));
  });
});
