import { describe, expect, it } from 'vitest';
import { byteRanges } from './ranges.js';

describe('byteRanges (RFC 9110 14)', () => {
  it('resolves first-last, open-ended and suffix ranges against the size', () => {
    expect(byteRanges('bytes=0-99', 1000)).toEqual([{ start: 0, end: 99 }]);
    expect(byteRanges('bytes=900-', 1000)).toEqual([{ start: 900, end: 999 }]);
    expect(byteRanges('bytes=500-5000', 1000)).toEqual([{ start: 500, end: 999 }]);
    expect(byteRanges('bytes=-10', 1000)).toEqual([{ start: 990, end: 999 }]);
    expect(byteRanges('Bytes = 0-0', 10)).toEqual([{ start: 0, end: 0 }]);
  });

  it('takes a suffix longer than the representation as the whole of it', () => {
    expect(byteRanges('bytes=-999999', 12)).toEqual([{ start: 0, end: 11 }]);
  });

  it('ignores what is malformed, of another unit, or has last before first', () => {
    for (const header of [
      'bytes=5-2',
      'bytes=abc',
      'bytes=-',
      'items=0-1',
      'bytes',
      'bytes=1-2-3',
      'bytes=0x1-2',
    ]) {
      expect(byteRanges(header, 1000), header).toBeUndefined();
    }
  });

  it('says unsatisfiable when no range starts inside, and skips the ones that do not', () => {
    expect(byteRanges('bytes=1000-', 1000)).toBe('unsatisfiable');
    expect(byteRanges('bytes=-0', 1000)).toBe('unsatisfiable');
    expect(byteRanges('bytes=2000-3000,0-1', 1000)).toEqual([{ start: 0, end: 1 }]);
  });

  it('combines overlapping and adjacent ranges, in order, and ignores more than the most allowed', () => {
    expect(byteRanges('bytes=10-20,0-5,6-9,15-30', 1000)).toEqual([{ start: 0, end: 30 }]);
    expect(byteRanges('bytes=0-0,2-', 10)).toEqual([
      { start: 0, end: 0 },
      { start: 2, end: 9 },
    ]);
    const many = `bytes=${Array.from({ length: 65 }, (_, i) => `${i * 10}-${i * 10}`).join(',')}`;
    expect(byteRanges(many, 10_000)).toBeUndefined();
    expect(byteRanges(many, 10_000, 100)).toHaveLength(65);
  });

  it('handles huge positions without losing precision', () => {
    expect(byteRanges('bytes=0-0,2147483648-', 3 * 2 ** 30)).toEqual([
      { start: 0, end: 0 },
      { start: 2 ** 31, end: 3 * 2 ** 30 - 1 },
    ]);
    expect(byteRanges('bytes=99999999999999999999-', 10)).toBeUndefined();
  });
});
