import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Mux } from './mux.js';
import type { MuxChannel } from './mux-channel.js';

const MiB = 1024 * 1024;
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

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

/** Writes `total` bytes of `block` repeated, honouring backpressure; returns their sha256. */
async function send(out: Duplex, block: Buffer, total: number): Promise<string> {
  const hash = createHash('sha256');
  for (let sent = 0; sent < total; sent += block.length) {
    hash.update(block);
    if (!out.write(block)) await once(out, 'drain');
  }
  out.end();
  return hash.digest('hex');
}

async function receive(input: Duplex): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of input) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

function mibPerSecond(bytes: number, startNs: bigint): number {
  return bytes / MiB / (Number(process.hrtime.bigint() - startNs) / 1e9);
}

describe('Mux over a real TCP loopback connection', () => {
  it('moves 3 channels x 8 MiB concurrently, each intact; reports one channel vs the raw socket', async () => {
    const size = 8 * MiB;
    const blocks = [0, 1, 2].map(() => randomBytes(64 * 1024));

    // Raw socket first: the ceiling for one stream on this machine, in this run.
    const [rawOut, rawIn] = await socketPair();
    let start = process.hrtime.bigint();
    const [rawSent, rawGot] = await Promise.all([send(rawOut, blocks[0] as Buffer, size), receive(rawIn)]);
    const raw = mibPerSecond(size, start);
    expect(rawGot.sha256).toBe(rawSent);

    const [a, b] = await socketPair();
    const client = new Mux(a, { role: 'client' });
    const server = new Mux(b, { role: 'server' });
    const results = new Map<number, Promise<{ sha256: string; bytes: number }>>();
    server.on('channel', (channel) => {
      results.set(channel.info?.n as number, receive(channel));
      channel.end();
    });

    // One channel alone, same bytes as the raw run.
    const solo = client.open({ n: 99 }).resume();
    start = process.hrtime.bigint();
    const soloSent = await send(solo, blocks[0] as Buffer, size);
    const soloGot = await waitFor(results, 99);
    const one = mibPerSecond(size, start);
    expect(soloGot).toEqual({ sha256: soloSent, bytes: size });

    // Three at once.
    const channels: MuxChannel[] = [0, 1, 2].map((n) => client.open({ n }).resume());
    start = process.hrtime.bigint();
    const sent = await Promise.all(channels.map((channel, n) => send(channel, blocks[n] as Buffer, size)));
    const got = await Promise.all([0, 1, 2].map((n) => waitFor(results, n)));
    const three = mibPerSecond(3 * size, start);
    for (let n = 0; n < 3; n++) expect(got[n]).toEqual({ sha256: sent[n], bytes: size });

    const closes = [once(client, 'close'), once(server, 'close')];
    while (client.size + server.size > 0) await new Promise((resolve) => setImmediate(resolve));
    client.close();
    expect((await Promise.all(closes)).map(([err]) => err)).toEqual([undefined, undefined]);

    // Measured, not asserted (durations vary with the machine's load).
    console.log(
      `mux throughput: raw socket ${raw.toFixed(0)} MiB/s, one channel ${one.toFixed(0)} MiB/s ` +
        `(ratio ${(one / raw).toFixed(2)}), three channels together ${three.toFixed(0)} MiB/s`,
    );
  });
});

async function waitFor<T>(results: Map<number, Promise<T>>, n: number): Promise<T> {
  while (!results.has(n)) await new Promise((resolve) => setImmediate(resolve));
  return results.get(n) as Promise<T>;
}
