import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { Throttle, type ThrottleOptions } from './throttle.js';

/** A throttle on a clock the test moves by hand. */
function throttleAt(options: ThrottleOptions = {}) {
  const clock = { ms: 1_000 };
  return { throttle: new Throttle({ ...options, now: () => clock.ms }), clock };
}

const fail = (throttle: Throttle, key: string, times: number) => {
  for (let i = 0; i < times; i++) throttle.failed(key);
};

describe('Throttle', () => {
  it('says how long is left of the wait since the last failure, and forgives one failure', () => {
    const { throttle, clock } = throttleAt();
    fail(throttle, 'alice', 4);
    expect(throttle.waitFor('alice')).toBe(250);
    clock.ms += 100;
    expect(throttle.waitFor('alice')).toBe(150);
    clock.ms += 150;
    expect(throttle.waitFor('alice')).toBe(0);
    throttle.failed('alice');
    expect(throttle.waitFor('alice')).toBe(500);
    throttle.forgive('alice');
    expect(throttle.delayFor('alice')).toBe(250);
    fail(throttle, 'bob', 1);
    throttle.forgive('bob');
    expect(throttle.size).toBe(1);
  });

  it('costs nothing for a new key or for the first three failures', () => {
    const { throttle } = throttleAt();
    expect(throttle.delayFor('alice')).toBe(0);
    fail(throttle, 'alice', 3);
    expect(throttle.delayFor('alice')).toBe(0);
  });

  it('then doubles from 250 ms and stops at 30 s', () => {
    const { throttle } = throttleAt();
    fail(throttle, 'alice', 3);
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      throttle.failed('alice');
      delays.push(throttle.delayFor('alice'));
    }
    expect(delays).toEqual([250, 500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
    fail(throttle, 'alice', 5000);
    expect(throttle.delayFor('alice')).toBe(30_000);
  });

  it('counts each key on its own', () => {
    const { throttle } = throttleAt({ freeFailures: 0 });
    throttle.failed('alice');
    expect(throttle.delayFor('alice')).toBe(250);
    expect(throttle.delayFor('bob')).toBe(0);
  });

  it('forgets a key after forgetMs without failures, counted from the last one', () => {
    const { throttle, clock } = throttleAt({ freeFailures: 0, forgetMs: 60_000 });
    throttle.failed('alice');
    clock.ms += 50_000;
    throttle.failed('alice');
    clock.ms += 59_999;
    expect(throttle.delayFor('alice')).toBe(500);
    clock.ms += 1;
    expect(throttle.delayFor('alice')).toBe(0);
    throttle.failed('alice');
    expect(throttle.delayFor('alice')).toBe(250);
  });

  it('resets a key on success', () => {
    const { throttle } = throttleAt();
    fail(throttle, 'alice', 6);
    throttle.succeeded('alice');
    expect(throttle.delayFor('alice')).toBe(0);
    fail(throttle, 'alice', 4);
    expect(throttle.delayFor('alice')).toBe(250);
  });

  it('keeps at most maxKeys, evicting the least recently failed', () => {
    const { throttle } = throttleAt({ maxKeys: 1000, freeFailures: 0 });
    throttle.failed('target');
    for (let i = 0; i < 999; i++) throttle.failed(`probe${i}`);
    throttle.failed('target'); // now the most recent, so probe0 goes next
    throttle.failed('probe999');
    expect(throttle.size).toBe(1000);
    expect(throttle.delayFor('target')).toBe(500);
    expect(throttle.delayFor('probe0')).toBe(0);
    for (let i = 0; i < 100_000; i++) throttle.failed(`flood${i}`);
    expect(throttle.size).toBe(1000);
    expect(throttle.delayFor('target')).toBe(0);
  });

  it('drops forgotten keys as new failures arrive', () => {
    const { throttle, clock } = throttleAt({ forgetMs: 1000 });
    for (let i = 0; i < 50; i++) throttle.failed(`old${i}`);
    clock.ms += 1000;
    throttle.failed('new');
    expect(throttle.size).toBe(1);
  });

  it('rejects nonsensical options', () => {
    for (const options of [
      { baseMs: 0 },
      { maxMs: 100 },
      { freeFailures: -1 },
      { maxKeys: 0 },
      { forgetMs: 1.5 },
    ]) {
      expect(() => new Throttle(options), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
      );
    }
  });
});
