import { describe, expect, it } from 'vitest';
import { REFLECTING_PORTS, UdpGuard } from './udp-guard.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('UdpGuard', () => {
  it('refuses the own port from any address, reflecting ports, and impossible sources', () => {
    const guard = new UdpGuard({ ownPort: 7007 });
    expect(guard.check('127.0.0.1', 7007)).toBe('self');
    expect(guard.check('203.0.113.9', 7007)).toBe('self');
    for (const port of [7, 9, 13, 17, 19, 37, 53, 69, 123, 11211])
      expect(guard.check('192.0.2.1', port)).toBe('reflector');
    expect(REFLECTING_PORTS).toEqual(expect.arrayContaining([7, 13, 17, 19, 37, 69, 123]));
    for (const address of [
      '0.0.0.0',
      '224.0.0.1',
      '239.1.1.1',
      '255.255.255.255',
      '::',
      'ff02::1',
      '::ffff:224.0.0.1',
    ]) {
      expect(guard.check(address, 40000)).toBe('source');
    }
    expect(guard.check('192.0.2.1', 0)).toBe('source');
    expect(guard.check('192.0.2.1', 40000)).toBeUndefined();
    expect(guard.check('::1', 40000)).toBeUndefined();
  });

  it('takes a custom list of refused ports instead of the default one', () => {
    const guard = new UdpGuard({ ownPort: 7, refusedPorts: [5000] });
    expect(guard.check('192.0.2.1', 5000)).toBe('reflector');
    expect(guard.check('192.0.2.1', 19)).toBeUndefined();
    expect(guard.check('192.0.2.1', 7)).toBe('self');
  });

  it('lets a source have its burst, then its rate, each source apart', () => {
    const c = clock();
    const guard = new UdpGuard({ ownPort: 7, ratePerSecond: 10, burst: 3, now: c.now });
    const results = Array.from({ length: 5 }, () => guard.check('192.0.2.1', 40000));
    expect(results).toEqual([undefined, undefined, undefined, 'rate', 'rate']);
    expect(guard.check('192.0.2.2', 40000)).toBeUndefined();
    c.advance(100); // 10/s: one token back
    expect(guard.check('192.0.2.1', 40000)).toBeUndefined();
    expect(guard.check('192.0.2.1', 40000)).toBe('rate');
    c.advance(60_000); // refills to the burst, not beyond
    const after = Array.from({ length: 4 }, () => guard.check('192.0.2.1', 40000));
    expect(after).toEqual([undefined, undefined, undefined, 'rate']);
  });

  it('a rate of 0 turns the limit off', () => {
    const guard = new UdpGuard({ ownPort: 7, ratePerSecond: 0 });
    for (let i = 0; i < 10_000; i++) expect(guard.check('192.0.2.1', 40000)).toBeUndefined();
  });

  it('keeps at most maxSources buckets; spoofed new sources share one bucket and reset nobody', () => {
    const c = clock();
    const guard = new UdpGuard({ ownPort: 7, ratePerSecond: 1, burst: 2, maxSources: 4, now: c.now });
    for (let i = 1; i <= 4; i++) {
      guard.check(`192.0.2.${i}`, 40000);
      guard.check(`192.0.2.${i}`, 40000);
    }
    expect(guard.check('192.0.2.1', 40000)).toBe('rate');
    // 1,000 spoofed sources: the table stays at 4, all of them share the overflow bucket of 2.
    const answered = Array.from({ length: 1000 }, (_, i) => guard.check(`198.51.100.${i % 250}`, 40000 + i));
    expect(answered.filter((r) => r === undefined)).toHaveLength(2);
    expect(guard.trackedSources).toBe(4);
    expect(guard.check('192.0.2.1', 40000)).toBe('rate');
    // Once the oldest entry has refilled, forgetting it is harmless: a new source takes its place.
    c.advance(10_000);
    expect(guard.check('203.0.113.1', 40000)).toBeUndefined();
    expect(guard.trackedSources).toBe(4);
  });
});
