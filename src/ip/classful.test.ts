import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { ipv4Class } from './classful.js';
import { parseIPv4 } from './ipv4.js';

describe('ipv4Class', () => {
  it.each([
    ['0.0.0.0', 'A', 8],
    ['10.1.2.3', 'A', 8],
    ['127.255.255.255', 'A', 8],
    ['128.0.0.0', 'B', 16],
    ['172.16.10.1', 'B', 16],
    ['191.255.255.255', 'B', 16],
    ['192.0.0.0', 'C', 24],
    ['223.255.255.255', 'C', 24],
    ['224.0.0.0', 'D', undefined],
    ['239.255.255.255', 'D', undefined],
    ['240.0.0.0', 'E', undefined],
    ['255.255.255.255', 'E', undefined],
  ])('%s is class %s with default prefix %s', (address, cls, prefix) => {
    const info = ipv4Class(parseIPv4(address));
    expect(info.class).toBe(cls);
    expect(info.defaultPrefix).toBe(prefix);
  });

  it('every class range starts with its leading bits', () => {
    for (const first of [0, 128, 192, 224, 240]) {
      const info = ipv4Class(BigInt(first) << 24n);
      expect(first.toString(2).padStart(8, '0').startsWith(info.leadingBits)).toBe(true);
      expect(info.range[0]).toBe(`${first}.0.0.0`);
    }
  });

  it('refuses values outside 32 bits', () => {
    expect(() => ipv4Class(1n << 32n)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });
});
