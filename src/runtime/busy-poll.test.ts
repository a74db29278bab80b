import { afterEach, describe, expect, it, vi } from 'vitest';
import { AnswerPoll, budgetFor, busyPolling, pollFor } from './busy-poll.js';

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

/**
 * Makes performance.now() return what the test sets, in ms from the real time at the start
 * (so that a deadline set meanwhile is not far off for the real clock afterwards).
 */
function fakeClock(): { set: (ms: number) => void } {
  const origin = performance.now() - 1000;
  let clock = origin + 1000;
  vi.spyOn(performance, 'now').mockImplementation(() => clock);
  return { set: (ms) => (clock = origin + ms) };
}

describe('busy polling', () => {
  afterEach(() => vi.restoreAllMocks());

  it('keeps the loop polling for the time asked, then stops by itself', async () => {
    let turns = 0;
    const count = (): void => {
      turns++;
      if (busyPolling()) setImmediate(count);
    };
    pollFor(2000);
    expect(busyPolling()).toBe(true);
    setImmediate(count);
    await settle();
    expect(busyPolling()).toBe(false);
    // The loop went round many times instead of sleeping for those 2 ms.
    expect(turns).toBeGreaterThan(10);
  });

  it('polls after a send while answers come back within the budget', () => {
    const clock = fakeClock();
    const poll = new AnswerPoll(100);
    expect(poll.active).toBe(true);
    for (let i = 0; i < 20; i++) {
      clock.set(1000 + i);
      poll.sent();
      clock.set(1000 + i + 0.03); // answered after 30 us
      poll.answered();
    }
    expect(poll.answerUs).toBeCloseTo(30, 5);
    expect(poll.active).toBe(true);
  });

  it('gives a large datagram a longer budget: a peer copying 64 KiB is still polled for', () => {
    const clock = fakeClock();
    const poll = new AnswerPoll(100);
    expect(budgetFor(100, 0)).toBe(100);
    expect(budgetFor(100, 65464)).toBeGreaterThan(490);
    for (let i = 0; i < 20; i++) {
      clock.set(1000 + i);
      poll.sent(65464);
      clock.set(1000 + i + 0.3); // answered after 300 us: over the base budget, within the 64 KiB one
      poll.answered();
    }
    expect(poll.answerUs).toBeCloseTo(300, 5);
    expect(poll.active).toBe(true);
    // The same answer time after small datagrams is a slow peer: not polled for.
    for (let i = 0; i < 40; i++) {
      clock.set(2000 + i);
      poll.sent(512);
      clock.set(2000 + i + 0.3);
      poll.answered();
    }
    expect(poll.active).toBe(false);
  });

  it('stops polling for a peer slower than the budget, and starts again when it speeds up', async () => {
    const clock = fakeClock();
    const poll = new AnswerPoll(100);
    let t = 1000;
    const exchange = (us: number): void => {
      clock.set(t);
      poll.sent();
      t += us / 1000;
      clock.set(t);
      poll.answered();
      t += 1;
    };
    for (let i = 0; i < 20; i++) exchange(600);
    expect(poll.answerUs).toBeGreaterThan(100);
    expect(poll.active).toBe(false);
    // A send to a slow peer does not start the poller.
    await settle();
    poll.sent();
    expect(busyPolling()).toBe(false);
    // A retransmission timeout counts as a slow answer, not as a whole second.
    poll.sent();
    clock.set(t + 1000);
    poll.answered();
    expect(poll.answerUs).toBeLessThanOrEqual(400);
    // (The fake clock goes back near the real one, so that the poller ends when this test does.)
    t = 1000;
    for (let i = 0; i < 40; i++) exchange(20);
    expect(poll.active).toBe(true);
  });

  it('does nothing with a budget of 0', async () => {
    for (let i = 0; i < 100 && busyPolling(); i++) await settle();
    expect(busyPolling()).toBe(false);
    const poll = new AnswerPoll(0);
    poll.sent();
    expect(busyPolling()).toBe(false);
    expect(poll.active).toBe(false);
  });

  it('counts only the first datagram after a send as its answer', () => {
    const clock = fakeClock();
    const poll = new AnswerPoll(100);
    clock.set(1000);
    poll.sent();
    clock.set(1000.05);
    poll.answered();
    clock.set(1005);
    poll.answered(); // a duplicate, 5 ms later
    expect(poll.answerUs).toBeCloseTo(50, 5);
  });
});
