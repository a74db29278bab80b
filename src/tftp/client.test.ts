/** The client against small scripted servers: how it treats OACKs, refusals and plain answers. */
import dgram from 'node:dgram';
import { Readable, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { tftpGet, tftpPut } from './client.js';
import type { TftpError } from './errors.js';
import {
  decodePacket,
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  Opcode,
  type Packet,
  type Request,
} from './packet.js';

const servers: dgram.Socket[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A server whose first answer to each request comes from `answer`, from a fresh port; it logs what it got. */
async function scripted(answer: (request: Request) => Buffer, seen: Packet[]): Promise<number> {
  const main = dgram.createSocket('udp4');
  servers.push(main);
  main.on('message', (msg, from) => {
    const d = decodePacket(msg);
    if (!d.ok) return;
    seen.push(d.packet);
    if (d.packet.opcode !== Opcode.RRQ) return;
    const tid = dgram.createSocket('udp4');
    servers.push(tid);
    tid.on('message', (m) => {
      const p = decodePacket(m);
      if (p.ok) seen.push(p.packet);
    });
    tid.bind(0, '127.0.0.1', () => tid.send(answer(d.packet as Request), from.port, from.address));
  });
  await new Promise<void>((resolve) => main.bind(0, '127.0.0.1', resolve));
  return main.address().port;
}

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  return {
    stream: new Writable({
      write(c: Buffer, _e, done) {
        chunks.push(c);
        done();
      },
    }),
    text: () => Buffer.concat(chunks).toString(),
  };
}

describe('tftpGet', () => {
  it('asks again without options when the server refuses them with ERROR 8', async () => {
    const seen: Packet[] = [];
    const port = await scripted(
      (request) =>
        request.options.size > 0
          ? encodeError(8, 'Unsupported option(s) requested')
          : encodeData(1, Buffer.from('plain')),
      seen,
    );
    const out = sink();
    const result = await tftpGet({ host: '127.0.0.1', port, tsize: true, blksize: 1024 }, 'f', out.stream);
    expect(out.text()).toBe('plain');
    expect(result.options.blksize).toBe(512);
    const requests = seen.filter((p): p is Request => p.opcode === Opcode.RRQ);
    expect(requests.map((r) => r.options.size)).toEqual([2, 0]);
  });

  it('falls back to the defaults when the server answers options with plain DATA', async () => {
    const seen: Packet[] = [];
    const port = await scripted(() => encodeData(1, Buffer.from('no oack')), seen);
    const out = sink();
    const result = await tftpGet({ host: '127.0.0.1', port, blksize: 8192, windowsize: 8 }, 'f', out.stream);
    expect(out.text()).toBe('no oack');
    expect(result.options).toMatchObject({ blksize: 512, windowsize: 1 });
  });

  it('fails a download that brings fewer bytes than the server announced, and keeps more', async () => {
    // The server's file cut to 1,300 bytes after it announced 5,000.
    const short = await announcing(5000, Buffer.alloc(1300, 1));
    const err = (await tftpGet({ host: '127.0.0.1', port: short, tsize: true }, 'f', sink().stream).catch(
      (e: unknown) => e,
    )) as TftpError;
    expect(err).toMatchObject({
      code: ErrorCode.INTEGRITY,
      message:
        'the server announced 5000 bytes (tsize) and sent 1300: the file was cut short while it was being sent',
    });
    // As announced, and a file that grew on its way (whole up to the size announced): kept.
    for (const [announced, size] of [
      [1300, 1300],
      [1024, 1300],
      [0, 0],
    ] as const) {
      const port = await announcing(announced, Buffer.alloc(size, 2));
      const out = sink();
      const result = await tftpGet({ host: '127.0.0.1', port, tsize: true }, 'f', out.stream);
      expect(result.bytes).toBe(size);
      expect(out.text()).toBe(Buffer.alloc(size, 2).toString());
    }
    // In netascii the bytes on the wire are not the file's: no comparison.
    const text = await announcing(5000, Buffer.from('abc'));
    const out = sink();
    await tftpGet({ host: '127.0.0.1', port: text, tsize: true, mode: 'netascii' }, 'f', out.stream);
    expect(out.text()).toBe('abc');
  });

  it('refuses an OACK granting an option nobody asked for with ERROR 8', async () => {
    const seen: Packet[] = [];
    const port = await scripted(() => encodeOack(new Map([['tsize', '99']])), seen);
    const err = (await tftpGet({ host: '127.0.0.1', port, blksize: 1024 }, 'f', sink().stream).catch(
      (e: unknown) => e,
    )) as TftpError;
    expect(err.tftpCode).toBe(8);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen.some((p) => p.opcode === Opcode.ERROR && p.code === 8)).toBe(true);
  });
});

/**
 * A server that answers a request with an OACK announcing `tsize` (with the blksize asked,
 * if any), then sends `content` in lockstep blocks of that size, as tftpd-hpa does when the
 * file it announced is cut short (or grows) on its way.
 */
async function announcing(tsize: number, content: Buffer): Promise<number> {
  const main = dgram.createSocket('udp4');
  servers.push(main);
  main.on('message', (msg, from) => {
    const d = decodePacket(msg);
    if (!d.ok || d.packet.opcode !== Opcode.RRQ) return;
    const options = new Map([['tsize', String(tsize)]]);
    const blksize = Number(d.packet.options.get('blksize') ?? 512);
    if (d.packet.options.has('blksize')) options.set('blksize', String(blksize));
    const tid = dgram.createSocket('udp4');
    servers.push(tid);
    tid.on('message', (m) => {
      const p = decodePacket(m);
      if (!p.ok || p.packet.opcode !== Opcode.ACK) return;
      const start = p.packet.block * blksize;
      if (start > content.length) return;
      tid.send(
        encodeData(p.packet.block + 1, content.subarray(start, start + blksize)),
        from.port,
        from.address,
      );
    });
    tid.bind(0, '127.0.0.1', () => tid.send(encodeOack(options), from.port, from.address));
  });
  await new Promise<void>((resolve) => main.bind(0, '127.0.0.1', resolve));
  return main.address().port;
}

/** A server taking uploads in lockstep, refusing any WRQ that carries options with ERROR 8. */
async function optionless(requests: Request[], received: Buffer[]): Promise<number> {
  const main = dgram.createSocket('udp4');
  servers.push(main);
  main.on('message', (msg, from) => {
    const d = decodePacket(msg);
    if (!d.ok || d.packet.opcode !== Opcode.WRQ) return;
    requests.push(d.packet);
    if (d.packet.options.size > 0) {
      main.send(encodeError(8, 'no options here'), from.port, from.address);
      return;
    }
    const tid = dgram.createSocket('udp4');
    servers.push(tid);
    tid.on('message', (m) => {
      const p = decodePacket(m);
      if (!p.ok || p.packet.opcode !== Opcode.DATA) return;
      received.push(p.packet.data);
      tid.send(encodeAck(p.packet.block), from.port, from.address);
    });
    tid.bind(0, '127.0.0.1', () => tid.send(encodeAck(0), from.port, from.address));
  });
  await new Promise<void>((resolve) => main.bind(0, '127.0.0.1', resolve));
  return main.address().port;
}

describe('tftpPut', () => {
  it('uploads without options, from the start of its input, when the server refuses them with ERROR 8', async () => {
    const requests: Request[] = [];
    const received: Buffer[] = [];
    const port = await optionless(requests, received);
    const data = Buffer.from('x'.repeat(1300));
    const result = await tftpPut(
      { host: '127.0.0.1', port, blksize: 1024, tsize: true },
      'up.bin',
      Readable.from([data]),
      data.length,
    );
    expect(Buffer.concat(received).equals(data)).toBe(true);
    expect(result.options.blksize).toBe(512);
    expect(requests.map((r) => r.options.size)).toEqual([2, 0]);
  });

  it('fails, rather than waits for ever, when its input is destroyed before its end', async () => {
    const port = await optionless([], []);
    const input = new Readable({ read() {} });
    input.push(Buffer.alloc(2000));
    setTimeout(() => input.destroy(), 100);
    const err = (await tftpPut({ host: '127.0.0.1', port }, 'cut.bin', input).catch(
      (e: unknown) => e,
    )) as Error;
    expect(err.message).toMatch(/the input closed before its end/);
  });

  it('fails without a short last block when its input ends before the size it was given', async () => {
    // A file cut short while being uploaded: the server must not be told the file ended there.
    const received: Buffer[] = [];
    const port = await optionless([], received);
    const err = (await tftpPut(
      { host: '127.0.0.1', port },
      'short.bin',
      Readable.from([Buffer.alloc(1300, 1)]),
      5000,
    ).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(
      /cannot read the input: the file shrank while being sent \(5000 bytes when opened, it ended after 1300\)/,
    );
    // Whole blocks only (one, or two when the second went out before the end was seen).
    expect(received.length).toBeGreaterThan(0);
    expect(received.every((block) => block.length === 512)).toBe(true);
  });

  it('fails, before the extra bytes go, when its input is longer than the size it was given', async () => {
    // A file that grew while being uploaded: the server was told its size (tsize).
    const received: Buffer[] = [];
    const port = await optionless([], received);
    const err = (await tftpPut(
      { host: '127.0.0.1', port },
      'long.bin',
      Readable.from([Buffer.alloc(1024, 1), Buffer.alloc(1024, 2)]),
      1500,
    ).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(
      /cannot read the input: the input is longer than the 1500 bytes announced for it/,
    );
    expect(Buffer.concat(received).length).toBeLessThanOrEqual(1500);
    expect(received.every((block) => block.length === 512)).toBe(true);
  });

  it('states tsize only when it knows the size on the wire: not from a stream of unknown size, not in netascii', async () => {
    const requests: Request[] = [];
    const port = await optionless(requests, []);
    const data = Buffer.from('line\n'.repeat(100));
    await tftpPut({ host: '127.0.0.1', port, tsize: true }, 'a.txt', Readable.from([data]), data.length);
    await tftpPut({ host: '127.0.0.1', port, tsize: true }, 'b.txt', Readable.from([data]));
    await tftpPut(
      { host: '127.0.0.1', port, tsize: true, mode: 'netascii' },
      'c.txt',
      Readable.from([data]),
      data.length,
    );
    expect(requests.map((r) => [r.filename, r.options.get('tsize')])).toEqual([
      ['a.txt', '500'],
      ['a.txt', undefined],
      ['b.txt', undefined],
      ['c.txt', undefined],
    ]);
  });
});
