import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { recordLog } from '../../test/log.js';
import { guardServer } from './guard.js';
import { flushLimitedLogs, LOG_WINDOW_MS, logLimited } from './log-limit.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('logLimited', () => {
  it('logs the first of a kind, counts the rest of its window, and says how many when it closes', () => {
    vi.useFakeTimers();
    const { log, entries } = recordLog('info');
    for (let i = 0; i < 1000; i++) logLimited('warn', log, 'test:a', { i }, 'refused');
    logLimited('warn', log, 'test:b', { other: true }, 'dropped');
    expect(entries.map((e) => [e.msg, e.i ?? e.other])).toEqual([
      ['refused', 0],
      ['dropped', true],
    ]);
    vi.advanceTimersByTime(LOG_WINDOW_MS);
    expect(entries).toHaveLength(3);
    expect(entries[2]).toMatchObject({
      msg: 'refused (999 more like it not logged)',
      suppressed: 999,
      i: 999,
      level: 40,
    });
    // A new window opens with the next one, logged at once.
    logLimited('warn', log, 'test:a', { i: 1000 }, 'refused');
    expect(entries.at(-1)).toMatchObject({ msg: 'refused', i: 1000 });
    vi.advanceTimersByTime(LOG_WINDOW_MS);
    expect(entries).toHaveLength(4);
  });

  it("keeps each source's lines apart, folds sources past the bound, and flushes at shutdown", () => {
    vi.useFakeTimers();
    const { log, entries } = recordLog('info');
    for (let i = 0; i < 100; i++) logLimited('warn', log, 'test:s', { from: 'a' }, 'refused', 'a');
    logLimited('warn', log, 'test:s', { from: 'b' }, 'refused', 'b');
    expect(entries.map((e) => e.from)).toEqual(['a', 'b']);
    // Past the bound on open windows, new sources share one window of the kind.
    for (let i = 0; i < 400; i++) logLimited('warn', log, 'test:many', { i }, 'many', `s${i}`);
    const many = entries.filter((e) => e.msg === 'many');
    expect(many.length).toBeLessThanOrEqual(256);
    expect(many.length).toBeGreaterThan(200);
    flushLimitedLogs();
    const summaries = entries.filter((e) => typeof e.suppressed === 'number');
    expect(summaries).toContainEqual(expect.objectContaining({ from: 'a', suppressed: 99 }));
    const folded = summaries.filter((e) => String(e.msg).startsWith('many ('));
    expect(folded.reduce((n, e) => n + (e.suppressed as number), 0)).toBe(400 - many.length);
    // Nothing is left to say when the windows' timers would have fired.
    const before = entries.length;
    vi.advanceTimersByTime(LOG_WINDOW_MS);
    expect(entries).toHaveLength(before);
  });

  it('makes a flood of refused connections one line, not one per connection', async () => {
    const { log, entries } = recordLog('info');
    const server = net.createServer();
    const guard = guardServer(server, { name: 'flooded', maxPerAddress: 1, loginTimeoutMs: 0, log });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    const kept = net.connect(port, '127.0.0.1');
    await once(kept, 'connect');
    const refused = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const socket = net.connect(port, '127.0.0.1');
        socket.on('error', () => {});
        await once(socket, 'close');
      }),
    );
    expect(refused).toHaveLength(200);
    const lines = entries.filter((e) => String(e.msg).startsWith('connection refused'));
    expect(lines).toHaveLength(1);
    expect(guard.connections).toBe(1);
    kept.destroy();
    await guard.close();
  });
});
