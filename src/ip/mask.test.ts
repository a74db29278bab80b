import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { checkPrefix, maskToPrefix, parsePrefixOrMask, prefixToMask, wildcardOf } from './mask.js';

const INVALID = expect.objectContaining({ name: 'SockitError', code: ErrorCode.INVALID_ARGUMENT });

describe('prefixToMask and wildcardOf', () => {
  it('give the netmask and its inverse', () => {
    expect(prefixToMask(4, 0)).toBe(0n);
    expect(prefixToMask(4, 24)).toBe(0xffffff00n);
    expect(prefixToMask(4, 32)).toBe(0xffffffffn);
    expect(wildcardOf(4, 24)).toBe(0xffn);
    expect(wildcardOf(4, 32)).toBe(0n);
    expect(prefixToMask(6, 64)).toBe(0xffffffffffffffffn << 64n);
    expect(wildcardOf(6, 0)).toBe((1n << 128n) - 1n);
  });

  it('refuse prefixes out of range', () => {
    expect(() => prefixToMask(4, 33)).toThrow(INVALID);
    expect(() => prefixToMask(6, 129)).toThrow(INVALID);
    expect(() => checkPrefix(4, -1)).toThrow(INVALID);
    expect(() => checkPrefix(4, 1.5)).toThrow(INVALID);
  });
});

describe('maskToPrefix', () => {
  it('counts the leading one bits of a contiguous mask', () => {
    expect(maskToPrefix(4, 0xffffff00n)).toBe(24);
    expect(maskToPrefix(4, 0xfffffe00n)).toBe(23);
    expect(maskToPrefix(4, 0n)).toBe(0);
    expect(maskToPrefix(4, 0xffffffffn)).toBe(32);
  });

  it.each([
    [0xff00ff00n, '255.0.255.0'],
    [0x00ffffffn, '0.255.255.255 (a wildcard, not a mask)'],
    [0xfffffffdn, '255.255.255.253'],
  ])('refuses the non-contiguous mask %s (%s)', (mask) => {
    expect(() => maskToPrefix(4, mask)).toThrow(INVALID);
    expect(() => maskToPrefix(4, mask)).toThrow(/not contiguous/);
  });

  it('prefixToMask and maskToPrefix are inverse (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 32 }), (p) => maskToPrefix(4, prefixToMask(4, p)) === p));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 128 }), (p) => maskToPrefix(6, prefixToMask(6, p)) === p),
    );
  });

  it('every mask that is not a prefix mask is refused (property)', () => {
    const masks = new Set(Array.from({ length: 33 }, (_, p) => prefixToMask(4, p)));
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 0xffffffffn }).filter((m) => !masks.has(m)),
        (m) => {
          expect(() => maskToPrefix(4, m)).toThrow(INVALID);
        },
      ),
    );
  });
});

describe('parsePrefixOrMask', () => {
  it('reads /N, N and dotted or IPv6 netmasks', () => {
    expect(parsePrefixOrMask(4, '/24')).toBe(24);
    expect(parsePrefixOrMask(4, '24')).toBe(24);
    expect(parsePrefixOrMask(4, '255.255.240.0')).toBe(20);
    expect(parsePrefixOrMask(4, '/255.255.255.252')).toBe(30);
    expect(parsePrefixOrMask(6, '/64')).toBe(64);
    expect(parsePrefixOrMask(6, 'ffff:ffff:ffff::')).toBe(48);
  });

  it.each([
    [4, '/33'],
    [4, '255.0.255.0'],
    [4, 'ffff::'],
    [6, '255.255.255.0'],
    [4, 'banana'],
    [4, ''],
  ] as const)('refuses IPv%s mask %j', (version, text) => {
    expect(() => parsePrefixOrMask(version, text)).toThrow(INVALID);
  });
});
