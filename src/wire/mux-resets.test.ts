/**
 * The mux against a peer that opens and resets channels as fast as it can (HTTP/2 "rapid
 * reset", CVE-2023-44487) or floods channels that are gone, driven by raw frames.
 */
import { once } from 'node:events';
import { duplexPair } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ErrorCode, type SockitError } from '../errors.js';
import { Mux, type MuxOptions } from './mux.js';
import { TokenBucket } from './mux-budget.js';
import type { MuxChannel } from './mux-channel.js';
import { encodeMuxFrame, type MuxFrame, MuxFrameDecoder, MuxFrameType } from './mux-frame.js';

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A server-role Mux facing a hand-driven peer; `got` collects the frames the mux sends. */
function rawPeer(options: Partial<MuxOptions> = {}) {
  const [a, b] = duplexPair();
  const mux = new Mux(b, { role: 'server', ...options });
  const decoder = new MuxFrameDecoder();
  const got: MuxFrame[] = [];
  a.on('data', (chunk: Buffer) => got.push(...decoder.push(chunk)));
  a.on('error', () => {});
  const closed = once(mux, 'close') as Promise<[SockitError | undefined]>;
  return { mux, peer: a, got, closed };
}

/** Counts the handlers running at once: started on 'channel', ended on the channel's 'close'. */
function liveCounter(mux: Mux, handle: (channel: MuxChannel) => void) {
  const counts = { started: 0, live: 0, peak: 0 };
  mux.on('channel', (channel) => {
    counts.started++;
    counts.live++;
    counts.peak = Math.max(counts.peak, counts.live);
    channel.on('error', () => {});
    channel.on('close', () => counts.live--);
    handle(channel);
  });
  return counts;
}

const refusals = (got: MuxFrame[]) =>
  got.filter((f) => f.type === MuxFrameType.CLOSE && f.info?.reason === 'refused').length;

describe('Mux against rapid reset', () => {
  it('counts a channel the peer closed while its handler still holds it, and refuses beyond maxChannels', async () => {
    const { mux, peer, got } = rawPeer({ maxChannels: 2 });
    const held: MuxChannel[] = [];
    const counts = liveCounter(mux, (channel) => held.push(channel)); // never reads: still busy
    for (const id of [1, 3, 5]) {
      peer.write(encodeMuxFrame({ type: MuxFrameType.OPEN, id }));
      peer.write(encodeMuxFrame({ type: MuxFrameType.CLOSE, id }));
    }
    await tick();
    expect(counts.started).toBe(2);
    expect(refusals(got)).toBe(1);
    held[0]?.destroy(); // one handler done: room for one more
    peer.write(encodeMuxFrame({ type: MuxFrameType.OPEN, id: 7 }));
    await tick();
    expect(counts.started).toBe(3);
    expect(mux.error).toBeUndefined();
  });

  it('keeps OPEN+DATA+CLOSE floods within maxChannels and ends the mux after the reset budget', async () => {
    const { mux, peer, got, closed } = rawPeer({ maxChannels: 10, resetBurst: 50, resetRate: 0 });
    const counts = liveCounter(mux, (channel) => channel.pipe(channel)); // an echo handler
    let id = 1;
    const burst = (n: number): Buffer => {
      const frames: Buffer[] = [];
      for (let k = 0; k < n; k++, id += 2) {
        frames.push(encodeMuxFrame({ type: MuxFrameType.OPEN, id }));
        frames.push(encodeMuxFrame({ type: MuxFrameType.DATA, id, data: Buffer.from('hi') }));
        frames.push(encodeMuxFrame({ type: MuxFrameType.CLOSE, id }));
      }
      return Buffer.concat(frames);
    };
    peer.write(burst(60)); // 10 handlers and 50 refusals: the whole budget, not beyond
    await tick();
    expect(counts.started + refusals(got)).toBe(60);
    expect(mux.closed).toBe(false);
    for (let round = 0; round < 20 && !mux.closed; round++) {
      peer.write(burst(100));
      await tick();
    }
    const [err] = await closed;
    expect(err?.code).toBe(ErrorCode.MUX_PROTOCOL);
    expect(counts.peak).toBeLessThanOrEqual(10);
    expect(counts.started).toBeLessThan(2000);
  });

  it('ends the mux when the peer resets more channels than the budget allows', async () => {
    const { mux, peer, closed } = rawPeer({ maxChannels: 10, resetBurst: 30, resetRate: 0 });
    const counts = liveCounter(mux, () => {});
    const frames: Buffer[] = [];
    for (let id = 1; id < 200; id += 2) {
      frames.push(encodeMuxFrame({ type: MuxFrameType.OPEN, id }));
      frames.push(encodeMuxFrame({ type: MuxFrameType.CLOSE, id, info: { error: 'ERR_CANCELLED' } }));
    }
    peer.write(Buffer.concat(frames));
    const [err] = await closed;
    expect(err?.code).toBe(ErrorCode.MUX_PROTOCOL);
    expect(counts.started).toBe(31); // 30 resets spent the budget; the 31st ended the mux
  });

  it('ends the mux with ERR_MUX_PROTOCOL when DATA for a closed channel passes the budget', async () => {
    // Budget: maxChannels x initialWindow = 2 x 1024 bytes, each frame costing body + 9.
    const { mux, peer, closed } = rawPeer({ maxChannels: 2, initialWindow: 1024 });
    liveCounter(mux, (channel) => channel.destroy());
    peer.write(encodeMuxFrame({ type: MuxFrameType.OPEN, id: 1 }));
    peer.write(encodeMuxFrame({ type: MuxFrameType.CLOSE, id: 1 }));
    await tick();
    expect(mux.size).toBe(0);
    const data = encodeMuxFrame({ type: MuxFrameType.DATA, id: 1, data: Buffer.alloc(100) });
    for (let k = 0; k < 10; k++) peer.write(data); // 1,090 bytes: within the budget
    await tick();
    expect(mux.closed).toBe(false);
    for (let k = 0; k < 1000 && !mux.closed; k++) {
      peer.write(data);
      if (k % 10 === 0) await tick();
    }
    const [err] = await closed;
    expect(err?.code).toBe(ErrorCode.MUX_PROTOCOL);
  });

  it('opens and closes 2,000 channels in sequence, some closed first by the opener, without tripping a budget', async () => {
    const [a, b] = duplexPair();
    const client = new Mux(a, { role: 'client', maxChannels: 4 });
    const server = new Mux(b, { role: 'server', maxChannels: 4, resetBurst: 10, resetRate: 0 });
    server.on('channel', (channel) => {
      channel.on('error', () => {});
      channel.resume();
      channel.on('end', () => channel.close({ exit: 0 }));
    });
    for (let round = 0; round < 500; round++) {
      const batch = Array.from({ length: 4 }, () => client.open());
      batch.forEach((channel, k) => {
        channel.on('error', () => {});
        channel.resume();
        if (k % 2 === 0)
          channel.close(); // EOF and CLOSE before the server's handler is done
        else channel.end('x');
      });
      await Promise.all(batch.map((c) => (c.closed ? undefined : once(c, 'close'))));
    }
    await tick();
    expect(client.error).toBeUndefined();
    expect(server.error).toBeUndefined();
    expect(client.size).toBe(0);
    expect(server.size).toBe(0);
  });
});

describe('TokenBucket', () => {
  it('starts full, refuses past empty, regains at its rate up to the burst', () => {
    let now = 0;
    const bucket = new TokenBucket(3, 2, () => now);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    now += 500; // half a second: one token back
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
    now += 60_000;
    expect(bucket.tokens).toBe(3);
    expect(bucket.take(4)).toBe(false);
    expect(bucket.tokens).toBe(3);
  });
});
