import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { RateLimit } from './rate-limit.js';

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
