/**
 * Streams in and out of a transfer, with memory bounded by the window: the pump reads a
 * stream in large chunks and hands the sender views of it, block by block, only while the
 * sender has room; the writer gathers received blocks into large writes.
 */
import type { Readable, Writable } from 'node:stream';
import { NetasciiDecoder, NetasciiEncoder } from './netascii.js';
import type { TftpSender } from './sender.js';

/**
 * Read size for files: a whole number of blocks (so that no read leaves a remainder to
 * copy), at least 256 KiB so that a lockstep transfer rarely waits on the disk, and at
 * least two windows.
 */
export function readChunkSize(blksize: number, windowsize: number): number {
  return blksize * Math.max(2 * windowsize, Math.ceil((256 * 1024) / blksize));
}

/** Feeds `sender` from `source`, cutting it into blocks of exactly `blksize` bytes. */
export class BlockPump {
  #source: Readable;
  #sender: TftpSender;
  #blksize: number;
  #encoder: NetasciiEncoder | undefined;
  #pending: Buffer = Buffer.alloc(0);
  #offset = 0;
  #ended = false;
  #done = false;
  #busy = false;
  #started = false;

  constructor(
    source: Readable,
    sender: TftpSender,
    blksize: number,
    netascii: boolean,
    onError: (err: Error) => void,
  ) {
    this.#source = source;
    this.#sender = sender;
    this.#blksize = blksize;
    this.#encoder = netascii ? new NetasciiEncoder() : undefined;
    source.on('error', onError);
  }

  /** Begins pulling; until then the stream is not read (a client waits for the OACK first). */
  start(blksize: number): void {
    this.#blksize = blksize;
    if (this.#started) return;
    this.#started = true;
    this.#source.on('readable', this.pump);
    this.#source.on('end', () => {
      this.#ended = true;
      this.pump();
    });
    this.pump();
  }

  /** Supplies as many blocks as the sender takes; call again when it has room. */
  pump = (): void => {
    if (this.#busy || this.#done || !this.#started) return;
    this.#busy = true;
    const blksize = this.#blksize;
    while (this.#sender.room > 0) {
      if (this.#pending.length - this.#offset >= blksize) {
        this.#sender.supply(this.#pending.subarray(this.#offset, this.#offset + blksize));
        this.#offset += blksize;
        continue;
      }
      const chunk = this.#source.read() as Buffer | null;
      if (chunk !== null) {
        const data = this.#encoder ? this.#encoder.push(chunk) : chunk;
        const rest = this.#pending.length - this.#offset;
        this.#pending = rest === 0 ? data : Buffer.concat([this.#pending.subarray(this.#offset), data]);
        this.#offset = 0;
        continue;
      }
      if (this.#ended) {
        this.#done = true;
        const rest = this.#pending.subarray(this.#offset);
        if (rest.length > 0) this.#sender.supply(rest);
        this.#sender.end();
      }
      break;
    }
    this.#busy = false;
  };

  stop(): void {
    this.#done = true;
    this.#source.destroy();
  }
}

/** Gathers received blocks into writes of at least 256 KiB, decoding netascii on the way. */
export class BlockWriter {
  #target: Writable;
  #decoder: NetasciiDecoder | undefined;
  #held: Buffer[] = [];
  #heldBytes = 0;
  /** The first write error, reported by `finish()`. */
  error: Error | undefined;

  constructor(target: Writable, netascii: boolean, onError?: (err: Error) => void) {
    this.#target = target;
    this.#decoder = netascii ? new NetasciiDecoder() : undefined;
    target.on('error', (err) => {
      this.error ??= err;
      onError?.(err);
    });
  }

  write(block: Buffer): void {
    const data = this.#decoder ? this.#decoder.push(block) : block;
    this.#held.push(data);
    this.#heldBytes += data.length;
    if (this.#heldBytes >= 256 * 1024) this.#flush();
  }

  /** Writes what is held and ends the target; resolves once it has all been written. */
  finish(): Promise<void> {
    if (this.#decoder) this.#held.push(this.#decoder.end());
    this.#flush();
    return new Promise((resolve, reject) => {
      if (this.error) return reject(this.error);
      this.#target.once('error', reject);
      this.#target.end(() => (this.error ? reject(this.error) : resolve()));
    });
  }

  #flush(): void {
    if (this.#heldBytes === 0 && this.#held.every((b) => b.length === 0)) {
      this.#held = [];
      return;
    }
    this.#target.write(this.#held.length === 1 ? this.#held[0] : Buffer.concat(this.#held));
    this.#held = [];
    this.#heldBytes = 0;
  }
}
