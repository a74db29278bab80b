import { once } from 'node:events';
import { type Duplex, duplexPair } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ErrorCode, SockitError } from '../errors.js';
import { Mux } from './mux.js';
import type { MuxChannel } from './mux-channel.js';
import { encodeMuxFrame, MuxFrameDecoder, MuxFrameType } from './mux-frame.js';

function pair(options: { initialWindow?: number; maxChannels?: number } = {}): [Mux, Mux, Duplex, Duplex] {
  const [a, b] = duplexPair();
  return [new Mux(a, { role: 'client', ...options }), new Mux(b, { role: 'server', ...options }), a, b];
}

async function readAll(channel: MuxChannel): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of channel) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

async function errorOf(channel: MuxChannel): Promise<SockitError> {
  const [err] = await once(channel, 'error');
  expect(err).toBeInstanceOf(SockitError);
  return err as SockitError;
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A Mux (server role) facing a hand-driven peer that writes raw frames and decodes what it gets. */
function rawPeer(options: { initialWindow?: number } = {}) {
  const [a, b] = duplexPair();
  const mux = new Mux(b, { role: 'server', ...options });
  const decoder = new MuxFrameDecoder();
  const got: ReturnType<MuxFrameDecoder['push']> = [];
  a.on('data', (chunk: Buffer) => got.push(...decoder.push(chunk)));
  a.on('error', () => {});
  return { mux, peer: a, got };
}

describe('Mux', () => {
  it('carries OPEN info, bytes both ways, half-close and CLOSE info', async () => {
    const [client, server] = pair();
    server.on('channel', async (channel) => {
      const request = await readAll(channel); // ends on the client's EOF (half-close)
      channel.write(`${channel.info?.cmd} got ${request.length} bytes`);
      channel.close({ exit: 3 });
    });
    const channel = client.open({ cmd: 'wc' });
    channel.end(Buffer.alloc(5000, 1));
    expect((await readAll(channel)).toString()).toBe('wc got 5000 bytes');
    if (!channel.closed) await once(channel, 'close');
    expect(channel.remoteCloseInfo).toEqual({ exit: 3 });
    expect(client.size).toBe(0);
    expect(server.size).toBe(0);
  });

  it('hands incoming channels to an async iterator and ends it on close', async () => {
    const [client, server] = pair();
    const names: unknown[] = [];
    const done = (async () => {
      for await (const channel of server) {
        names.push(channel.info?.name);
        channel.resume();
        channel.end();
      }
    })();
    for (const name of ['a', 'b', 'c']) {
      const channel = client.open({ name });
      channel.resume();
      channel.end();
      await once(channel, 'close');
    }
    client.close();
    await done;
    expect(names).toEqual(['a', 'b', 'c']);
  });

  it('keeps two channels flowing while a third reader stalls, its buffer within its window', async () => {
    const window = 64 * 1024;
    const [client, server] = pair({ initialWindow: window });
    const size = 2 * 1024 * 1024;
    const incoming = new Map<string, MuxChannel>();
    server.on('channel', (channel) => incoming.set(channel.info?.name as string, channel));
    const writers = ['x', 'y', 'stalled'].map((name, i) => {
      const channel = client.open({ name });
      channel.end(Buffer.alloc(size, i + 1));
      return channel;
    });
    await tick();
    const stalled = incoming.get('stalled') as MuxChannel;
    let maxBuffered = 0;
    const watch = setInterval(() => {
      maxBuffered = Math.max(maxBuffered, stalled.buffered);
    }, 1);
    stalled.on('data', () => {}); // attach, then stall: the consumer stops reading at once
    stalled.pause();
    const [x, y] = await Promise.all([
      readAll(incoming.get('x') as MuxChannel),
      readAll(incoming.get('y') as MuxChannel),
    ]);
    expect(x.equals(Buffer.alloc(size, 1))).toBe(true);
    expect(y.equals(Buffer.alloc(size, 2))).toBe(true);
    maxBuffered = Math.max(maxBuffered, stalled.buffered);
    clearInterval(watch);
    expect(maxBuffered).toBeGreaterThan(0);
    expect(maxBuffered).toBeLessThanOrEqual(window);
    expect(writers[2]?.writableFinished).toBe(false); // its sender is held back, not buffering
    stalled.removeAllListeners('data');
    const rest = await readAll(stalled);
    expect(rest.equals(Buffer.alloc(size, 3))).toBe(true); // nothing lost while it stalled
  });

  it('does not write DATA past a transport that is not read (its backpressure)', async () => {
    const [peer, transport] = duplexPair();
    const mux = new Mux(transport, { role: 'server' });
    const incoming = once(mux, 'channel');
    // The peer opens a channel, grants the largest window, then never reads.
    peer.write(encodeMuxFrame({ type: MuxFrameType.OPEN, id: 1 }));
    peer.write(encodeMuxFrame({ type: MuxFrameType.WINDOW, id: 1, credit: 0x7fff_ffff }));
    const [channel] = (await incoming) as [MuxChannel];
    let accepted = 0;
    for (let i = 0; i < 100; i++) {
      if (channel.write(Buffer.alloc(64 * 1024))) accepted++;
      await tick();
    }
    // In flight: what the peer's unread buffer and the transport's queue hold; each stops at
    // its high-water mark plus one frame. The rest waits in the channel, whose write() says no.
    const inFlight = peer.readableLength + transport.writableLength;
    const frame = 16 * 1024 + 9;
    expect(inFlight).toBeLessThanOrEqual(
      peer.readableHighWaterMark + transport.writableHighWaterMark + 2 * frame,
    );
    expect(inFlight).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(100);
    expect(channel.writableLength).toBeGreaterThan(1024 * 1024);
  });

  it('ends the mux when a peer sends beyond the window it was granted', async () => {
    const { peer, mux } = rawPeer({ initialWindow: 1000 });
    const closed = once(mux, 'close');
    peer.write(encodeMuxFrame({ type: MuxFrameType.OPEN, id: 1 }));
    const [channel] = (await once(mux, 'channel')) as [MuxChannel];
    const failed = errorOf(channel);
    peer.write(encodeMuxFrame({ type: MuxFrameType.DATA, id: 1, data: Buffer.alloc(600) }));
    peer.write(encodeMuxFrame({ type: MuxFrameType.DATA, id: 1, data: Buffer.alloc(401) }));
    expect((await failed).code).toBe(ErrorCode.MUX_PROTOCOL);
    const [err] = await closed;
    expect(err.code).toBe(ErrorCode.MUX_PROTOCOL);
    expect(mux.size).toBe(0);
  });

  it('accepts a peer that sends exactly its window, then more after credit', async () => {
    const { peer, mux, got } = rawPeer({ initialWindow: 1000 });
    mux.on('channel', () => {});
    peer.write(encodeMuxFrame({ type: MuxFrameType.OPEN, id: 1 }));
    const [channel] = (await once(mux, 'channel')) as [MuxChannel];
    peer.write(encodeMuxFrame({ type: MuxFrameType.DATA, id: 1, data: Buffer.alloc(1000, 7) }));
    await tick();
    expect(channel.buffered).toBe(1000);
    expect(channel.read(1000)?.length).toBe(1000);
    await tick();
    const credits = got
      .filter((f) => f.type === MuxFrameType.WINDOW)
      .map((f) => (f as { credit: number }).credit);
    expect(credits).toEqual([1000, 1000]); // the initial grant, then what was read
    peer.write(encodeMuxFrame({ type: MuxFrameType.DATA, id: 1, data: Buffer.alloc(1000, 8) }));
    await tick();
    expect(mux.error).toBeUndefined();
    expect(channel.buffered).toBe(1000);
  });

  const idCases: Array<[string, Buffer[]]> = [
    [
      'an id reused after its channel closed',
      [1, 1].map((id) => encodeMuxFrame({ type: MuxFrameType.OPEN, id })),
    ],
    [
      'an id lower than one already opened',
      [5, 3].map((id) => encodeMuxFrame({ type: MuxFrameType.OPEN, id })),
    ],
    [
      'an id of the wrong parity (the server side allocates even ids)',
      [encodeMuxFrame({ type: MuxFrameType.OPEN, id: 2 })],
    ],
    [
      'DATA on an id never opened',
      [encodeMuxFrame({ type: MuxFrameType.DATA, id: 7, data: Buffer.from('x') })],
    ],
  ];
  for (const [what, frames] of idCases) {
    it(`refuses ${what}`, async () => {
      const { peer, mux } = rawPeer();
      mux.on('channel', (channel) => {
        channel.on('error', () => {});
        channel.destroy();
      });
      const closed = once(mux, 'close');
      for (const frame of frames) {
        peer.write(frame);
        await tick();
      }
      const [err] = await closed;
      expect(err.code).toBe(ErrorCode.MUX_PROTOCOL);
    });
  }

  it("holds an OPEN beyond the peer's maxChannels until a channel closes, instead of having it refused", async () => {
    // A peer that ignores the announced limit is still refused and charged: mux-resets.test.ts.
    const [client, server] = pair({ maxChannels: 2 });
    const accepted: MuxChannel[] = [];
    server.on('channel', (channel) => accepted.push(channel));
    const channels = [client.open(), client.open(), client.open()] as [MuxChannel, MuxChannel, MuxChannel];
    channels[2].end('third');
    await tick();
    expect(accepted.length).toBe(2);
    expect(client.waiting).toBe(1);
    channels[0].end('still works');
    expect((await readAll(accepted[0] as MuxChannel)).toString()).toBe('still works');
    (accepted[0] as MuxChannel).close();
    channels[0].resume();
    await once(channels[0], 'close');
    await tick();
    expect(accepted.length).toBe(3);
    expect((await readAll(accepted[2] as MuxChannel)).toString()).toBe('third');
    expect(client.error).toBeUndefined();
    expect(server.error).toBeUndefined();
  });

  it('resets a channel: the peer gets ERR_CHANNEL_RESET, the mux goes on', async () => {
    const [client, server] = pair();
    const incoming = once(server, 'channel');
    const channel = client.open();
    channel.write('partial');
    const [remote] = (await incoming) as [MuxChannel];
    const failed = errorOf(remote);
    channel.reset('cancelled');
    expect((await failed).code).toBe(ErrorCode.CHANNEL_RESET);
    await tick();
    expect(client.size).toBe(0);
    expect(server.size).toBe(0);
  });

  it('forgets every channel after 2,000 opens and closes', async () => {
    const [client, server] = pair();
    server.on('channel', (channel) => {
      channel.resume();
      channel.end('ok');
    });
    for (let round = 0; round < 20; round++) {
      const batch = Array.from({ length: 100 }, () => client.open({ round }));
      for (const channel of batch) channel.end();
      const bodies = await Promise.all(batch.map(readAll));
      expect(bodies.every((b) => b.toString() === 'ok')).toBe(true);
      await Promise.all(batch.map((c) => (c.closed ? undefined : once(c, 'close'))));
    }
    await tick();
    expect(client.size).toBe(0);
    expect(server.size).toBe(0);
  });

  it('errors every open channel with ERR_CONNECTION_CLOSED when the transport fails', async () => {
    const [client, server, a] = pair();
    server.on('channel', (channel) => channel.on('error', () => {}).resume());
    const channels = [client.open(), client.open(), client.open()];
    for (const channel of channels) channel.write(Buffer.alloc(100_000));
    await tick();
    const errors = Promise.all(channels.map(errorOf));
    a.destroy(new Error('ECONNRESET'));
    for (const err of await errors) expect(err.code).toBe(ErrorCode.CONNECTION_CLOSED);
    expect(client.size).toBe(0);
    await tick();
    expect(server.size).toBe(0);
    expect(server.error?.code).toBe(ErrorCode.CONNECTION_CLOSED);
  });

  it('ends cleanly when the transport ends with no channel open', async () => {
    const [client, server] = pair();
    const closes = [once(client, 'close'), once(server, 'close')];
    client.close();
    const [clientClose, serverClose] = await Promise.all(closes);
    expect(clientClose?.[0]).toBeUndefined();
    expect(serverClose?.[0]).toBeUndefined();
    expect(() => client.open()).toThrow(SockitError);
  });
});
