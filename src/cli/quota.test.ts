import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { describeQuota, parseServerQuota, parseUserQuota } from './quota.js';

describe('quotas on the command line', () => {
  it('reads a server quota as a size or unlimited; 0 is a size, not "no limit"', () => {
    expect(parseServerQuota('10G')).toBe(10 * 1024 ** 3);
    expect(parseServerQuota('0')).toBe(0);
    expect(parseServerQuota('unlimited')).toBe('unlimited');
    expect(parseServerQuota('None')).toBe('unlimited');
    expect(() => parseServerQuota('lots')).toThrow(InvalidArgumentError);
  });

  it("reads a user's quota as a size, unlimited or default, and refuses the ambiguous 'none'", () => {
    expect(parseUserQuota('500MiB')).toBe(500 * 1024 ** 2);
    expect(parseUserQuota('0')).toBe(0);
    expect(parseUserQuota('unlimited')).toBe('unlimited');
    expect(parseUserQuota('default')).toBeNull();
    expect(() => parseUserQuota('none')).toThrow(InvalidArgumentError);
  });

  it('says what applies', () => {
    expect(describeQuota(0)).toBe('0 B (nothing may be stored)');
    expect(describeQuota('unlimited')).toBe('unlimited');
    expect(describeQuota(null)).toBe("the server's default");
    expect(describeQuota(1024 ** 3)).toBe('1.0 GiB');
  });
});
