/**
 * The opening side keeps within the channel limit its peer announced in SETTINGS: many
 * channels opened at once wait their turn instead of being refused (and charged as rapid reset).
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { duplexPair } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Mux } from './mux.js';
import type { MuxChannel } from './mux-channel.js';
import { encodeMuxFrame, type MuxFrame, MuxFrameDecoder, MuxFrameType } from './mux-frame.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A connected TCP socket pair over loopback (listen(0)). */
async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const accepted = once(server, 'connection');
  const client = connect(port, '127.0.0.1');
  const [peer] = (await accepted) as [Socket];
  await once(client, 'connect');
  server.close();
  cleanups.push(() => {
    client.destroy();
    peer.destroy();
  });
  return [client, peer];
}

/** Sends `body`, half-closes, and collects everything the peer sends back. */
async function roundTrip(channel: MuxChannel, body: Buffer): Promise<Buffer> {
  const parts: Buffer[] = [];
  channel.end(body);
  for await (const part of channel) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** A client-role Mux facing a hand-driven server that writes raw frames and decodes what it gets. */
function rawServer() {
  const [a, b] = duplexPair();
  const mux = new Mux(b, { role: 'client' });
  const decoder = new MuxFrameDecoder();
  const got: MuxFrame[] = [];
  a.on('data', (chunk: Buffer) => got.push(...decoder.push(chunk)));
  a.on('error', () => {});
  const opens = () => got.filter((f) => f.type === MuxFrameType.OPEN).map((f) => f.id);
  return { mux, peer: a, got, opens };
}

describe('Mux channel limit', () => {
  it('completes 1,200 channels opened at once against a server with maxChannels 100', async () => {
    const [a, b] = await socketPair();
    const server = new Mux(b, { role: 'server', maxChannels: 100 });
    let live = 0;
    let peak = 0;
    server.on('channel', (channel) => {
      live++;
      peak = Math.max(peak, live);
      channel.on('close', () => live--);
      channel.pipe(channel); // echo, then CLOSE once the echo is out and the client's CLOSE came
    });
    const client = new Mux(a, { role: 'client' });
    const bodies = Array.from({ length: 1200 }, () => randomBytes(1024));
    const channels = bodies.map(() => client.open());
    expect(client.waiting).toBe(1200); // nothing goes out before the server's SETTINGS
    const echoes = await Promise.all(
      channels.map(async (channel, k) => {
        const echo = await roundTrip(channel, bodies[k] as Buffer);
        channel.destroy();
        return echo;
      }),
    );
    for (const [k, echo] of echoes.entries())
      expect(echo.equals(bodies[k] as Buffer), `channel ${k}`).toBe(true);
    expect(peak).toBeLessThanOrEqual(100);
    expect(client.error).toBeUndefined();
    expect(server.error).toBeUndefined();
    await tick();
    expect(client.size).toBe(0);
  });

  it("sends no OPEN before the peer's SETTINGS, then as many as it allows, in order", async () => {
    const { mux, peer, got, opens } = rawServer();
    const channels = Array.from({ length: 5 }, (_, k) => mux.open({ k }));
    channels[0]?.write('early bytes wait too');
    await tick();
    expect(got.map((f) => f.type)).toEqual([MuxFrameType.SETTINGS]);
    peer.write(encodeMuxFrame({ type: MuxFrameType.SETTINGS, id: 0, maxChannels: 2 }));
    await tick();
    expect(opens()).toEqual([1, 3]);
    // The server closes channel 1: the client answers, the slot frees, channel 5 goes out.
    peer.write(encodeMuxFrame({ type: MuxFrameType.CLOSE, id: 1 }));
    channels[0]?.resume();
    await tick();
    expect(opens()).toEqual([1, 3, 5]);
    // A waiting channel destroyed before its turn is never opened.
    channels[3]?.destroy();
    peer.write(encodeMuxFrame({ type: MuxFrameType.CLOSE, id: 3 }));
    channels[1]?.resume();
    await tick();
    expect(opens()).toEqual([1, 3, 5, 9]);
    expect(got.find((f) => f.type === MuxFrameType.OPEN && f.id === 9)).toMatchObject({ info: { k: 4 } });
    expect(mux.error).toBeUndefined();
  });

  it('ends the mux on a second SETTINGS', async () => {
    const { mux, peer } = rawServer();
    const settings = encodeMuxFrame({ type: MuxFrameType.SETTINGS, id: 0, maxChannels: 2 });
    peer.write(settings);
    peer.write(settings);
    const [err] = await once(mux, 'close');
    expect(err?.code).toBe('ERR_MUX_PROTOCOL');
  });
});
