/** FilePump's reads: how much of a file a transfer holds before and after the client answers. */
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { BlockPump, BlockWriter, FilePump, readChunkSize } from './io.js';
import { Rto } from './rto.js';
import { TftpSender } from './sender.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-io-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A lockstep sender at 512 bytes whose datagrams go to `send`; its timer never fires. */
function lockstepSender(send: (packet: Buffer | readonly Buffer[]) => void): TftpSender {
  const rto = new Rto({ initialMs: 1000 });
  const options = { blksize: 512, windowsize: 1, rollover: 0 as const, rto, retries: 5, now: Date.now };
  return new TftpSender(options, {
    send,
    arm: () => {},
    disarm: () => {},
    complete: () => {},
    fail: () => {},
  });
}

describe('FilePump', () => {
  it('reads one chunk until a block is acknowledged, then one chunk ahead', async () => {
    const file = path.join(dir, 'f.bin');
    writeFileSync(file, randomBytes(8 * readChunkSize(512, 1)));
    const handle = await open(file, 'r');
    const read = vi.spyOn(handle, 'read');
    const sent: number[] = [];
    const sender = lockstepSender((packet) => sent.push((packet as Buffer[])[0]?.readUInt16BE(2) ?? -1));
    const pump = new FilePump(handle, sender, (err) => {
      throw err;
    });
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
