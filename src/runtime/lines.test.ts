/** LineDecoder and LineConnection: every split, UTF-8 across chunks, the length limit, slow readers. */
import { once } from 'node:events';
import net from 'node:net';
import { Duplex } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { type BadLine, CheckedLineConnection, LineConnection, LineDecoder } from './lines.js';

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

async function collect(conn: LineConnection): Promise<string[]> {
  const out: string[] = [];
  for await (const line of conn) out.push(line);
  return out;
}

const LINES = ['SET a 1', '', 'GET ünïcode €', 'emoji 😀 here', 'KEYS'];
const STREAM = Buffer.from('SET a 1\r\n\nGET ünïcode €\r\nemoji 😀 here\nKEYS\r\n', 'utf8');
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

const open: net.Server[] = [];
afterEach(async () => {
  for (const server of open.splice(0)) await new Promise((r) => server.close(r));
});

async function socketPair(): Promise<{ client: net.Socket; server: net.Socket }> {
  const listener = net.createServer();
  open.push(listener);
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  client.on('error', () => {});
  const [server] = (await once(listener, 'connection')) as [net.Socket];
  return { client, server };
}

describe('LineDecoder', () => {
  it('cuts the same lines (LF or CR LF) whatever the offset the stream is split at', () => {
    for (let at = 0; at <= STREAM.length; at++) {
      const decoder = new LineDecoder();
      const got: string[] = [];
      decoder.push(STREAM.subarray(0, at), (l) => got.push(l));
      decoder.push(STREAM.subarray(at), (l) => got.push(l));
      expect(got).toEqual(LINES);
      expect(decoder.end()).toBeUndefined();
    }
  });

  it('decodes characters split across chunks, fed a byte at a time', () => {
    const decoder = new LineDecoder();
    const got: string[] = [];
    for (const byte of STREAM) decoder.push(Buffer.from([byte]), (l) => got.push(l));
    expect(got).toEqual(LINES);
  });

  it('cuts random lines at random splits (property)', () => {
    const line = fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ''));
    fc.assert(
      fc.property(fc.array(fc.tuple(line, fc.boolean())), fc.array(fc.nat()), (lines, cuts) => {
        const bytes = Buffer.from(lines.map(([l, crlf]) => l + (crlf ? '\r\n' : '\n')).join(''));
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const decoder = new LineDecoder();
        const got: string[] = [];
        let from = 0;
        for (const at of [...points, bytes.length]) {
          decoder.push(bytes.subarray(from, at), (l) => got.push(l));
          from = at;
        }
        expect(got).toEqual(lines.map(([l]) => l));
      }),
    );
  });

  it('takes a line of exactly the limit, with LF or CR LF, and refuses one byte more', () => {
    const decoder = new LineDecoder({ maxLineLength: 8 });
    const got: string[] = [];
    decoder.push(Buffer.from('12345678\n1234'), (l) => got.push(l));
    decoder.push(Buffer.from('5678\r'), (l) => got.push(l));
    decoder.push(Buffer.from('\n'), (l) => got.push(l));
    expect(got).toEqual(['12345678', '12345678']);
    expect(() => decoder.push(Buffer.from('123456789\n'), () => {})).toThrow(
      expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE }),
    );
    expect(() => new LineDecoder({ maxLineLength: 8 }).push(Buffer.from('12345678x\r\n'), () => {})).toThrow(
      expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE }),
    );
  });

  it('refuses a line with no end dripping in a byte at a time, holding no more than the limit', () => {
    const decoder = new LineDecoder({ maxLineLength: 100 });
    let peak = 0;
    let refused: unknown;
    for (let i = 0; i < 10_000 && !refused; i++) {
      try {
        decoder.push(Buffer.from('x'), () => {});
      } catch (err) {
        refused = err;
      }
      peak = Math.max(peak, decoder.held);
    }
    expect(refused).toMatchObject({ code: ErrorCode.FRAME_TOO_LARGE });
    expect(peak).toBeLessThanOrEqual(101);
  });

  it('turns bytes that are not UTF-8 into U+FFFD, and gives a last line without its end', () => {
    const decoder = new LineDecoder();
    const got: string[] = [];
    decoder.push(Buffer.from([0x61, 0xff, 0x62, 0x0a, 0x7a]), (l) => got.push(l));
    expect(got).toEqual(['a\ufffdb']);
    expect(decoder.end()).toBe('z');
  });
});

describe('LineDecoder.pushBytes', () => {
  it('hands over lines as their bytes, invalid UTF-8 untouched, whatever the split', () => {
    const bytes = Buffer.from([0x61, 0xff, 0x0d, 0x0a, 0xc3, 0xa9, 0x0a]);
    for (let at = 0; at <= bytes.length; at++) {
      const decoder = new LineDecoder();
      const got: (Buffer | undefined)[] = [];
      decoder.pushBytes(bytes.subarray(0, at), (l) => got.push(l && Buffer.from(l)));
      decoder.pushBytes(bytes.subarray(at), (l) => got.push(l && Buffer.from(l)));
      expect(got).toEqual([Buffer.from([0x61, 0xff]), Buffer.from([0xc3, 0xa9])]);
    }
  });

  it('reports a line over the limit once, drops it up to its end, and reads the next one', () => {
    const input = Buffer.from(`ok\n${'x'.repeat(30)}\r\n12345678\r\nafter\n`);
    for (let at = 0; at <= input.length; at++) {
      const decoder = new LineDecoder({ maxLineLength: 8 });
      const got: (string | undefined)[] = [];
      const emit = (l: Buffer | undefined): void => void got.push(l?.toString());
      decoder.pushBytes(input.subarray(0, at), emit);
      decoder.pushBytes(input.subarray(at), emit);
      expect(got).toEqual(['ok', undefined, '12345678', 'after']);
      expect(decoder.held).toBe(0);
    }
  });

  it('drops a line with no end dripping in, holding no more than the limit', () => {
    const decoder = new LineDecoder({ maxLineLength: 100 });
    const got: (Buffer | undefined)[] = [];
    let peak = 0;
    for (let i = 0; i < 10_000; i++) {
      decoder.pushBytes(Buffer.from('x'), (l) => got.push(l));
      peak = Math.max(peak, decoder.held);
    }
    decoder.pushBytes(Buffer.from('\nnext\n'), (l) => got.push(l));
    expect(got.map((l) => l?.toString())).toEqual([undefined, 'next']);
    expect(peak).toBeLessThanOrEqual(101);
  });
});

describe('LineConnection', () => {
  it('reads every line whatever the split, and the last line without its end', async () => {
    for (let at = 0; at <= STREAM.length; at++) {
      const { socket } = fakeSocket();
      const conn = new LineConnection(socket);
      socket.push(STREAM.subarray(0, at));
      socket.push(STREAM.subarray(at));
      socket.push('tail');
      socket.push(null);
      expect(await collect(conn)).toEqual([...LINES, 'tail']);
    }
  });

  it('reads many lines from one chunk, and pauses the socket while they are unread', async () => {
    const { socket } = fakeSocket();
    const conn = new LineConnection(socket, { maxUnread: 10 });
    const many = Array.from({ length: 5000 }, (_, i) => `line ${i}`);
    socket.push(`${many.join('\n')}\n`);
    socket.push(null);
    await tick();
    expect(socket.isPaused()).toBe(true);
    expect(await collect(conn)).toEqual(many);
  });

  it('writes lines sent in one turn with one write; refuses a line that would forge another', async () => {
    const { socket, writes } = fakeSocket();
    const conn = new LineConnection(socket, { newline: '\r\n' });
    conn.send('OK');
    conn.send('VALUE ü');
    await tick();
    expect(writes).toEqual([Buffer.from('OK\r\nVALUE ü\r\n')]);
    expect(() => conn.send('OK\r\nVALUE forged')).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
  });

  it('refuses an over-long line after the lines before it, stays writable, and stops reading', async () => {
    const { client, server } = await socketPair();
    const conn = new LineConnection(server, { maxLineLength: 1024 });
    const got: string[] = [];
    const done = (async () => {
      for await (const line of conn) got.push(line);
    })();
    // A good line, then 4 MiB without a line end, in pieces, as fast as the socket takes it.
    client.write('first\n');
    const piece = Buffer.alloc(64 * 1024, 0x78);
    let written = 0;
    const refused = done.then(
      () => undefined,
      (err: unknown) => err,
    );
    while (written < 4 * 1024 * 1024) {
      written += piece.length;
      if (!client.write(piece)) {
        const drained = once(client, 'drain').then(() => 'drain');
        if ((await Promise.race([drained, refused.then(() => 'refused')])) === 'refused') break;
      }
    }
    expect(await refused).toMatchObject({ code: ErrorCode.FRAME_TOO_LARGE });
    expect(got).toEqual(['first']);
    // Reading stopped: the rest stays in the kernel, not in the server's memory.
    for (let i = 0; i < 20; i++) await tick();
    expect(server.bytesRead).toBeLessThan(1024 * 1024);
    expect(server.readableLength).toBeLessThanOrEqual(256 * 1024);
    // Still writable: the refusal reaches the peer, then the server ends its side.
    const answer = once(client, 'data');
    const ended = once(client, 'end');
    conn.send('ERR ERR_FRAME_TOO_LARGE line too long');
    void conn.close();
    expect(String((await answer)[0])).toBe('ERR ERR_FRAME_TOO_LARGE line too long\n');
    await ended;
    client.destroy();
    await conn.closed;
  });

  it('drops a peer that never reads once its queue reaches the bound', async () => {
    const { client, server } = await socketPair();
    client.pause();
    const bound = 256 * 1024;
    const conn = new LineConnection(server, { maxQueuedBytes: bound });
    const line = 'v'.repeat(16 * 1024);
    let peak = 0;
    let sent = 0;
    while (conn.send(line)) {
      sent++;
      peak = Math.max(peak, conn.queued.bytes);
      await tick();
      if (sent > 100_000) break;
    }
    expect((await conn.closed)?.code).toBe(ErrorCode.SLOW_READER);
    expect(peak).toBeLessThanOrEqual(bound);
    expect(sent).toBeLessThan(100_000);
    client.destroy();
  });
});

describe('CheckedLineConnection', () => {
  it('hands over a line that is not UTF-8, or too long, as a BadLine, and reads on', async () => {
    const { socket } = fakeSocket();
    const conn = new CheckedLineConnection(socket, { maxLineLength: 16 });
    socket.push(Buffer.from('fine \uFFFD too\n', 'utf8'));
    socket.push(Buffer.from([0x68, 0xff, 0x69, 0x0a]));
    socket.push(`${'x'.repeat(40)}\n`);
    socket.push(Buffer.from([0xe2, 0x82]));
    socket.push(Buffer.from([0xac, 0x0a]));
    socket.push('after\n');
    socket.push(null);
    const out: (string | BadLine)[] = [];
    for await (const line of conn) out.push(line);
    // A real U+FFFD is text like any other; a split character is whole once its line is.
    expect(out).toEqual(['fine \uFFFD too', { problem: 'encoding' }, { problem: 'length' }, '€', 'after']);
  });
});
