/** The TFTP server and client on real loopback sockets. */
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../errors.js';
import { busyPolling } from '../runtime/busy-poll.js';
import { events, type TransferEndEvent } from '../runtime/events.js';
import { tftpGet, tftpPut } from './client.js';
import type { TftpError } from './errors.js';
import { readChunkSize } from './io.js';
import { decodePacket, encodeAck, encodeRequest, Opcode, type Packet } from './packet.js';
import { TftpReceiver } from './receiver.js';
import { TftpSender } from './sender.js';
import { serveTftp, type TftpService } from './server.js';
import { TransferSlots } from './slots.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function collector(): { stream: Writable; data: () => Buffer } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      done();
    },
  });
  return { stream, data: () => Buffer.concat(chunks) };
}

async function get(
  port: number,
  name: string,
  opts: Partial<Parameters<typeof tftpGet>[0]> = {},
): Promise<Buffer> {
  const out = collector();
  await tftpGet({ host: '127.0.0.1', port, retries: 3, ...opts }, name, out.stream);
  return out.data();
}

/** Sends raw datagrams to the server and collects what comes back for `ms`, or until `until` holds. */
async function raw(
  port: number,
  packets: Buffer[],
  ms = 300,
  until: (got: Packet[]) => boolean = () => false,
): Promise<Packet[]> {
  const socket = dgram.createSocket('udp4');
  const got: Packet[] = [];
  let done: () => void = () => {};
  socket.on('message', (msg) => {
    const d = decodePacket(msg);
    if (d.ok) got.push(d.packet);
    if (until(got)) done();
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  for (const p of packets) socket.send(p, port, '127.0.0.1');
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    done = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  socket.close();
  return got;
}

/** The raw datagrams that answer one sent to the server's port, within `ms`. */
async function answers(port: number, datagram: Buffer, ms = 200): Promise<Buffer[]> {
  const socket = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  socket.on('message', (msg) => got.push(msg));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  socket.send(datagram, port, '127.0.0.1');
  await new Promise((resolve) => setTimeout(resolve, ms));
  socket.close();
  return got;
}

const errorOf = (packets: Packet[]): number | undefined =>
  packets.find((p): p is Extract<Packet, { opcode: 5 }> => p.opcode === Opcode.ERROR)?.code;

describe('TFTP server and client', () => {
  let root: string;
  let outside: string;
  let server: TftpService;
  let readOnly: TftpService;
  const files = new Map<string, Buffer>();

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'sockit-tftp-'));
    outside = mkdtempSync(path.join(os.tmpdir(), 'sockit-outside-'));
    writeFileSync(path.join(outside, 'secret'), 'secret');
    for (const [name, size] of [
      ['empty', 0],
      ['one-block', 512],
      ['small.bin', 1000],
      ['medium.bin', 300_000],
      // The server reads files in chunks of whole blocks (readChunkSize), into buffers it
      // reuses once acknowledged: sizes on and across those boundaries.
      ['chunk.bin', readChunkSize(512, 1)],
      ['chunks.bin', 3 * readChunkSize(512, 1) + 512],
      ['window-chunks.bin', 2 * readChunkSize(1428, 16)],
    ] as const) {
      const data = randomBytes(size);
      files.set(name, data);
      writeFileSync(path.join(root, name), data);
    }
    writeFileSync(path.join(root, 'text.txt'), 'line one\nline two\r\n');
    symlinkSync(path.join(outside, 'secret'), path.join(root, 'escape'));
    symlinkSync(path.join(root, 'small.bin'), path.join(root, 'inside-link'));
    server = await serveTftp({
      root,
      host: '127.0.0.1',
      port: 0,
      writable: true,
      maxFileSize: 100_000,
      retries: 3,
      content: (name, client) => {
        if (name === 'hello.cfg')
          return { stream: Readable.from([Buffer.from(`hello ${client.address}\n`)]) };
        // Content whose stated size is not what its stream gives.
        if (name === 'short.cfg') return { stream: Readable.from([randomBytes(1000)]), size: 1500 };
        if (name === 'long.cfg')
          return { stream: Readable.from([randomBytes(1000), randomBytes(1000)]), size: 1500 };
        if (name === 'nan.cfg') return { stream: Readable.from([randomBytes(10)]), size: Number.NaN };
        if (name === 'half.cfg') return { stream: Readable.from([randomBytes(10)]), size: 10.5 };
        return undefined;
      },
      acceptUpload: (name) => !name.startsWith('denied'),
    });
    readOnly = await serveTftp({ root, host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await server.close();
    await readOnly.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it.each(['empty', 'one-block', 'small.bin', 'medium.bin', 'chunk.bin', 'chunks.bin', 'window-chunks.bin'])(
    'downloads %s intact, in lockstep and windowed',
    async (name) => {
      const port = server.address.port;
      expect(sha(await get(port, name))).toBe(sha(files.get(name) as Buffer));
      expect(sha(await get(port, name, { blksize: 1428, windowsize: 16, tsize: true }))).toBe(
        sha(files.get(name) as Buffer),
      );
    },
  );

  it('closes each file it served (20 downloads leave none of them open)', async () => {
    // Regression: reading through reused buffers, the server kept every served file open.
    const served = (): number =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          // Files under the root; the root itself stays open: servers hold it as their confinement handle.
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith(`${root}/`);
        } catch {
          return false;
        }
      }).length;
    const port = server.address.port;
    for (let i = 0; i < 20; i++) await get(port, i % 2 ? 'chunks.bin' : 'small.bin', { blksize: 1428 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(served()).toBe(0);
  });

  it('holds a download back while its output lags, with memory bounded (12 MiB into a slow writer)', async () => {
    const data = randomBytes(12 * 1024 * 1024);
    writeFileSync(path.join(root, 'big.bin'), data);
    const chunks: Buffer[] = [];
    let maxWaiting = 0;
    // Takes a write every 15 ms: about 17 MB/s, far slower than loopback.
    const slow = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        setTimeout(done, 15);
      },
    });
    const sample = setInterval(() => {
      maxWaiting = Math.max(maxWaiting, slow.writableLength);
    }, 2);
    try {
      await tftpGet(
        { host: '127.0.0.1', port: server.address.port, blksize: 65464, windowsize: 4, retries: 5 },
        'big.bin',
        slow,
      );
    } finally {
      clearInterval(sample);
      rmSync(path.join(root, 'big.bin'));
    }
    expect(sha(Buffer.concat(chunks))).toBe(sha(data));
    // The client holds its ACK past 4 MiB waiting; one window and one gathered write more may come in.
    expect(maxWaiting).toBeGreaterThan(1024 * 1024);
    expect(maxWaiting).toBeLessThanOrEqual(4 * 1024 * 1024 + 4 * 65464 + 256 * 1024 + 65464);
  });

  it('busy-polls for a near client\u2019s answers, and not when turned off', async () => {
    const quiet = await serveTftp({ root, host: '127.0.0.1', port: 0, busyPollUs: 0 });
    const polledDuring = async (port: number): Promise<number> => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      let polled = 0;
      const out = collector();
      // The client does not poll: whatever polling is seen is the server's.
      await tftpGet(
        {
          host: '127.0.0.1',
          port,
          busyPollUs: 0,
          onProgress: () => {
            if (busyPolling()) polled++;
          },
        },
        'medium.bin',
        out.stream,
      );
      expect(sha(out.data())).toBe(sha(files.get('medium.bin') as Buffer));
      return polled;
    };
    try {
      expect(await polledDuring(server.address.port)).toBeGreaterThan(0);
      expect(await polledDuring(quiet.address.port)).toBe(0);
    } finally {
      await quiet.close();
    }
  });

  it('uploads intact and places the file only when complete', async () => {
    const data = randomBytes(70_000);
    const result = await tftpPut(
      { host: '127.0.0.1', port: server.address.port, blksize: 8192, windowsize: 4, tsize: true },
      'uploaded.bin',
      Readable.from([data]),
      data.length,
    );
    expect(result.bytes).toBe(70_000);
    expect(sha(readFileSync(path.join(root, 'uploaded.bin')))).toBe(sha(data));
    expect(readdirSync(root).filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it('converts netascii both ways', async () => {
    const got = await get(server.address.port, 'text.txt', { mode: 'netascii' });
    expect(got.toString()).toBe('line one\nline two\r\n');
  });

  it('sends a text file of several read chunks in netascii whole, its stream closed long before its last block', async () => {
    // The file's stream reads ahead and closes the file at its end, while blocks are still
    // to be cut: the end's check must not ask the closed file (it did, and the server died).
    const text = Buffer.from('a line of text\n'.repeat(20_000));
    writeFileSync(path.join(root, 'long.txt'), text);
    const got = await get(server.address.port, 'long.txt', { mode: 'netascii' });
    expect(got.equals(text)).toBe(true);
    expect(sha(await get(server.address.port, 'small.bin'))).toBe(sha(files.get('small.bin') as Buffer));
  });

  it.each(['../secret', '/../secret', 'a/../../secret', '..\\..\\secret', 'escape'])(
    'refuses the path escape %s with ERROR 2',
    async (name) => {
      const err = (await get(server.address.port, name).catch((e: unknown) => e)) as TftpError;
      expect(err.code).toBe(ErrorCode.TFTP_REMOTE);
      expect(err.tftpCode).toBe(2);
    },
  );

  it('takes /name and \\name relative to the root, and follows links that stay inside', async () => {
    const small = sha(files.get('small.bin') as Buffer);
    expect(sha(await get(server.address.port, '/small.bin'))).toBe(small);
    expect(sha(await get(server.address.port, '\\small.bin'))).toBe(small);
    expect(sha(await get(server.address.port, 'inside-link'))).toBe(small);
  });

  it('answers a missing file with ERROR 1, a WRQ to a read-only server with ERROR 2', async () => {
    const missing = (await get(server.address.port, 'nope').catch((e: unknown) => e)) as TftpError;
    expect(missing.tftpCode).toBe(1);
    const put = (await tftpPut(
      { host: '127.0.0.1', port: readOnly.address.port },
      'x',
      Readable.from([Buffer.from('x')]),
    ).catch((e: unknown) => e)) as TftpError;
    expect(put.tftpCode).toBe(2);
  });

  it('answers nothing but requests on its port, never with more bytes than they had; blksize 7 gets ERROR 8', async () => {
    // A datagram that is not a well-formed request used to draw an ERROR 4 of up to 8 times
    // its size, an amplifier for a forged source. Now only requests are answered.
    const port = server.address.port;
    const quiet = [
      Buffer.from([0, 1, 0x61]), // a truncated RRQ
      Buffer.from([0xff]), // garbage
      Buffer.from([0, 9, 0, 1]), // an unknown opcode
      encodeAck(1), // ACK, DATA and OACK belong to a transfer's own port
      Buffer.from([0, 3, 0, 1, 0x61]),
      Buffer.from([0, 6, 0x61, 0]),
      Buffer.from([0, 1, 0x61, 0]), // a request without a mode: its ERROR would not fit
    ];
    for (const datagram of quiet) expect(await answers(port, datagram), datagram.toString('hex')).toEqual([]);
    const long = encodeRequest(Opcode.RRQ, 'x'.repeat(600), 'octet');
    const [tooLong] = await answers(port, long);
    expect(decodePacket(tooLong as Buffer)).toMatchObject({
      ok: true,
      packet: { opcode: Opcode.ERROR, code: 4 },
    });
    expect((tooLong as Buffer).length).toBeLessThanOrEqual(long.length);
    const badMode = Buffer.from('\x00\x01small.bin\x00mail\x00', 'latin1');
    const [mode] = await answers(port, badMode);
    expect(decodePacket(mode as Buffer)).toMatchObject({
      ok: true,
      packet: { opcode: Opcode.ERROR, code: 4 },
    });
    expect((mode as Buffer).length).toBeLessThanOrEqual(badMode.length);
    expect(
      errorOf(
        await raw(port, [encodeRequest(Opcode.RRQ, 'small.bin', 'octet', new Map([['blksize', '7']]))]),
      ),
    ).toBe(8);
    // and it keeps serving
    expect(sha(await get(port, 'small.bin'))).toBe(sha(files.get('small.bin') as Buffer));
  });

  it('grants at most blksize 65464 to a client asking for more', async () => {
    const got = await raw(server.address.port, [
      encodeRequest(Opcode.RRQ, 'small.bin', 'octet', new Map([['blksize', '99999']])),
    ]);
    expect(got[0]).toEqual({ opcode: Opcode.OACK, options: new Map([['blksize', '65464']]) });
  });

  it('refuses an existing name (ERROR 6), an upload the hook denies (ERROR 2), one over the size limit (ERROR 3)', async () => {
    const port = server.address.port;
    const put = (name: string, data: Buffer, tsize = false) =>
      tftpPut(
        { host: '127.0.0.1', port, tsize, blksize: 1024 },
        name,
        Readable.from([data]),
        data.length,
      ).catch((e: unknown) => e as TftpError);
    expect(((await put('small.bin', randomBytes(10))) as TftpError).tftpCode).toBe(6);
    expect(((await put('denied.bin', randomBytes(10))) as TftpError).tftpCode).toBe(2);
    expect(((await put('big.bin', randomBytes(200_000), true)) as TftpError).tftpCode).toBe(3);
    expect(((await put('big2.bin', randomBytes(200_000))) as TftpError).tftpCode).toBe(3);
    // Nothing under the real names, and the temporary files are removed soon after.
    expect(readdirSync(root).filter((f) => f.startsWith('big'))).toEqual([]);
    await vi.waitFor(() => expect(readdirSync(root).filter((f) => f.endsWith('.part'))).toEqual([]));
  });

  it('serves hook content that is not a file', async () => {
    expect((await get(server.address.port, 'hello.cfg')).toString()).toBe('hello 127.0.0.1\n');
  });

  it('fails hook content that ends short of its stated size, or runs past it, with ERROR 0', async () => {
    const port = server.address.port;
    const short = (await get(port, 'short.cfg').catch((e: unknown) => e)) as TftpError;
    expect(short.tftpCode).toBe(0);
    expect(short.message).toMatch(
      /the file shrank while being sent \(1500 bytes when opened, it ended after 1000\)/,
    );
    // Without tsize the client has no size to check against: the server's check is all there is.
    for (const tsize of [false, true]) {
      const long = (await get(port, 'long.cfg', { tsize }).catch((e: unknown) => e)) as TftpError;
      expect(long.tftpCode).toBe(0);
      expect(long.message).toMatch(/the input is longer than the 1500 bytes announced for it/);
    }
    // A size that is no size at all: refused before anything is announced.
    for (const name of ['nan.cfg', 'half.cfg']) {
      const odd = (await get(port, name, { tsize: true }).catch((e: unknown) => e)) as TftpError;
      expect(odd.tftpCode).toBe(0);
      expect(odd.message).toContain('server error');
    }
  });

  it('answers a stranger mid-transfer with ERROR 5 and completes the transfer intact', async () => {
    const port = server.address.port;
    const client = dgram.createSocket('udp4');
    const stranger = dgram.createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
    await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', r));
    const strangerGot = new Promise<Packet>((resolve) =>
      stranger.on('message', (m) => {
        const d = decodePacket(m);
        if (d.ok) resolve(d.packet);
      }),
    );
    const chunks: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      client.on('message', (m, from) => {
        const d = decodePacket(m);
        if (!d.ok || d.packet.opcode !== Opcode.DATA) return;
        chunks.push(d.packet.data);
        if (d.packet.block === 2) stranger.send(encodeAck(2), from.port, from.address);
        client.send(encodeAck(d.packet.block), from.port, from.address);
        if (d.packet.data.length < 512) resolve();
      });
    });
    client.send(encodeRequest(Opcode.RRQ, 'small.bin', 'octet'), port, '127.0.0.1');
    await done;
    expect(await strangerGot).toMatchObject({ opcode: Opcode.ERROR, code: 5 });
    expect(sha(Buffer.concat(chunks))).toBe(sha(files.get('small.bin') as Buffer));
    client.close();
    stranger.close();
  });

  it('serves 200 concurrent downloads of distinct 1 MiB files intact', async () => {
    const many = mkdtempSync(path.join(os.tmpdir(), 'sockit-tftp-many-'));
    const hashes: string[] = [];
    for (let i = 0; i < 200; i++) {
      const data = randomBytes(1024 * 1024);
      hashes.push(sha(data));
      writeFileSync(path.join(many, `f${i}.bin`), data);
    }
    // All 200 come from 127.0.0.1: the cap per address is raised to let them in at once.
    const big = await serveTftp({ root: many, host: '127.0.0.1', port: 0, maxPerAddress: 200 });
    try {
      const got = await Promise.all(
        hashes.map((_, i) =>
          get(big.address.port, `f${i}.bin`, { blksize: 1428, windowsize: 8, retries: 8 }),
        ),
      );
      got.forEach((g, i) => {
        expect(sha(g), `file ${i}`).toBe(hashes[i]);
      });
    } finally {
      await big.close();
      rmSync(many, { recursive: true, force: true });
    }
  }, 120_000);

  it('reaches a server by name: replies from the address the name resolves to are its own', async () => {
    // Bound to every address, so whichever family "localhost" resolves to first answers.
    const any = await serveTftp({ root, port: 0, writable: true });
    try {
      const byName = { host: 'localhost', retries: 2 };
      expect(sha(await get(any.address.port, 'medium.bin', byName))).toBe(
        sha(files.get('medium.bin') as Buffer),
      );
      const data = randomBytes(5000);
      await tftpPut({ ...byName, port: any.address.port }, 'by-name.bin', Readable.from([data]));
      expect(sha(readFileSync(path.join(root, 'by-name.bin')))).toBe(sha(data));
    } finally {
      await any.close();
    }
  });

  it('answers a hook that throws with ERROR 0 and frees the transfer\u2019s slot', async () => {
    const hooked = await serveTftp({
      root,
      host: '127.0.0.1',
      port: 0,
      writable: true,
      maxTransfers: 2,
      content: (name) => {
        if (name === 'boom.cfg') throw new Error('hook failed');
        return undefined;
      },
      acceptUpload: () => {
        throw new Error('hook failed');
      },
    });
    try {
      const port = hooked.address.port;
      for (let i = 0; i < 3; i++) {
        const got = (await get(port, 'boom.cfg').catch((e: unknown) => e)) as TftpError;
        expect(got.tftpCode).toBe(0);
        const put = (await tftpPut(
          { host: '127.0.0.1', port },
          'x.bin',
          Readable.from([Buffer.from('x')]),
        ).catch((e: unknown) => e)) as TftpError;
        expect(put.tftpCode).toBe(0);
      }
      await vi.waitFor(() => expect(hooked.transfers).toBe(0));
      // More failures than slots, and it still serves.
      expect(sha(await get(port, 'small.bin'))).toBe(sha(files.get('small.bin') as Buffer));
    } finally {
      await hooked.close();
    }
  });

  it('fails only the transfer in whose handling a defect throws, from a packet, its timer or a request', async () => {
    const port = server.address.port;
    const defect = (): never => {
      throw new Error('a defect');
    };
    // The server's sender, on the client's first ACK.
    const ack = vi.spyOn(TftpSender.prototype, 'ack').mockImplementationOnce(defect);
    const got = (await get(port, 'small.bin').catch((e: unknown) => e)) as TftpError;
    expect(got.tftpCode).toBe(0);
    expect(got.message).toContain('server error');
    ack.mockRestore();
    // The server's receiver, on the client's first DATA.
    const data = vi.spyOn(TftpReceiver.prototype, 'data').mockImplementationOnce(defect);
    const put = (await tftpPut(
      { host: '127.0.0.1', port },
      'defect.bin',
      Readable.from([Buffer.from('x')]),
    ).catch((e: unknown) => e)) as TftpError;
    expect(put.tftpCode).toBe(0);
    data.mockRestore();
    // The server's timer: a client that never answers.
    // Every timer's, while it lasts: other tests' silent clients may have transfers still waiting.
    const timeout = vi.spyOn(TftpSender.prototype, 'timeout').mockImplementation(defect);
    // The first timeout is the server's retransmission timer (1 s, or longer once backed off).
    const heard = await raw(port, [encodeRequest(Opcode.RRQ, 'small.bin', 'octet')], 10_000, (got) =>
      got.some((p) => p.opcode === Opcode.ERROR),
    );
    expect(errorOf(heard)).toBe(0);
    timeout.mockRestore();
    // The server's port, on a request.
    const take = vi.spyOn(TransferSlots.prototype, 'take').mockImplementationOnce(defect);
    expect(await raw(port, [encodeRequest(Opcode.RRQ, 'small.bin', 'octet')], 200)).toEqual([]);
    take.mockRestore();
    // The client's receiver: the download fails with a code, the process goes on.
    const mine = vi.spyOn(TftpReceiver.prototype, 'data').mockImplementationOnce(defect);
    const failed = await get(port, 'small.bin').catch((e: unknown) => e);
    expect((failed as { code?: string }).code).toBe(ErrorCode.INTERNAL);
    mine.mockRestore();
    // And it serves on, with every slot given back in time.
    expect(sha(await get(port, 'small.bin'))).toBe(sha(files.get('small.bin') as Buffer));
    await vi.waitFor(() => expect(server.transfers).toBe(0), { timeout: 10_000 });
  });

  it('on close, tells the clients, removes the parts of uploads and closes the files it read', async () => {
    const closing = await serveTftp({ root, host: '127.0.0.1', port: 0, writable: true });
    const port = closing.address.port;
    const openFds = () => readdirSync('/proc/self/fd').length;
    const fdsBefore = openFds();
    // A download whose client never ACKs, and an upload whose input stops coming.
    const reader = dgram.createSocket('udp4');
    const told = new Promise<Packet>((resolve) =>
      reader.on('message', (m) => {
        const d = decodePacket(m);
        if (d.ok && d.packet.opcode === Opcode.ERROR) resolve(d.packet);
      }),
    );
    await new Promise<void>((r) => reader.bind(0, '127.0.0.1', r));
    reader.send(encodeRequest(Opcode.RRQ, 'chunks.bin', 'octet'), port, '127.0.0.1');
    const input = new Readable({ read() {} });
    input.push(randomBytes(4096));
    const stalledPut = tftpPut({ host: '127.0.0.1', port }, 'stalled.bin', input);
    await vi.waitFor(() => {
      expect(closing.transfers).toBe(2);
      expect(readdirSync(root).some((f) => f.includes('stalled.bin') && f.endsWith('.part'))).toBe(true);
    });
    const uploadEnded = stalledPut.catch((e: unknown) => e as TftpError);
    await closing.close();
    expect(await told).toMatchObject({ code: 0, message: 'the server is shutting down' });
    reader.close();
    expect(await uploadEnded).toMatchObject({ tftpCode: 0, message: expect.stringMatching(/shutting down/) });
    input.destroy();
    await vi.waitFor(() => {
      expect(readdirSync(root).filter((f) => f.includes('stalled.bin'))).toEqual([]);
      expect(openFds()).toBeLessThanOrEqual(fdsBefore);
    });
  });

  it('ends a download as soon as its output fails, telling the server', async () => {
    const failing = new Writable({
      write(_chunk, _enc, done) {
        done(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const err = (await tftpGet({ host: '127.0.0.1', port: server.address.port }, 'chunks.bin', failing).catch(
      (e: unknown) => e,
    )) as TftpError;
    // Not ERROR 3 after the whole file came in: ERROR 0 at the first write.
    expect(err.tftpCode).toBe(0);
    expect(err.message).toMatch(/cannot write the output: write EPIPE/);
  });

  it('sends its first packet again when the request is repeated, within bounds, until the client answers', async () => {
    // A timer of 20 s keeps the server's own retransmissions out of the picture: whatever
    // comes back within the test's waits was drawn by the repeats.
    const quiet = await serveTftp({ root, host: '127.0.0.1', port: 0, writable: true, timeoutMs: 20_000 });
    const socket = dgram.createSocket('udp4');
    const got: { packet: Packet; port: number }[] = [];
    socket.on('message', (msg, from) => {
      const d = decodePacket(msg);
      if (d.ok) got.push({ packet: d.packet, port: from.port });
    });
    const waitFor = async (count: number): Promise<void> => {
      for (let i = 0; i < 250 && got.length < count; i++) await new Promise((r) => setTimeout(r, 20));
      expect(got.length).toBeGreaterThanOrEqual(count);
    };
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    try {
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      const port = quiet.address.port;
      for (const [request, first] of [
        [encodeRequest(Opcode.RRQ, 'medium.bin', 'octet', new Map([['blksize', '1024']])), Opcode.OACK],
        [encodeRequest(Opcode.RRQ, 'medium.bin', 'octet'), Opcode.DATA],
        [encodeRequest(Opcode.WRQ, 'repeat-a.bin', 'octet', new Map([['blksize', '1024']])), Opcode.OACK],
        [encodeRequest(Opcode.WRQ, 'repeat-b.bin', 'octet'), Opcode.ACK],
      ] as const) {
        got.length = 0;
        const client = dgram.createSocket('udp4');
        client.on('message', (msg, from) => socket.emit('message', msg, from));
        await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
        client.send(request, port, '127.0.0.1');
        await waitFor(1);
        await pause(300);
        client.send(request, port, '127.0.0.1');
        await waitFor(2);
        const [a, b] = got;
        expect(a?.packet.opcode).toBe(first);
        expect(b?.packet).toEqual(a?.packet);
        expect(b?.port).toBe(a?.port);
        // A flood of repeats: one answer per 250 ms at most, and never more than `retries` (5).
        for (let i = 0; i < 30; i++) client.send(request, port, '127.0.0.1');
        await pause(200);
        expect(got.length).toBeLessThanOrEqual(3);
        for (let round = 0; round < 6; round++) {
          await pause(260);
          client.send(request, port, '127.0.0.1');
        }
        await pause(200);
        expect(got.length).toBeLessThanOrEqual(1 + 5);
        client.close();
      }
      // Once the client has spoken on the transfer's port, a repeat is not answered.
      got.length = 0;
      const request = encodeRequest(Opcode.RRQ, 'medium.bin', 'octet', new Map([['blksize', '1024']]));
      const client = dgram.createSocket('udp4');
      client.on('message', (msg, from) => socket.emit('message', msg, from));
      await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
      client.send(request, port, '127.0.0.1');
      await waitFor(1);
      client.send(encodeAck(0), got[0]?.port as number, '127.0.0.1');
      await waitFor(2);
      expect(got[1]?.packet.opcode).toBe(Opcode.DATA);
      await pause(300);
      client.send(request, port, '127.0.0.1');
      await pause(300);
      // (DATA 1 goes out again by the timer, adapted now to the round trip: not an answer to the repeat.)
      expect(got.filter((g) => g.packet.opcode === Opcode.OACK)).toHaveLength(1);
      client.close();
    } finally {
      socket.close();
      await quiet.close();
    }
  });

  // A file changed under a download: truncated (the next read comes back short), rewritten
  // in place at the same size (every read is whole), appended to. Each must end in ERROR 0,
  // never in a short last block that hands the client a torn file as whole.
  const changes = {
    truncated: {
      change: (file: string) => truncateSync(file, 1000),
      message: /^the file shrank while being sent/,
    },
    rewritten: {
      change: (file: string) => writeFileSync(file, Buffer.alloc(4 * readChunkSize(512, 1), 0x62)),
      message: /^the file changed while being sent/,
    },
    appended: {
      change: (file: string) => appendFileSync(file, 'more'),
      message: /^the file changed while being sent/,
    },
  } as const;
  for (const mode of ['octet', 'netascii'] as const) {
    for (const [how, { change, message }] of Object.entries(changes)) {
      it(`ends a download whose file is ${how} meanwhile with ERROR 0, not a short last block (${mode})`, async () => {
        // Four chunks of 64 KiB: the server holds one or two of them read ahead, never the rest.
        const name = `changing-${how}-${mode}.bin`;
        const file = path.join(root, name);
        writeFileSync(file, Buffer.alloc(4 * readChunkSize(512, 1), 0x61));
        // Written a minute ago: a change now gets another modification time, whatever the
        // granularity of the file system's clock.
        const before = new Date(Date.now() - 60_000);
        utimesSync(file, before, before);
        const ended = new Promise<TransferEndEvent>((resolve) => {
          const off = events.transferEnd.subscribe((event) => {
            if (event.service === 'tftp' && event.direction === 'out') {
              off();
              resolve(event);
            }
          });
        });
        const socket = dgram.createSocket('udp4');
        const lengths: number[] = [];
        let error: Extract<Packet, { opcode: 5 }> | undefined;
        const done = new Promise<void>((resolve) => {
          socket.on('message', (msg, from) => {
            const d = decodePacket(msg);
            if (!d.ok) return;
            if (d.packet.opcode === Opcode.ERROR) {
              error = d.packet;
              resolve();
            } else if (d.packet.opcode === Opcode.DATA) {
              if (d.packet.block === 1) change(file);
              lengths.push(d.packet.data.length);
              socket.send(encodeAck(d.packet.block), from.port, from.address);
              if (d.packet.data.length < 512) resolve();
            }
          });
        });
        await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
        socket.send(encodeRequest(Opcode.RRQ, name, mode), server.address.port, '127.0.0.1');
        await done;
        socket.close();
        expect(error).toMatchObject({ code: 0, message: expect.stringMatching(message) });
        expect(lengths.length).toBeGreaterThan(0);
        expect(lengths.every((n) => n === 512)).toBe(true);
        expect(await ended).toMatchObject({ ok: false, code: ErrorCode.IO });
      });
    }
  }

  it('works over IPv6 loopback', async () => {
    const v6 = await serveTftp({ root, host: '::1', port: 0 });
    try {
      const out = new PassThrough();
      const chunks: Buffer[] = [];
      out.on('data', (d: Buffer) => chunks.push(d));
      await tftpGet({ host: '::1', port: v6.address.port, blksize: 1024 }, 'medium.bin', out);
      expect(sha(Buffer.concat(chunks))).toBe(sha(files.get('medium.bin') as Buffer));
    } finally {
      await v6.close();
    }
  });
});
