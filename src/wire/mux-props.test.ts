import { Duplex } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Mux } from './mux.js';
import type { MuxChannel } from './mux-channel.js';

/**
 * Two connected Duplexes that re-cut every write at the given sizes (cycling) and deliver
 * the pieces on later turns, so frames arrive split and glued in every way.
 */
function chunkyPair(cuts: number[]): [Duplex, Duplex] {
  let turn = 0;
  const sides: Duplex[] = [];
  const make = (other: () => Duplex): Duplex =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _enc, callback) {
        let at = 0;
        while (at < chunk.length) {
          const size = Math.max(1, cuts[turn++ % cuts.length] ?? 1);
          const piece = chunk.subarray(at, at + size);
          at += size;
          setImmediate(() => other().push(piece));
        }
        setImmediate(callback);
      },
      final(callback) {
        setImmediate(() => {
          other().push(null);
          callback();
        });
      },
    });
  sides.push(
    make(() => sides[1] as Duplex),
    make(() => sides[0] as Duplex),
  );
  return [sides[0] as Duplex, sides[1] as Duplex];
}

function collect(channel: MuxChannel): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    channel.on('data', (part: Buffer) => parts.push(part));
    channel.on('end', () => resolve(Buffer.concat(parts)));
    channel.on('error', reject);
  });
}

describe('Mux under random interleavings and chunking', () => {
  it('delivers every channel exactly its bytes, in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }), // channels
        fc.array(fc.tuple(fc.nat({ max: 4 }), fc.integer({ min: 0, max: 3000 })), { maxLength: 40 }), // writes
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 10 }), // transport cuts
        fc.integer({ min: 1, max: 4000 }), // initial window
        fc.integer({ min: 1, max: 1500 }), // chunk per turn
        async (count, writes, cuts, initialWindow, chunkSize) => {
          const [a, b] = chunkyPair(cuts);
          const client = new Mux(a, { role: 'client', initialWindow, chunkSize });
          const server = new Mux(b, { role: 'server', initialWindow, chunkSize });
          const received = new Map<number, Promise<Buffer>>();
          server.on('channel', (channel) => {
            received.set(channel.info?.n as number, collect(channel));
            channel.end();
          });
          const channels = Array.from({ length: count }, (_, n) => client.open({ n }).resume());
          const expected = channels.map(() => [] as Buffer[]);
          let seq = 0;
          for (const [which, length] of writes) {
            const n = which % count;
            const bytes = Buffer.alloc(length);
            for (let i = 0; i < length; i++) bytes[i] = (seq + i * 7 + n) & 0xff;
            seq++;
            expected[n]?.push(bytes);
            const channel = channels[n] as MuxChannel;
            if (!channel.write(bytes)) await new Promise((resolve) => channel.once('drain', resolve));
          }
          for (const channel of channels) channel.end();
          await new Promise<void>((resolve) => {
            const check = (): void => (received.size === count ? resolve() : void setImmediate(check));
            check();
          });
          for (let n = 0; n < count; n++) {
            const got = await received.get(n);
            expect(got?.equals(Buffer.concat(expected[n] ?? []))).toBe(true);
          }
          // Every channel closes both ways, then the mux ends cleanly with nothing held.
          const closes = [client, server].map((mux) => new Promise((resolve) => mux.once('close', resolve)));
          await new Promise<void>((resolve) => {
            const check = (): void =>
              client.size + server.size === 0 ? resolve() : void setImmediate(check);
            check();
          });
          client.close();
          expect(await Promise.all(closes)).toEqual([undefined, undefined]);
        },
      ),
      { numRuns: 60 },
    );
  });
});
