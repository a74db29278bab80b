import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { RateLimit, TokenBucket } from './rate-limit.js';

describe('RateLimit', () => {
  it('allows `limit` events per key and window, then tells the time left', () => {
    const clock = { ms: 0 };
    const limit = new RateLimit({ limit: 2, windowMs: 1000, now: () => clock.ms });
    expect([limit.take('a'), limit.take('a'), limit.take('b')]).toEqual([0, 0, 0]);
    clock.ms = 400;
    expect(limit.take('a')).toBe(600);
    limit.undo('b');
    expect([limit.take('b'), limit.take('b'), limit.take('b')]).toEqual([0, 0, 600]);
    clock.ms = 1000;
    expect(limit.take('a')).toBe(0);
  });

  it('keeps at most maxKeys keys', () => {
    const clock = { ms: 0 };
    const limit = new RateLimit({ limit: 1, windowMs: 1000, maxKeys: 10, now: () => clock.ms });
    for (let i = 0; i < 100; i++) limit.take(`k${i}`);
    // The oldest were forgotten, so they may act again; the newest may not.
    expect(limit.take('k0')).toBe(0);
    expect(limit.take('k99')).toBeGreaterThan(0);
  });

  it('refuses a limit or window that is not a positive integer', () => {
    expect(() => new RateLimit({ limit: 0, windowMs: 1 })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
  });
});

describe('TokenBucket', () => {
  it('allows a burst of `capacity`, then one event per refill, per key', () => {
    const clock = { ms: 0 };
    const bucket = new TokenBucket({ capacity: 3, refillMs: 1000, now: () => clock.ms });
    expect([bucket.take('a'), bucket.take('a'), bucket.take('a')]).toEqual([0, 0, 0]);
    expect(bucket.take('a')).toBe(1000); // a refill away, not a window
    expect(bucket.take('b')).toBe(0);
    clock.ms = 400;
    expect(bucket.take('a')).toBe(600);
    clock.ms = 1000;
    expect([bucket.take('a'), bucket.take('a')]).toEqual([0, 1000]);
    bucket.undo('a');
    expect(bucket.take('a')).toBe(0);
    clock.ms = 100_000; // refilled to capacity, no more
    expect([bucket.take('a'), bucket.take('a'), bucket.take('a'), bucket.take('a')]).toEqual([0, 0, 0, 1000]);
  });

  it('forgets a deleted key, which starts full again, and only that key', () => {
    const bucket = new TokenBucket({ capacity: 1, refillMs: 1000, now: () => 0 });
    expect([bucket.take('a'), bucket.take('b')]).toEqual([0, 0]);
    bucket.delete('a');
    expect([bucket.take('a'), bucket.take('b')]).toEqual([0, 1000]);
  });

  it('keeps at most maxKeys keys and refuses bad options', () => {
    const bucket = new TokenBucket({ capacity: 1, refillMs: 1000, maxKeys: 2, now: () => 0 });
    for (const key of ['a', 'b', 'c']) expect(bucket.take(key)).toBe(0);
    expect(bucket.take('a')).toBe(0); // forgotten: full again
    expect(() => new TokenBucket({ capacity: 0, refillMs: 1 })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
  });
});
