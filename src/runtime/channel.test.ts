/** Channel: messages and raw runs, however the bytes are cut, from fresh or reused buffers. */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isSockitError } from '../errors.js';
import { encodeEnvelope } from '../wire/envelope.js';
import { Channel, ReusedReads } from './channel.js';

const RUN = randomBytes(50_000);
const STREAM = Buffer.concat([
  encodeEnvelope({ op: 'put', size: RUN.length }),
  RUN,
  encodeEnvelope({ op: 'put-end' }),
  encodeEnvelope({ op: 'next' }),
]);

/** A socket stand-in: what is pushed comes out as 'data'; writes go nowhere. */
function fakeSocket(): PassThrough {
  return new PassThrough();
}

/** A server on 127.0.0.1 that takes connections and leaves them to the test. */
async function listening(): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** A client connected to `server` (listening on 127.0.0.1), and the server's side of it. */
async function connectedPair(server: net.Server): Promise<[net.Socket, net.Socket]> {
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [accepted] = await Promise.all([
    new Promise<net.Socket>((r) => server.once('connection', r)),
    new Promise((r) => client.once('connect', r)),
  ]);
  return [accepted, client];
}

/** A run of `size` bytes, the consumer saying "full" every third chunk; each chunk shown to `seen`. */
async function takeRun(channel: Channel, size: number, seen?: (chunk: Buffer) => void): Promise<Buffer> {
  const parts: Buffer[] = [];
  let calls = 0;
  await channel.receiveRun(
    size,
    (chunk) => {
      seen?.(chunk);
      parts.push(Buffer.from(chunk)); // a copy: the chunk may be a reused buffer's
      return ++calls % 3 !== 0;
    },
    () => new Promise((resolve) => setTimeout(resolve, 1)),
  );
  return Buffer.concat(parts);
}

/** Reads the stream's messages and its run, the consumer saying "full" every `fullEvery` calls. */
async function readAll(channel: Channel, fullEvery: number): Promise<{ ops: unknown[]; run: Buffer }> {
  const ops: unknown[] = [];
  ops.push((await channel.receive()).header.op);
  const parts: Buffer[] = [];
  let calls = 0;
  await channel.receiveRun(
    RUN.length,
    (chunk) => {
      parts.push(Buffer.from(chunk)); // a copy: the chunk may be a reused buffer's
      return ++calls % fullEvery !== 0;
    },
    () => new Promise((resolve) => setTimeout(resolve, 1)),
  );
  ops.push((await channel.receive()).header.op);
  ops.push((await channel.receive()).header.op);
  return { ops, run: Buffer.concat(parts) };
}

describe('Channel', () => {
  it('reads messages and a raw run cut at any points, from fresh buffers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: STREAM.length - 1 }), { maxLength: 12 }),
        fc.integer({ min: 1, max: 4 }),
        async (cuts, fullEvery) => {
          const socket = fakeSocket();
          const channel = new Channel(socket);
          const reading = readAll(channel, fullEvery);
          let at = 0;
          for (const cut of [...cuts].sort((a, b) => a - b).concat(STREAM.length)) {
            socket.write(STREAM.subarray(at, cut));
            at = cut;
            await new Promise((resolve) => setImmediate(resolve));
          }
          const { ops, run } = await reading;
          expect(ops).toEqual(['put', 'put-end', 'next']);
          expect(run.equals(RUN)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('reads the same from a reused read buffer, whose bytes change after each read', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 64, max: 9000 }),
        fc.integer({ min: 1, max: 4 }),
        async (size, fullEvery) => {
          const reads = new ReusedReads(size);
          const socket = new Duplex({ read() {}, write: (_c, _e, done) => done() });
          const channel = new Channel(socket, { reads });
          const reading = readAll(channel, fullEvery);
          const { buffer, callback } = reads.onread;
          for (let at = 0; at < STREAM.length; at += size) {
            const n = STREAM.copy(buffer, 0, at, Math.min(at + size, STREAM.length));
            callback(n, buffer);
            buffer.fill(0xee); // what a next read would do to the bytes
            await new Promise((resolve) => setImmediate(resolve));
          }
          const { ops, run } = await reading;
          expect(ops).toEqual(['put', 'put-end', 'next']);
          expect(run.equals(RUN)).toBe(true);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('keeps every message it handed out whole while the buffers behind held bytes are reused', async () => {
    // Messages with bodies and runs between them, read through a reused buffer scribbled over
    // after each read; every envelope is kept to the end and checked then: a message handed
    // out as a view of a buffer that went back to the spares would have changed meanwhile.
    const items = Array.from({ length: 400 }, (_, i) => ({
      body: randomBytes((i * 7919) % 3000),
      run: randomBytes((i * 104729) % (96 * 1024)),
    }));
    const stream = Buffer.concat(
      items.flatMap(({ body, run }, i) => [encodeEnvelope({ i, run: run.length }, body), run]),
    );
    const reads = new ReusedReads(256 * 1024);
    const socket = new Duplex({ read() {}, write: (_c, _e, done) => done() });
    const channel = new Channel(socket, { reads });
    const reading = (async () => {
      const kept = [];
      for (let i = 0; i < items.length; i++) {
        const envelope = await channel.receive();
        kept.push(envelope);
        const parts: Buffer[] = [];
        await channel.receiveRun(
          Number(envelope.header.run),
          (chunk) => {
            parts.push(Buffer.from(chunk));
            return true;
          },
          async () => {},
        );
        expect(Buffer.concat(parts).equals(items[i]?.run ?? Buffer.alloc(0))).toBe(true);
      }
      return kept;
    })();
    const { buffer, callback } = reads.onread;
    for (let at = 0, cut = 1; at < stream.length; at += cut, cut = (cut * 31 + 7) % buffer.length || 1) {
      const n = stream.copy(buffer, 0, at, Math.min(at + cut, stream.length));
      callback(n, buffer);
      buffer.fill(0xee);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const kept = await reading;
    kept.forEach((envelope, i) => {
      expect(envelope.header.i).toBe(i);
      expect(Buffer.from(envelope.body ?? []).equals(items[i]?.body ?? Buffer.alloc(0))).toBe(true);
    });
  });

  it('holds bytes dripped a read at a time in one spare buffer, not one a read', async () => {
    const message = encodeEnvelope({ op: 'slow' }, randomBytes(300_000));
    const reads = new ReusedReads(256 * 1024);
    const socket = new Duplex({ read() {}, write: (_c, _e, done) => done() });
    const channel = new Channel(socket, { reads });
    const received = channel.receive();
    const { buffer, callback } = reads.onread;
    let at = 0;
    for (; at < 300; at++) {
      buffer[0] = message[at] as number;
      callback(1, buffer);
    }
    expect(channel.held).toEqual({ chunks: 1, spares: 1 });
    // Past the first hold's 256 KiB: a second one, no more.
    for (; at < message.length - 1; at += Math.min(1000, message.length - 1 - at)) {
      callback(message.copy(buffer, 0, at, Math.min(at + 1000, message.length - 1)), buffer);
    }
    expect(channel.held).toEqual({ chunks: 2, spares: 2 });
    buffer[0] = message[at] as number;
    callback(1, buffer);
    const envelope = await received;
    expect(Buffer.from(envelope.body ?? []).equals(message.subarray(message.length - 300_000))).toBe(true);
    expect(channel.held).toEqual({ chunks: 0, spares: 0 });
  });

  it('gathers small fresh chunks into one buffer, and keeps large ones as they came', async () => {
    const message = encodeEnvelope({ op: 'slow' }, randomBytes(100_000));
    const socket = fakeSocket();
    const channel = new Channel(socket);
    const received = channel.receive();
    let at = 0;
    for (; at < 5000; at++) socket.write(message.subarray(at, at + 1));
    await new Promise((resolve) => setImmediate(resolve));
    // 5,000 one-byte chunks, copied one after another into small buffers of 4,000 bytes.
    expect(channel.held).toEqual({ chunks: 2, spares: 0 });
    socket.write(message.subarray(at, at + 50_000));
    at += 50_000;
    await new Promise((resolve) => setImmediate(resolve));
    expect(channel.held).toEqual({ chunks: 3, spares: 0 });
    socket.write(message.subarray(at));
    const envelope = await received;
    expect(Buffer.from(envelope.body ?? []).equals(message.subarray(message.length - 100_000))).toBe(true);
    expect(channel.held).toEqual({ chunks: 0, spares: 0 });
  });

  it('keeps reading a real socket with a reused buffer after the consumer said it was full', async () => {
    // Regression: returning false from onread stopped the reads without pausing the socket,
    // so resume() did nothing, the event loop emptied and the download ended in silence.
    const big = randomBytes(8 * 1024 * 1024);
    const server = net.createServer((socket) => {
      socket.end(Buffer.concat([encodeEnvelope({ op: 'put' }), big, encodeEnvelope({ op: 'put-end' })]));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const reads = new ReusedReads(64 * 1024);
    const socket = net.connect({
      port: (server.address() as net.AddressInfo).port,
      host: '127.0.0.1',
      onread: reads.onread,
    });
    const channel = new Channel(socket, { reads, readAhead: 256 * 1024 });
    expect((await channel.receive()).header.op).toBe('put');
    expect((await takeRun(channel, big.length)).equals(big)).toBe(true);
    expect((await channel.receive()).header.op).toBe('put-end');
    socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('reads a socket a server accepted into one reused buffer (adopt), messages and a run intact', async () => {
    const big = randomBytes(8 * 1024 * 1024);
    const server = await listening();
    const [accepted, client] = await connectedPair(server);
    const reads = ReusedReads.adopt(accepted, 64 * 1024);
    // Undefined means this Node's sockets no longer take a user buffer this way: the server
    // would read fresh buffers again, slower; this test says so.
    expect(reads).toBeDefined();
    let fromReused = 0;
    const channel = new Channel(accepted, { reads, readAhead: 256 * 1024 });
    client.end(Buffer.concat([encodeEnvelope({ op: 'put' }), big, encodeEnvelope({ op: 'put-end' })]));
    expect((await channel.receive()).header.op).toBe('put');
    const run = await takeRun(channel, big.length, (chunk) => {
      if (chunk.buffer === reads?.onread.buffer.buffer) fromReused += chunk.length;
    });
    expect(run.equals(big)).toBe(true);
    // The run came out of the one buffer, but for what was read with its message (held, copied).
    expect(fromReused).toBeGreaterThan(big.length - 256 * 1024);
    expect((await channel.receive()).header.op).toBe('put-end');
    const end = await channel.receive().catch((err: unknown) => err);
    expect(isSockitError(end, ErrorCode.CONNECTION_CLOSED)).toBe(true);
    accepted.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('switches to a reused buffer at its first large run (adoptReadsAt), bytes held by a paused socket first', async () => {
    const big = randomBytes(8 * 1024 * 1024);
    const server = await listening();
    const [accepted, client] = await connectedPair(server);
    const channel = new Channel(accepted, { adoptReadsAt: 1024 * 1024, readAhead: 64 * 1024 });
    client.end(
      Buffer.concat([
        encodeEnvelope({ op: 'small' }),
        randomBytes(1000),
        encodeEnvelope({ op: 'put' }),
        big,
        encodeEnvelope({ op: 'put-end' }),
      ]),
    );
    expect((await channel.receive()).header.op).toBe('small');
    // A run under the threshold: read as before.
    await channel.receiveRun(
      1000,
      () => true,
      async () => {},
    );
    expect((await channel.receive()).header.op).toBe('put');
    // The read-ahead is full: the socket pauses, and its stream holds what was read meanwhile.
    for (let i = 0; i < 100 && accepted.readableLength === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(accepted.readableLength).toBeGreaterThan(0);
    const buffers = new Set<ArrayBufferLike>();
    const parts: Buffer[] = [];
    await channel.receiveRun(
      big.length,
      (chunk) => {
        buffers.add(chunk.buffer);
        parts.push(Buffer.from(chunk));
        return true;
      },
      async () => {},
    );
    expect(Buffer.concat(parts).equals(big)).toBe(true);
    // Fresh reads would be a buffer each (8 MiB: 128 or more); held bytes, then the reused one.
    expect(parts.length).toBeGreaterThan(30);
    expect(buffers.size).toBeLessThan(8);
    expect((await channel.receive()).header.op).toBe('put-end');
    accepted.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('takes at most 2 MiB from a socket on reused reads in one turn of the event loop', async () => {
    const big = randomBytes(24 * 1024 * 1024);
    const server = await listening();
    const [accepted, client] = await connectedPair(server);
    const reads = ReusedReads.adopt(accepted);
    expect(reads).toBeDefined();
    const channel = new Channel(accepted, { reads, readAhead: 64 * 1024 });
    client.end(Buffer.concat([encodeEnvelope({ op: 'put' }), big]));
    expect((await channel.receive()).header.op).toBe('put');
    // Bytes taken between two turns (a chain of immediates runs once a turn), the most of them.
    let sinceTurn = 0;
    let most = 0;
    let running = true;
    const turn = (): void => {
      most = Math.max(most, sinceTurn);
      sinceTurn = 0;
      if (running) setImmediate(turn);
    };
    setImmediate(turn);
    let left = big.length;
    await channel.receiveRun(
      big.length,
      (chunk) => {
        sinceTurn += chunk.length;
        left -= chunk.length;
        // A slow consumer, so that the kernel holds megabytes at each turn.
        const until = performance.now() + 0.2;
        while (performance.now() < until);
        return true;
      },
      async () => {},
    );
    running = false;
    expect(left).toBe(0);
    expect(most).toBeGreaterThan(512 * 1024); // the socket did have more than a read's worth waiting
    expect(most).toBeLessThanOrEqual(2 * 1024 * 1024 + 256 * 1024);
    accepted.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('does not adopt a socket with bytes already read, a data listener, or TLS', async () => {
    const server = await listening();
    const [early, earlyClient] = await connectedPair(server);
    earlyClient.write('hello');
    while (early.readableLength === 0) await new Promise((r) => setTimeout(r, 5));
    expect(ReusedReads.adopt(early)).toBeUndefined();
    const [listened, listenedClient] = await connectedPair(server);
    listened.on('data', () => {});
    expect(ReusedReads.adopt(listened)).toBeUndefined();
    for (const s of [early, earlyClient, listened, listenedClient]) s.destroy();
    // A TLS socket reads decrypted bytes into buffers of its own.
    const tlsLike = Object.assign(new PassThrough(), { encrypted: true, _handle: { useUserBuffer() {} } });
    expect(ReusedReads.adopt(tlsLike)).toBeUndefined();
    await new Promise((resolve) => server.close(resolve));
  });

  it('ReusedReads.discard drains sockets being closed through one shared buffer, to their end', async () => {
    const server = await listening();
    const pairs = [await connectedPair(server), await connectedPair(server)];
    const userBuffer = (socket: Duplex): unknown => {
      const key = Object.getOwnPropertySymbols(socket).find((k) => k.description === 'kBuffer');
      return key ? (socket as unknown as Record<symbol, unknown>)[key] : undefined;
    };
    const ends = pairs.map(([accepted, client]) => {
      // False means this Node's sockets no longer take a user buffer this way: a server
      // draining refused peers would read fresh buffers again; this test says so.
      expect(ReusedReads.discard(accepted)).toBe(true);
      let seen = 0;
      accepted.on('data', (chunk: Buffer) => {
        seen += chunk.length;
      });
      accepted.resume();
      client.end(randomBytes(4 * 1024 * 1024));
      return new Promise<number>((resolve) => accepted.on('end', () => resolve(seen)));
    });
    // Every byte read went to the shared buffer and was dropped: no 'data', and each end seen.
    expect(await Promise.all(ends)).toEqual([0, 0]);
    const [first, second] = pairs.map(([accepted]) => userBuffer(accepted));
    expect(first).toBeInstanceOf(Buffer);
    expect(second).toBe(first);
    // A socket with bytes already read is not switched, as adopt() would not switch it.
    const [early, earlyClient] = await connectedPair(server);
    earlyClient.write('hello');
    while (early.readableLength === 0) await new Promise((r) => setTimeout(r, 5));
    expect(ReusedReads.discard(early)).toBe(false);
    for (const s of [...pairs.flat(), early, earlyClient]) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('discard() drops what comes and lets the socket see its peer close, on reused reads or not', async () => {
    const server = await listening();
    for (const reuse of [true, false]) {
      const [accepted, client] = await connectedPair(server);
      const reads = reuse ? ReusedReads.adopt(accepted) : undefined;
      expect(reads !== undefined).toBe(reuse);
      // A read-ahead far smaller than what the peer sends: without discard the socket pauses.
      const channel = new Channel(accepted, { reads, readAhead: 1024 });
      client.write(encodeEnvelope({ op: 'first' }));
      expect((await channel.receive()).header.op).toBe('first');
      const waiting = channel.receive().catch((err: unknown) => err);
      channel.discard();
      expect(isSockitError(await waiting, ErrorCode.CONNECTION_CLOSED)).toBe(true);
      const closed = new Promise((r) => accepted.once('end', r));
      client.end(randomBytes(4 * 1024 * 1024));
      await closed;
      expect(accepted.bytesRead).toBeGreaterThan(4 * 1024 * 1024);
      accepted.destroy();
    }
    await new Promise((resolve) => server.close(resolve));
  });

  it('rejects a run whose peer leaves half way', async () => {
    const server = net.createServer((socket) => {
      socket.end(Buffer.concat([encodeEnvelope({ op: 'put' }), RUN.subarray(0, 1000)]));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const reads = new ReusedReads();
    const socket = net.connect({
      port: (server.address() as net.AddressInfo).port,
      host: '127.0.0.1',
      onread: reads.onread,
    });
    const channel = new Channel(socket, { reads });
    expect((await channel.receive()).header.op).toBe('put');
    let got = 0;
    const failure = await channel
      .receiveRun(
        RUN.length,
        (chunk) => {
          got += chunk.length;
          return true;
        },
        async () => {},
      )
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(isSockitError(failure, ErrorCode.CONNECTION_CLOSED)).toBe(true);
    expect(got).toBe(1000);
    socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
});

describe('Channel limits', () => {
  it('refuses a message announced over the pre-log-in limit at once, and takes it after authenticate()', async () => {
    const socket = fakeSocket();
    const channel = new Channel(socket, { preLogin: { maxMessageSize: 100 } });
    socket.write(encodeEnvelope({ pad: 'x'.repeat(200) }).subarray(0, 4));
    const err = await channel.receive().catch((e: unknown) => e);
    expect(isSockitError(err, ErrorCode.FRAME_TOO_LARGE)).toBe(true);
    const after = new Channel(fakeSocket(), { preLogin: { maxMessageSize: 100 } });
    after.authenticate();
    after.socket.write(encodeEnvelope({ pad: 'x'.repeat(200) }));
    expect((await after.receive()).header.pad).toHaveLength(200);
  });

  it('fails a message that does not arrive whole within the frame deadline with ERR_READ_TIMEOUT', async () => {
    const socket = fakeSocket();
    const channel = new Channel(socket, { frameTimeoutMs: 100 });
    const frame = encodeEnvelope({ op: 'slow' });
    socket.write(frame.subarray(0, 6));
    const drip = setInterval(() => socket.write(Buffer.alloc(0)), 20);
    const err = await channel.receive().catch((e: unknown) => e);
    clearInterval(drip);
    expect(isSockitError(err, ErrorCode.READ_TIMEOUT)).toBe(true);
  });

  it('does not read the next message while more than maxUnsent bytes of replies wait to go', async () => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const [accepted, client] = await connectedPair(server);
    client.pause(); // never reads
    const channel = new Channel(accepted, { maxUnsent: 64 * 1024 });
    client.write(Buffer.concat([encodeEnvelope({ n: 1 }), encodeEnvelope({ n: 2 })]));
    expect((await channel.receive()).header.n).toBe(1);
    // A reply far larger than every buffer on the way: it stays unsent.
    channel.send({ ok: true }, Buffer.alloc(12 * 1024 * 1024));
    const second = channel.receive();
    const state = await Promise.race([
      second.then(() => 'read'),
      new Promise((r) => setTimeout(() => r('waiting'), 300)),
    ]);
    expect(state).toBe('waiting');
    expect(accepted.writableLength).toBeGreaterThan(64 * 1024);
    client.resume(); // the peer reads: the server reads again
    expect((await second).header.n).toBe(2);
    client.destroy();
    accepted.destroy();
    await new Promise((r) => server.close(r));
  });

  it('a second read while one waits is a bug: ERR_INTERNAL', async () => {
    const socket = fakeSocket();
    const channel = new Channel(socket);
    const first = channel.receive();
    await expect(channel.receive()).rejects.toMatchObject({ code: ErrorCode.INTERNAL });
    socket.write(encodeEnvelope({ op: 'one' }));
    expect((await first).header.op).toBe('one');
  });
});

describe('Channel writes', () => {
  /** A socket stand-in that records each write it is handed (one per system call on a real one). */
  function recordingSocket(): { socket: Duplex; writes: Buffer[][] } {
    const writes: Buffer[][] = [];
    const socket = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, done) {
        writes.push([chunk]);
        done();
      },
      writev(chunks, done) {
        writes.push(chunks.map((c) => c.chunk as Buffer));
        done();
      },
    });
    return { socket, writes };
  }

  it('sends what is written in one turn together, once the code running has to wait', async () => {
    const { socket, writes } = recordingSocket();
    const channel = new Channel(socket);
    for (let i = 0; i < 8; i++) channel.send({ op: 'get', n: i });
    channel.write(Buffer.from('raw'));
    await Promise.resolve(); // a promise callback is still this turn
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toHaveLength(1);
    expect(writes[0]).toHaveLength(9);
    // The next turn's writes go on their own, in order.
    channel.send({ op: 'get', n: 8 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toHaveLength(2);
    const all = Buffer.concat(writes.flat());
    const expected = Buffer.concat([
      ...Array.from({ length: 8 }, (_, i) => encodeEnvelope({ op: 'get', n: i })),
      Buffer.from('raw'),
      encodeEnvelope({ op: 'get', n: 8 }),
    ]);
    expect(all.equals(expected)).toBe(true);
  });

  it('loses nothing written just before the socket is ended', async () => {
    const { socket, writes } = recordingSocket();
    const channel = new Channel(socket);
    channel.send({ ok: false, code: 'ERR_BAD_REQUEST', message: 'bye' });
    socket.end();
    await new Promise((resolve) => socket.once('finish', resolve));
    expect(
      Buffer.concat(writes.flat()).equals(
        encodeEnvelope({ ok: false, code: 'ERR_BAD_REQUEST', message: 'bye' }),
      ),
    ).toBe(true);
  });
});
