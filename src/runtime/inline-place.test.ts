import { describe, expect, it } from 'vitest';
import { InlinePlace } from './inline-place.js';

/** An InlinePlace on fake clocks: each run() takes `us()` µs; `ms` is the wall clock for retries. */
function place(us: () => number, retryMs?: number) {
  let ns = 0n;
  const clock = { ms: 0 };
  const p = new InlinePlace(
    { slowUs: 200, slowRun: 3, meanLimitUs: 150, retryMs },
    () => ns,
    () => clock.ms,
  );
  /** One call, made inline if the place says so: true when it was. */
  const call = (): boolean => {
    if (!p.inline) return false;
    p.run(() => {
      ns += BigInt(Math.round(us() * 1000));
    });
    return true;
  };
  return { p, call, clock };
}

describe('InlinePlace', () => {
  it('keeps fast calls inline, and rare slow ones too', () => {
    let n = 0;
    const { p, call } = place(() => (++n % 100 === 0 ? 5000 : 15));
    for (let i = 0; i < 1000; i++) expect(call()).toBe(true);
    expect(p.pooled).toBe(false);
  });

  it('without retryMs, goes to the pool for good after slowRun slow calls in a row', () => {
    let slow = true;
    const { p, call, clock } = place(() => (slow ? 300 : 15));
    expect([call(), call(), call(), call()]).toEqual([true, true, true, false]);
    slow = false;
    clock.ms += 1e9;
    expect(call()).toBe(false);
    expect(p.pooled).toBe(true);
  });

  it('with retryMs, tries inline again after it, then after twice as long, up to 64 times', () => {
    let slow = true;
    const { p, call, clock } = place(() => (slow ? 300 : 15), 1000);
    const slowRun = () => [call(), call(), call()];
    expect(slowRun()).toEqual([true, true, true]);
    expect(p.pooled).toBe(true);
    clock.ms += 999;
    expect(call()).toBe(false);
    clock.ms += 1;
    // Inline again on a fresh record; still slow: back to the pool for 2 s.
    expect(slowRun()).toEqual([true, true, true]);
    clock.ms += 1999;
    expect(call()).toBe(false);
    clock.ms += 1;
    expect(slowRun()).toEqual([true, true, true]);
    // 4 s, 8 s ... and no more than 64 s.
    for (const wait of [4000, 8000, 16_000, 32_000, 64_000, 64_000]) {
      clock.ms += wait - 1;
      expect(call()).toBe(false);
      clock.ms += 1;
      expect(slowRun()).toEqual([true, true, true]);
    }
    // Fast by now (the file is cached): inline from the next try on.
    slow = false;
    clock.ms += 64_000;
    for (let i = 0; i < 100; i++) expect(call()).toBe(true);
    expect(p.pooled).toBe(false);
  });

  it('goes to the pool when the mean passes its limit, though never slowRun in a row', () => {
    let m = 0;
    // One call in four takes 2 ms (a read that waits for the disk now and then).
    const { p, call } = place(() => (m++ % 4 === 3 ? 2000 : 15));
    let inline = 0;
    for (let i = 0; i < 200; i++) if (call()) inline++;
    expect(p.pooled).toBe(true);
    // A few slow calls move the mean (weight 1/64) past 150 µs: ~12 ms of stalls in all.
    expect(inline).toBeLessThanOrEqual(24);
  });

  it('counts the time of a call that throws, and rethrows', () => {
    let ns = 0n;
    const p = new InlinePlace({ slowUs: 200, slowRun: 3, meanLimitUs: 100 }, () => ns);
    for (let i = 0; i < 3; i++) {
      expect(() =>
        p.run(() => {
          ns += 1_000_000n;
          throw new Error('EIO');
        }),
      ).toThrow('EIO');
    }
    expect(p.inline).toBe(false);
  });
});
