/** FilePump's reads: how much of a file a transfer holds before and after the client answers. */
import { randomBytes } from 'node:crypto';
import { appendFileSync, createWriteStream, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../errors.js';
import { BlockPump, BlockWriter, FilePump, inlineChunkSize, type ReadPlace, readChunkSize } from './io.js';
import { Rto } from './rto.js';
import { TftpSender } from './sender.js';
import { localFileSystem } from './storage.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-io-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A lockstep sender at 512 bytes whose datagrams go to `send`; its timer never fires. */
function lockstepSender(
  send: (packet: Buffer | readonly Buffer[]) => void,
  complete: () => void = () => {},
): TftpSender {
  const rto = new Rto({ initialMs: 1000 });
  const options = { blksize: 512, windowsize: 1, rollover: 0 as const, rto, retries: 5, now: Date.now };
  return new TftpSender(options, {
    send,
    arm: () => {},
    disarm: () => {},
    complete,
    fail: () => {},
  });
}

/** A lockstep sender that keeps a copy of the payload of each block it sends. */
function recordingSender(): { sender: TftpSender; sent: Buffer[] } {
  const sent: Buffer[] = [];
  const sender = lockstepSender((packet) => sent.push(Buffer.from((packet as Buffer[])[1] as Buffer)));
  return { sender, sent };
}

/** A place that makes the reads inline or through the pool as `inline()` says, and counts the inline ones. */
function placeOf(inline: () => boolean): ReadPlace & { inlineReads: number } {
  return {
    inlineReads: 0,
    get inline() {
      return inline();
    },
    run<T>(call: () => T): T {
      this.inlineReads++;
      return call();
    },
  };
}

/** A FilePump of a file of `size` bytes whose reads are made where `place` says; a read error fails the test. */
function pumpOf(handle: FileHandle, sender: TftpSender, place: ReadPlace, size: number): FilePump {
  return new FilePump(
    handle,
    sender,
    (err) => {
      throw err;
    },
    { size, place },
  );
}

describe('FilePump', () => {
  it('through the pool: reads one chunk until a block is acknowledged, then one chunk ahead', async () => {
    const file = path.join(dir, 'f.bin');
    writeFileSync(file, randomBytes(8 * readChunkSize(512, 1)));
    const handle = await open(file, 'r');
    const read = vi.spyOn(handle, 'read');
    const sent: number[] = [];
    const sender = lockstepSender((packet) => sent.push((packet as Buffer[])[0]?.readUInt16BE(2) ?? -1));
    const pump = pumpOf(
      handle,
      sender,
      placeOf(() => false),
      8 * readChunkSize(512, 1),
    );
    sender.start();
    pump.start(512);
    await vi.waitFor(() => expect(sent).toEqual([1]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // A client that never answers (a forged request) costs one chunk.
    expect(read).toHaveBeenCalledTimes(1);
    sender.ack(1);
    pump.pump();
    await vi.waitFor(() => expect(read).toHaveBeenCalledTimes(2));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(read).toHaveBeenCalledTimes(2);
    expect(sent).toEqual([1, 2]);
    pump.stop();
  });

  it('inline: the same, each read made at once, of 64 KiB', async () => {
    const file = path.join(dir, 'g.bin');
    writeFileSync(file, randomBytes(8 * inlineChunkSize(512)));
    const handle = await open(file, 'r');
    const read = vi.spyOn(handle, 'read');
    const sent: number[] = [];
    const sender = lockstepSender((packet) => sent.push((packet as Buffer[])[0]?.readUInt16BE(2) ?? -1));
    const place = placeOf(() => true);
    const pump = pumpOf(handle, sender, place, 8 * inlineChunkSize(512));
    sender.start();
    pump.start(512);
    expect(sent).toEqual([1]);
    expect(place.inlineReads).toBe(1);
    sender.ack(1);
    pump.pump();
    expect(place.inlineReads).toBe(2);
    expect(sent).toEqual([1, 2]);
    expect(read).not.toHaveBeenCalled();
    expect(inlineChunkSize(512)).toBe(65536);
    expect(inlineChunkSize(65464)).toBe(65464);
    expect(inlineChunkSize(1468)).toBe(1468 * 44);
    pump.stop();
  });

  // Every byte in order whichever way each read is made, the way changing mid-file (chunks of
  // both sizes in flight and in the free list), for files that end inside a chunk, on a chunk's
  // end, and on a block boundary.
  for (const [name, switchAt] of [
    ['inline', Number.POSITIVE_INFINITY],
    ['the pool', 0],
    ['inline then the pool', 5],
    ['the pool then inline', -5],
  ] as const) {
    it(`sends the file exactly, reads made ${name}`, async () => {
      // 1468-byte blocks: a pool read is 45 blocks, an inline one 44.
      const blksize = 1468;
      const pooledChunk = readChunkSize(blksize, 1);
      const inlineChunk = inlineChunkSize(blksize);
      expect(pooledChunk).not.toBe(inlineChunk);
      for (const size of [
        0,
        blksize - 1,
        blksize,
        3 * pooledChunk,
        3 * inlineChunk + 700,
        5 * pooledChunk + 1,
      ]) {
        const file = path.join(dir, `h-${size}.bin`);
        const content = randomBytes(size);
        writeFileSync(file, content);
        const handle = await open(file, 'r');
        let reads = 0;
        const place = placeOf(() => {
          reads++;
          return switchAt >= 0 ? reads <= switchAt : reads > -switchAt;
        });
        const got: Buffer[] = [];
        let last = 0;
        let finished = false;
        const rto = new Rto({ initialMs: 1000 });
        const sender = new TftpSender(
          { blksize, windowsize: 1, rollover: 0, rto, retries: 5, now: Date.now },
          {
            send: (packet) => {
              const [header, payload] = packet as Buffer[];
              const block = header?.readUInt16BE(2) ?? 0;
              if (block === last + 1) {
                got.push(Buffer.from(payload as Buffer));
                last = block;
              }
            },
            arm: () => {},
            disarm: () => {},
            complete: () => {
              finished = true;
            },
            fail: (e) => {
              throw e;
            },
          },
        );
        const pump = pumpOf(handle, sender, place, size);
        sender.start();
        pump.start(blksize);
        let acked = 0;
        while (!finished) {
          await vi.waitFor(() => expect(last).toBeGreaterThan(acked), { timeout: 2000, interval: 1 });
          acked = last;
          sender.ack(acked);
          pump.pump();
        }
        expect(Buffer.concat(got).equals(content), `${name}, ${size} bytes`).toBe(true);
        pump.stop();
      }
    });
  }

  // A file cut short mid-transfer must not end with a short block: the client would take the
  // old head alone for the whole file. Cut on a chunk's end (the next read finds nothing) and
  // inside one (the next read comes back short), with reads made inline and through the pool.
  for (const [name, inline] of [
    ['inline', true],
    ['through the pool', false],
  ] as const) {
    for (const cut of ['on a chunk boundary', 'inside a chunk'] as const) {
      it(`fails a transfer whose file shrinks ${cut} (${name})`, async () => {
        const chunk = inline ? inlineChunkSize(512) : readChunkSize(512, 1);
        const size = 4 * chunk;
        const file = path.join(dir, `shrink-${name}-${cut}.bin`.replaceAll(' ', '-'));
        writeFileSync(file, randomBytes(size));
        const handle = await open(file, 'r');
        const { sender, sent } = recordingSender();
        const errors: Error[] = [];
        const pump = new FilePump(handle, sender, (err) => errors.push(err), {
          size,
          place: placeOf(() => inline),
        });
        sender.start();
        pump.start(512);
        await vi.waitFor(() => expect(sent.length).toBe(1));
        const shortBy = cut === 'on a chunk boundary' ? 0 : 100;
        truncateSync(file, chunk + chunk / 2 - shortBy);
        // The client acknowledges block after block: the first chunk (read before the cut)
        // goes out whole, then the read of the rest finds the file short.
        for (let block = 1; errors.length === 0 && block < 4 * (chunk / 512); block++) {
          sender.ack(block);
          pump.pump();
          await vi.waitFor(() => expect(sent.length > block || errors.length > 0).toBe(true));
        }
        expect(errors.map((e) => e.message)).toEqual([
          expect.stringMatching(
            /^the file shrank while being sent \(\d+ bytes when opened, it ended after \d+\)$/,
          ),
        ]);
        expect(errors[0]).toMatchObject({ code: ErrorCode.IO });
        // Every block sent was whole: nothing told the client the file had ended.
        expect(sent.every((block) => block.length === 512)).toBe(true);
        expect(sent.length).toBeLessThanOrEqual(2 * (chunk / 512));
        pump.stop();
      });
    }
  }

  it('without a size (a file system whose sizes are not to be trusted), sends what it reads', async () => {
    // The cut of the tests above, made to a pump that was given no size: the transfer ends
    // with the short block where the file now ends, as it did before sizes were checked.
    const chunk = inlineChunkSize(512);
    const file = path.join(dir, 'untrusted-size.bin');
    writeFileSync(file, randomBytes(4 * chunk));
    const handle = await open(file, 'r');
    const { sender, sent } = recordingSender();
    const errors: Error[] = [];
    const pump = new FilePump(handle, sender, (err) => errors.push(err), { place: placeOf(() => true) });
    sender.start();
    pump.start(512);
    truncateSync(file, chunk + 100);
    for (let block = 1; sent.length === block; block++) {
      sender.ack(block);
      pump.pump();
    }
    expect(errors).toEqual([]);
    expect(sent.length).toBe(chunk / 512 + 1);
    expect(sent.at(-1)?.length).toBe(100);
    pump.stop();
  });

  it('turns a defect that throws while pumping into a failed transfer, not a thrown error', async () => {
    // The check at the end stands in for any defect on the path of the client's ACKs.
    const file = path.join(dir, 'defect.bin');
    writeFileSync(file, randomBytes(700));
    const { sender, sent } = recordingSender();
    const errors: string[] = [];
    const handle = await open(file, 'r');
    const pump = new FilePump(handle, sender, (err) => errors.push(err.message), {
      place: placeOf(() => true),
      unchanged: () => {
        throw new Error('a defect');
      },
    });
    sender.start();
    expect(() => pump.start(512)).not.toThrow();
    expect(errors).toEqual(['a defect']);
    expect(sent).toEqual([]);
    // And a stream's pump, from the stream's own events.
    const streamErrors: string[] = [];
    const streamSide = recordingSender();
    const blocks = new BlockPump(
      Readable.from([randomBytes(700)]),
      streamSide.sender,
      512,
      false,
      (err) => {
        streamErrors.push(err.message);
      },
      {
        unchanged: () => {
          throw new Error('another defect');
        },
      },
    );
    streamSide.sender.start();
    blocks.start(512);
    await vi.waitFor(() => expect(streamSide.sent).toHaveLength(1));
    streamSide.sender.ack(1);
    expect(() => blocks.pump()).not.toThrow();
    await vi.waitFor(() => expect(streamErrors).toEqual(['another defect']));
    pump.stop();
  });

  it('without an end check, sends a file that grows meanwhile as it reads it', async () => {
    const size = 3 * 512;
    const file = path.join(dir, 'grows.bin');
    const first = randomBytes(size);
    writeFileSync(file, first);
    const handle = await open(file, 'r');
    const sent: Buffer[] = [];
    let finished = false;
    const sender = lockstepSender(
      (packet) => sent.push(Buffer.from((packet as Buffer[])[1] as Buffer)),
      () => {
        finished = true;
      },
    );
    // Through the pool, in 64 KiB chunks: the first read is made before the file grows.
    const pump = pumpOf(
      handle,
      sender,
      placeOf(() => false),
      size,
    );
    sender.start();
    pump.start(512);
    await vi.waitFor(() => expect(sent.length).toBe(1));
    const more = randomBytes(100);
    appendFileSync(file, more);
    for (let block = 1; !finished; block++) {
      sender.ack(block);
      pump.pump();
      await vi.waitFor(() => expect(finished || sent.length > block).toBe(true));
    }
    // The first read took the three blocks there were (a short read: the end, then); so the
    // file is sent as it was when that read was made, and the transfer ends whole.
    expect(Buffer.concat(sent).equals(first)).toBe(true);
    pump.stop();
  });
});

describe('BlockWriter', () => {
  it('does not report a target destroyed while finishing as written', async () => {
    // A server closing mid-upload destroys the part's stream: the upload must not be placed.
    const target = createWriteStream(path.join(dir, 'part'));
    const writer = new BlockWriter(target);
    for (let i = 0; i < 64; i++) writer.write(Buffer.alloc(65536, 1));
    const finished = writer.finish();
    target.destroy();
    await expect(finished).rejects.toThrow();
  });
});

describe('BlockPump', () => {
  it('fails when its source gives fewer bytes than the size it was opened with', async () => {
    /** 700 bytes from a source said to hold `size`: the blocks sent, and the errors. */
    async function pumped(size: number): Promise<{ lengths: number[]; errors: string[] }> {
      const { sender, sent } = recordingSender();
      const errors: string[] = [];
      const pump = new BlockPump(
        Readable.from([randomBytes(700)]),
        sender,
        512,
        false,
        (err) => {
          errors.push(err.message);
        },
        { size },
      );
      sender.start();
      pump.start(512);
      await vi.waitFor(() => expect(sent.length).toBe(1));
      sender.ack(1);
      pump.pump();
      await vi.waitFor(() => expect(sent.length === 2 || errors.length === 1).toBe(true));
      return { lengths: sent.map((b) => b.length), errors };
    }
    // 2,000 announced: one whole block goes, the short rest does not.
    expect(await pumped(2000)).toEqual({
      lengths: [512],
      errors: ['the file shrank while being sent (2000 bytes when opened, it ended after 700)'],
    });
    // 700 announced: sent whole, its last block short.
    expect(await pumped(700)).toEqual({ lengths: [512, 188], errors: [] });
  });

  it('reports a stream that failed or closed before the pump was made', async () => {
    // Between an upload's try refused for its options and the next, no pump listens.
    const sender = lockstepSender(() => {});
    const failed = new Readable({ read() {} });
    failed.on('error', () => {});
    failed.destroy(new Error('gone'));
    const closed = new Readable({ read() {} });
    closed.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    const errors: string[] = [];
    new BlockPump(failed, sender, 512, false, (err) => errors.push(err.message));
    new BlockPump(closed, sender, 512, false, (err) => errors.push(err.message));
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toEqual(['gone', 'the input closed before its end']);
  });
});

describe('localFileSystem', () => {
  it("tells a local file system's file from one of another kind, by its descriptor", async () => {
    const local = path.join(dir, 'local.bin');
    writeFileSync(local, 'x');
    const handle = await open(local, 'r');
    // The test folder is on a disk or tmpfs; /proc (type 0x9fa0) is not a file system of files.
    expect(await localFileSystem(handle, (await handle.stat()).dev)).toBe(true);
    await handle.close();
    const proc = await open('/proc/self/status', 'r');
    expect(await localFileSystem(proc, (await proc.stat()).dev)).toBe(false);
    await proc.close();
    // Nor sysfs, whose files state a page's size for a few bytes (so a read ending short of
    // the size is no sign that they shrank: FilePump is given no size for them).
    const sys = await open('/sys/class/net/lo/address', 'r');
    const sysStat = await sys.stat();
    expect(sysStat.size).toBe(4096);
    expect((await sys.readFile()).length).toBeLessThan(4096);
    expect(await localFileSystem(sys, sysStat.dev)).toBe(false);
    await sys.close();
  });

  it('asks again for a device number without a block device under it, which a later mount may reuse', async () => {
    const shm = path.join('/dev/shm', `sockit-io-${process.pid}`);
    writeFileSync(shm, 'x');
    try {
      const tmpfs = await open(shm, 'r');
      const proc = await open('/proc/self/status', 'r');
      // Major 0 (an anonymous device, as tmpfs's, FUSE's and proc's are): the same number seen
      // with another file system behind it gets that file system's answer.
      const anonymous = (await tmpfs.stat()).dev;
      expect(anonymous >>> 8).toBe(0);
      expect(await localFileSystem(tmpfs, anonymous)).toBe(true);
      expect(await localFileSystem(proc, anonymous)).toBe(false);
      expect(await localFileSystem(tmpfs, anonymous)).toBe(true);
      await tmpfs.close();
      await proc.close();
    } finally {
      rmSync(shm, { force: true });
    }
  });
});
