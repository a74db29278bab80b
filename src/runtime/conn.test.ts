/** EnvelopeConnection: framing under every split, the slow-reader bound, one write per turn. */
import { once } from 'node:events';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { encodeEnvelope } from '../wire/envelope.js';
import { EnvelopeConnection } from './conn.js';
import { events } from './events.js';

/** A socket stand-in: bytes pushed in are read; every write call is recorded. */
function fakeSocket(): { socket: Duplex; writes: Buffer[] } {
  const writes: Buffer[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      writes.push(chunk);
      callback();
    },
  });
  return { socket, writes };
}

async function collect(conn: EnvelopeConnection): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const { header, body } of conn) out.push({ ...header, body: body.toString() });
  return out;
}

const MESSAGES = [
  { header: { op: 'a' }, body: Buffer.from('first body') },
  { header: { op: 'b', n: 2 } },
  { header: { op: 'c', text: 'ünïcode' }, body: Buffer.from('third') },
];
const STREAM = Buffer.concat(MESSAGES.map((m) => encodeEnvelope(m.header, m.body)));
const EXPECTED = MESSAGES.map((m) => ({ ...m.header, body: m.body?.toString() ?? '' }));

const open: net.Server[] = [];
afterEach(async () => {
  for (const server of open.splice(0)) await new Promise((r) => server.close(r));
});

describe('EnvelopeConnection', () => {
  it('reads every message whatever the offset the stream is split at', async () => {
    for (let at = 0; at <= STREAM.length; at++) {
      const { socket } = fakeSocket();
      const conn = new EnvelopeConnection(socket);
      socket.push(STREAM.subarray(0, at));
      socket.push(STREAM.subarray(at));
      socket.push(null);
      expect(await collect(conn)).toEqual(EXPECTED);
    }
  });

  it('reads many messages from one chunk, and pauses the socket while they are unread', async () => {
    const { socket } = fakeSocket();
    const conn = new EnvelopeConnection(socket, { maxUnread: 10 });
    const many = Array.from({ length: 1000 }, (_, i) => encodeEnvelope({ i }));
    socket.push(Buffer.concat(many));
    socket.push(null);
    await new Promise((r) => setImmediate(r));
    expect(socket.isPaused()).toBe(true);
    const got = await collect(conn);
    expect(got.map((m) => (m as { i: number }).i)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('fails with ERR_TRUNCATED_FRAME when the stream ends inside a message', async () => {
    const { socket } = fakeSocket();
    const conn = new EnvelopeConnection(socket);
    socket.push(STREAM.subarray(0, STREAM.length - 1));
    socket.push(null);
    await expect(collect(conn)).rejects.toMatchObject({ code: ErrorCode.TRUNCATED_FRAME });
  });

  it('writes N messages sent in one turn with one socket write', async () => {
    const { socket, writes } = fakeSocket();
    const conn = new EnvelopeConnection(socket);
    for (let i = 0; i < 100; i++) expect(conn.send({ header: { i } })).toBe(true);
    expect(writes.length).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(writes.length).toBe(1);
    expect(Buffer.concat(writes)).toEqual(
      Buffer.concat(Array.from({ length: 100 }, (_, i) => encodeEnvelope({ i }))),
    );
    conn.send({ header: { i: 100 } });
    await new Promise((r) => setImmediate(r));
    expect(writes.length).toBe(2);
  });

  it('with flushGapMs, writes at once after a quiet spell, then gathers what comes within the gap', async () => {
    const { socket, writes } = fakeSocket();
    // A gap far longer than the turns below take, however loaded the machine.
    const conn = new EnvelopeConnection(socket, { flushGapMs: 2000 });
    const turn = () => new Promise((r) => setImmediate(r));
    conn.send({ header: { i: 0 } });
    await turn();
    expect(writes.length).toBe(1); // the first goes at once
    for (let i = 1; i <= 3; i++) {
      conn.send({ header: { i } });
      await turn();
    }
    expect(writes.length).toBe(1); // three turns within the gap: held
    for (let i = 0; i < 150 && writes.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(writes.map((w) => w.length)).toEqual([
      encodeEnvelope({ i: 0 }).length,
      Buffer.concat([1, 2, 3].map((i) => encodeEnvelope({ i }))).length,
    ]);
    await conn.close();
  });

  it('drops a peer that never reads once its queue reaches the bound; memory stays at the bound', async () => {
    const server = net.createServer();
    open.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    client.pause(); // never reads
    client.on('error', () => {});
    const [socket] = (await once(server, 'connection')) as [net.Socket];
    const bound = 256 * 1024;
    const errors: unknown[] = [];
    const off = events.error.subscribe((e) => errors.push(e));
    const conn = new EnvelopeConnection(socket, { maxQueuedBytes: bound, service: 'chat' });
    const body = Buffer.alloc(16 * 1024, 1);
    let peak = 0;
    let sent = 0;
    // One message per turn, as a server answering a stream of events would.
    while (conn.send({ header: { n: sent }, body })) {
      sent++;
      peak = Math.max(peak, conn.queued.bytes);
      await new Promise((r) => setImmediate(r));
      if (sent > 100_000) break;
    }
    const reason = await conn.closed;
    off();
    expect(reason?.code).toBe(ErrorCode.SLOW_READER);
    // One event for the drop, under the connection's service.
    expect(errors).toEqual([{ service: 'chat', code: ErrorCode.SLOW_READER }]);
    expect(peak).toBeLessThanOrEqual(bound);
    // The kernel took some before the queue filled: more than the bound went, but not without end.
    expect(sent).toBeLessThan(100_000);
    client.destroy();
  });

  it('close() on a connection paused by unread messages still sees the peer go, and closes', async () => {
    const server = net.createServer({ allowHalfOpen: true });
    open.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = once(server, 'connection');
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    const [socket] = (await accepted) as [net.Socket];
    const conn = new EnvelopeConnection(socket, { maxUnread: 1 });
    // Far more than one unread message, and more than the stream buffers (its high-water mark,
    // 16 KiB) and the kernel hold: reading stops, and nothing will read again.
    client.write(Buffer.concat(Array.from({ length: 400_000 }, (_, i) => encodeEnvelope({ i }))));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(socket.isPaused()).toBe(true);
    conn.send({ header: { bye: true } });
    const closing = conn.close();
    // The peer reads the goodbye and the end, and closes its side (allowHalfOpen false).
    client.resume();
    await once(client, 'close');
    await closing;
    expect(socket.destroyed).toBe(true);
  });

  it('close() sends what is queued, then ends', async () => {
    const { socket, writes } = fakeSocket();
    const conn = new EnvelopeConnection(socket);
    conn.send({ header: { last: true } });
    const closing = conn.close();
    expect(conn.send({ header: { late: true } })).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(Buffer.concat(writes)).toEqual(encodeEnvelope({ last: true }));
    expect(socket.writableEnded).toBe(true);
    socket.destroy();
    await closing;
  });
});
