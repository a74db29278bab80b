import { describe, expect, it } from 'vitest';
import { MAX_PATH_LENGTH, Request } from './protocol.js';

describe('file service requests', () => {
  it('bounds a path in bytes of UTF-8, not in UTF-16 units', () => {
    expect(Request.safeParse({ op: 'stat', path: 'a'.repeat(MAX_PATH_LENGTH) }).success).toBe(true);
    // 1,024 emoji: 2,048 UTF-16 units, 4,096 bytes: just at the limit; one more is over.
    expect(Request.safeParse({ op: 'stat', path: '😀'.repeat(1024) }).success).toBe(true);
    expect(Request.safeParse({ op: 'stat', path: '😀'.repeat(1025) }).success).toBe(false);
    expect(Request.safeParse({ op: 'list', path: 'é'.repeat(MAX_PATH_LENGTH / 2 + 1) }).success).toBe(false);
  });

  it('refuses sizes and offsets that are not whole, safe, non-negative numbers', () => {
    const put = (size: unknown) => Request.safeParse({ op: 'put', path: 'a', size }).success;
    expect(put(0)).toBe(true);
    expect(put(Number.MAX_SAFE_INTEGER)).toBe(true);
    for (const bad of [-1, 1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, '5', null])
      expect(put(bad)).toBe(false);
  });
});
