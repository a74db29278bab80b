/**
 * SendBuffers: small files read to be sent go into reused buffers, never into one whose
 * bytes may still be waiting to be sent.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readAtOnce, SendBuffers } from '../../src/files/transfer.js';

/** Whether two views share any byte of memory. */
function overlap(a: Buffer, b: Buffer): boolean {
  if (a.buffer !== b.buffer) return false;
  return a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length;
}

describe('SendBuffers', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sockit-send-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('never hands out memory that is still waiting to be sent', () => {
    let sent = false;
    const buffers = new SendBuffers(() => sent);
    const held: Buffer[] = [];
    // 40 files of 300 KiB: more than the reused buffers hold, none sent meanwhile.
    for (let i = 0; i < 40; i++) {
      const b = buffers.take(300 * 1024);
      expect(b.length).toBe(300 * 1024);
      for (const other of held) expect(overlap(b, other)).toBe(false);
      held.push(b);
    }
    // Once everything was sent, the first buffer is used again.
    sent = true;
    const again = buffers.take(1000);
    expect(overlap(again, held[0] as Buffer)).toBe(true);
  });

  it('gives a file larger than a reused buffer one of its own', () => {
    const buffers = new SendBuffers(() => true);
    const a = buffers.take(2 * 1024 * 1024);
    const b = buffers.take(2 * 1024 * 1024);
    expect(a.length).toBe(2 * 1024 * 1024);
    expect(overlap(a, b)).toBe(false);
  });

  it('reads a file whole into one, and what is read is the file', () => {
    const file = path.join(dir, 'a.bin');
    writeFileSync(file, 'hello, world');
    let sent = false;
    const buffers = new SendBuffers(() => sent);
    const fd = openSync(file, 'r');
    try {
      const first = readAtOnce(fd, 12, buffers);
      expect(first.toString()).toBe('hello, world');
      const second = readAtOnce(fd, 12, buffers);
      expect(overlap(first, second)).toBe(false);
      expect(first.toString()).toBe('hello, world');
      sent = true;
      // A file that shrank since its size was taken: what is there now.
      expect(readAtOnce(fd, 20, buffers).toString()).toBe('hello, world');
    } finally {
      closeSync(fd);
    }
  });
});
