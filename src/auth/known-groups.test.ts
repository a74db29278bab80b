import { describe, expect, it } from 'vitest';
import { KnownGroups } from './known-groups.js';

describe('KnownGroups', () => {
  it('knows a group for ttlMs after its log-in, then forgets it', () => {
    let now = 0;
    const known = new KnownGroups({ ttlMs: 1_000, now: () => now });
    known.add('u:ann', '192.0.2.1');
    expect(known.has('u:ann', '192.0.2.1')).toBe(true);
    expect(known.has('u:ann', '192.0.2.2')).toBe(false);
    expect(known.has('u:bob', '192.0.2.1')).toBe(false);
    now = 1_000;
    expect(known.has('u:ann', '192.0.2.1')).toBe(false);
  });

  it('keeps a few groups per account and a bounded number of accounts, the least recent going', () => {
    const known = new KnownGroups({ perAccount: 2, maxAccounts: 3 });
    for (const group of ['a', 'b', 'c']) known.add('u:ann', group);
    expect(['a', 'b', 'c'].map((g) => known.has('u:ann', g))).toEqual([false, true, true]);
    for (let i = 0; i < 10; i++) known.add(`u:user${i}`, 'a');
    expect(known.size).toBe(3);
    expect(known.has('u:ann', 'c')).toBe(false);
    expect(known.has('u:user9', 'a')).toBe(true);
  });
});
