import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { expandIPv6, formatIPv6, IPV6_MAX, parseIPv6 } from './ipv6.js';

const INVALID = expect.objectContaining({ name: 'SockitError', code: ErrorCode.INVALID_ARGUMENT });

describe('parseIPv6', () => {
  it('reads the RFC 4291 §2.2 text forms', () => {
    expect(parseIPv6('::')).toBe(0n);
    expect(parseIPv6('::1')).toBe(1n);
    expect(parseIPv6('1::')).toBe(1n << 112n);
    expect(parseIPv6('2001:DB8:0:0:8:800:200C:417A')).toBe(0x20010db80000000000080800200c417an);
    expect(parseIPv6('2001:db8::8:800:200c:417a')).toBe(0x20010db80000000000080800200c417an);
    expect(parseIPv6('1:2:3:4:5:6:7::')).toBe(0x0001000200030004000500060007_0000n);
    expect(parseIPv6('::2:3:4:5:6:7:8')).toBe(0x0000000200030004000500060007_0008n);
    expect(parseIPv6('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(IPV6_MAX);
  });

  it('reads a dotted IPv4 tail as the last 32 bits', () => {
    expect(parseIPv6('::ffff:192.0.2.1')).toBe(0xffff_c000_0201n);
    expect(parseIPv6('::13.1.68.3')).toBe(0x0d01_4403n);
    expect(parseIPv6('1:2:3:4:5:6:1.2.3.4')).toBe(0x0001_0002_0003_0004_0005_0006_0102_0304n);
  });

  it.each([
    ['', 'empty'],
    [':', 'a lone colon'],
    [':::', 'three colons'],
    ['1::2::3', 'two "::"'],
    ['1:2:3:4:5:6:7', 'seven groups, no "::"'],
    ['1:2:3:4:5:6:7:8:9', 'nine groups'],
    ['1:2:3:4::5:6:7:8', '"::" standing for no group'],
    ['12345::', 'five hex digits'],
    ['g::1', 'not hex'],
    [':1:2:3:4:5:6:7', 'leading single colon'],
    ['1:2:3:4:5:6:7:', 'trailing single colon'],
    ['fe80::1%eth0', 'zone index'],
    ['::1.2.3', 'short IPv4 tail'],
    ['::1.2.3.4:5', 'IPv4 not last'],
    ['1:2:3:4:5:6:7:1.2.3.4', 'IPv4 tail making nine groups'],
  ])('refuses %j (%s)', (text) => {
    expect(() => parseIPv6(text)).toThrow(INVALID);
  });
});

describe('formatIPv6 (RFC 5952)', () => {
  it.each([
    ['2001:0db8::0001', '2001:db8::1', '§4.1 leading zeros dropped'],
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1', '§4.2.1 longest run shortened'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1', '§4.2.2 one zero group is not shortened'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1', '§4.2.3 the longest run wins'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1', '§4.2.3 the first of equal runs wins'],
    ['2001:DB8::AB', '2001:db8::ab', '§4.3 lower case'],
    ['0:0:0:0:0:0:0:0', '::', 'all zeros'],
    ['0:0:0:0:0:0:0:1', '::1', 'loopback'],
    ['1:0:0:0:0:0:0:0', '1::', 'trailing run'],
    ['0:0:1:0:0:0:0:0', '0:0:1::', 'later longer run'],
    ['::ffff:c000:201', '::ffff:192.0.2.1', '§5 IPv4-mapped in mixed notation'],
    ['::ffff:0:0', '::ffff:0.0.0.0', '§5 the mapped prefix itself'],
    ['::1.2.3.4', '::102:304', 'the deprecated IPv4-compatible form is plain hex'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221', 'translated addresses stay hex'],
  ])('%s -> %s (%s)', (input, expected) => {
    expect(formatIPv6(parseIPv6(input))).toBe(expected);
  });

  it('refuses values outside 128 bits', () => {
    expect(() => formatIPv6(-1n)).toThrow(INVALID);
    expect(() => formatIPv6(IPV6_MAX + 1n)).toThrow(INVALID);
  });
});

describe('expandIPv6', () => {
  it('writes eight four-digit groups', () => {
    expect(expandIPv6(1n)).toBe('0000:0000:0000:0000:0000:0000:0000:0001');
    expect(expandIPv6(parseIPv6('2001:db8::ff00:42:8329'))).toBe('2001:0db8:0000:0000:0000:ff00:0042:8329');
  });
});

/** Eight groups, each zero half the time so that runs of zeros are common. */
const groupsArb = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
  minLength: 8,
  maxLength: 8,
});
const toValue = (groups: number[]): bigint => groups.reduce((v, g) => (v << 16n) | BigInt(g), 0n);

/** Any valid RFC 4291 spelling of the groups: padding, case, and which zero run is "::". */
const spellingArb = groupsArb.chain((groups) =>
  fc
    .record({
      pads: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 8, maxLength: 8 }),
      upper: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
      compress: fc.nat(),
    })
    .map(({ pads, upper, compress }) => {
      const hex = groups.map((g, i) => {
        const digits = g.toString(16);
        const padded = digits.padStart(Math.min(4, digits.length + (pads[i] ?? 0)), '0');
        return upper[i] ? padded.toUpperCase() : padded;
      });
      const runs: [number, number][] = [];
      for (let i = 0; i < 8; i++) {
        for (let j = i; j < 8 && groups[j] === 0; j++) runs.push([i, j + 1]);
      }
      const run = runs.length > 0 ? runs[compress % (runs.length + 1)] : undefined;
      const text = run ? `${hex.slice(0, run[0]).join(':')}::${hex.slice(run[1]).join(':')}` : hex.join(':');
      return { value: toValue(groups), text };
    }),
);

describe('IPv6 round trips (property)', () => {
  it('parse(format(v)) === v and parse(expand(v)) === v', () => {
    fc.assert(
      fc.property(groupsArb, (groups) => {
        const v = toValue(groups);
        return parseIPv6(formatIPv6(v)) === v && parseIPv6(expandIPv6(v)) === v;
      }),
      { numRuns: 2000 },
    );
  });

  it('every valid spelling parses to its value and formats to one canonical text', () => {
    fc.assert(
      fc.property(spellingArb, ({ value, text }) => {
        expect(parseIPv6(text)).toBe(value);
        expect(formatIPv6(parseIPv6(text))).toBe(formatIPv6(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('formatted text obeys RFC 5952 §4: lower case, no leading zeros, "::" only for 2+ groups', () => {
    fc.assert(
      fc.property(groupsArb, (groups) => {
        const text = formatIPv6(toValue(groups));
        if (text.startsWith('::ffff:') && text.includes('.')) return;
        expect(text).toBe(text.toLowerCase());
        expect(text.split('::').length).toBeLessThanOrEqual(2);
        const written = text.split(/::?/).filter((g) => g !== '');
        for (const g of written) expect(g).toMatch(/^(0|[1-9a-f][0-9a-f]{0,3})$/);
        if (text.includes('::')) expect(written.length).toBeLessThanOrEqual(6);
        else expect(text).not.toMatch(/(^|:)0:0(:|$)/);
      }),
      { numRuns: 2000 },
    );
  });
});
