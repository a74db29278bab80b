import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { recordLog } from '../../test/log.js';
import { guardServer } from './guard.js';
import { LOG_WINDOW_MS, warnLimited } from './log-limit.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('warnLimited', () => {
  it('logs the first of a kind, counts the rest of its window, and says how many when it closes', () => {
    vi.useFakeTimers();
    const { log, entries } = recordLog('info');
    for (let i = 0; i < 1000; i++) warnLimited(log, 'test:a', { i }, 'refused');
    warnLimited(log, 'test:b', { other: true }, 'dropped');
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
    warnLimited(log, 'test:a', { i: 1000 }, 'refused');
    expect(entries.at(-1)).toMatchObject({ msg: 'refused', i: 1000 });
    vi.advanceTimersByTime(LOG_WINDOW_MS);
    expect(entries).toHaveLength(4);
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
