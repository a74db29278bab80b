import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { formatDuration, Progress, STALLED_AFTER_MS } from './progress.js';

/** What a terminal of `columns` would show: the text after the last carriage return. */
function terminal(columns: number) {
  const writes: string[] = [];
  return {
    columns,
    isTTY: true,
    write: (text: string) => writes.push(text),
    shown: () => (writes.at(-1) ?? '').split('\r').at(-1)?.replace('\x1b[K', '') ?? '',
    writes,
  };
}

describe('Progress', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('fits a 60-column terminal, however long the label', () => {
    for (const columns of [40, 60, 120]) {
      const out = terminal(columns);
      const bar = new Progress(`download ${'very/long/'.repeat(12)}name.bin`, true, out);
      vi.advanceTimersByTime(2000);
      bar.update(3 * 1024 ** 2, 10 * 1024 ** 2);
      expect(out.shown().length).toBeGreaterThan(0);
      expect(out.shown().length).toBeLessThan(columns);
      bar.done();
    }
  });

  it('shows the time left when the size is known', () => {
    const out = terminal(100);
    const bar = new Progress('get a', true, out);
    vi.advanceTimersByTime(10_000);
    bar.update(1000, 4000); // 100 B/s, 3000 B to go: 30 s
    expect(out.shown()).toContain('ETA 0:30');
    bar.done();
  });

  it('says "stalled" when no byte has moved for a while, without being called', () => {
    const out = terminal(100);
    const bar = new Progress('get a', true, out);
    vi.advanceTimersByTime(1000);
    bar.update(1000, 4000);
    expect(out.shown()).not.toContain('stalled');
    vi.advanceTimersByTime(STALLED_AFTER_MS + 1000);
    expect(out.shown()).toContain('stalled');
    expect(out.shown()).not.toContain('ETA');
    bar.update(2000, 4000);
    vi.advanceTimersByTime(200);
    bar.update(2001, 4000);
    expect(out.shown()).not.toContain('stalled');
    bar.done();
    expect(out.writes.at(-1)).toBe('\r\x1b[K');
  });

  it('draws nothing when not on a terminal', () => {
    const out = terminal(80);
    const bar = new Progress('get a', undefined, { ...out, isTTY: false });
    bar.update(1, 2);
    bar.done();
    expect(out.writes).toEqual([]);
  });

  it('formats durations as a clock', () => {
    expect(formatDuration(65)).toBe('1:05');
    expect(formatDuration(3723)).toBe('1:02:03');
    expect(formatDuration(0)).toBe('0:00');
  });
});
