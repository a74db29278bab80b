/**
 * Streams in and out of a transfer, with memory bounded by the window: the pump reads a
 * stream in large chunks and hands the sender views of it, block by block, only while the
 * sender has room; the writer gathers received blocks into large writes and holds the
 * sender off (through the receiver's ACKs) while its target lags behind.
 */

import type { FileHandle } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { ErrorCode, SockitError } from '../errors.js';
import { InlinePlace } from '../runtime/inline-place.js';
import { readFullSync } from '../runtime/read-full.js';
import { NetasciiDecoder, NetasciiEncoder } from './netascii.js';
import type { TftpSender } from './sender.js';

/**
 * Read size for files through the thread pool: a whole number of blocks (so that no read
 * leaves a remainder to copy), at least two windows, at least 64 KiB so that small blocks
 * cost few reads (one per 128 blocks of 512 bytes), and at least 8 blocks: a read through
 * the pool costs a handful of system calls and two thread wake-ups, which at one read per
 * two blocks of 64 KiB cost as much as the blocks' own sends. Memory per transfer is two
 * such chunks at most.
 */
export function readChunkSize(blksize: number, windowsize: number): number {
  return blksize * Math.max(2 * windowsize, 8, Math.ceil((64 * 1024) / blksize));
}

/**
 * Read size for files read on the event loop (see FILE_READS): as many whole blocks as fit in
 * 64 KiB, at least one (one block of 64 KiB, 44 of 1468 bytes). Such a read is made right
 * after a block is sent, while the client takes that block in, and is over before its ACK
 * comes back.
 */
export function inlineChunkSize(blksize: number): number {
  return blksize * Math.max(1, Math.floor((64 * 1024) / blksize));
}

/** What FilePump asks of where its reads are made (an InlinePlace). */
export type ReadPlace = Pick<InlinePlace, 'inline' | 'run'>;

/**
 * Where FilePump's reads of files on local file systems are made, for every transfer of the
 * process (a network file system's go through the pool: POOL_READS): on the event loop while
 * they come from the page cache (a 64 KiB read ~10-20 µs here), as the C servers read; through
 * the thread pool, in larger chunks, once reads wait for a disk (see InlinePlace: three reads
 * over 200 µs in a row, or a mean over 150 µs), and inline again a second later (then 2, 4 ...
 * 64 s), when the file may be cached by then. Measured at 65464-byte blocks in lockstep: 1.08-1.14x
 * faster downloads and 18% less server CPU than reads of 8 blocks through the pool, each of
 * which cost the loop a wake-up of a pool thread and one back, and put a third thread on a
 * two-core machine beside the server and its client.
 */
export const FILE_READS: ReadPlace = new InlinePlace({
  slowUs: 200,
  slowRun: 3,
  meanLimitUs: 150,
  retryMs: 1000,
});

/** Every read through the thread pool: a file on a network or FUSE file system (see localFileSystem). */
export const POOL_READS: ReadPlace = {
  inline: false,
  run: (call) => call(),
};

/** What feeds a sender: started once the block size is known, pumped whenever it has room. */
export interface Pump {
  start(blksize: number): void;
  pump(): void;
  stop(): void;
}

/** Feeds `sender` from `source`, cutting it into blocks of exactly `blksize` bytes. */
export class BlockPump implements Pump {
  #source: Readable;
  #sender: TftpSender;
  #blksize: number;
  #encoder: NetasciiEncoder | undefined;
  #onError: (err: Error) => void;
  #pending: Buffer = Buffer.alloc(0);
  #offset = 0;
  #ended = false;
  #done = false;
  #busy = false;
  #started = false;
  /** What the source must have given at its end (see FileEnd). */
  #fileEnd: FileEnd;
  /** Bytes taken from the source so far (before netascii). */
  #taken = 0;

  /** `fileEnd`: the checks made when the source ends, before its last block goes (see FileEnd). */
  constructor(
    source: Readable,
    sender: TftpSender,
    blksize: number,
    netascii: boolean,
    onError: (err: Error) => void,
    fileEnd: FileEnd = {},
  ) {
    this.#fileEnd = fileEnd;
    this.#source = source;
    this.#sender = sender;
    this.#blksize = blksize;
    this.#encoder = netascii ? new NetasciiEncoder() : undefined;
    this.#onError = onError;
    source.on('error', this.#failed);
    source.on('close', this.#closed);
    // A stream that failed or closed before this pump was made (between two tries of one
    // upload) says so no more: look.
    if (source.errored) queueMicrotask(() => this.#failed(source.errored as Error));
    else if (source.destroyed) queueMicrotask(this.#closed);
  }

  /** Begins pulling; until then the stream is not read (a client waits for the OACK first). */
  start(blksize: number): void {
    this.#blksize = blksize;
    if (this.#started) return;
    this.#started = true;
    this.#source.on('readable', this.pump);
    this.#source.on('end', this.#end);
    this.pump();
  }

  #end = (): void => {
    this.#ended = true;
    this.pump();
  };

  #failed = (err: Error): void => {
    if (!this.#done) this.#onError(err);
  };

  /** A stream destroyed before its end would otherwise leave the sender waiting for blocks. */
  #closed = (): void => {
    if (!this.#ended && !this.#done)
      this.#onError(new SockitError(ErrorCode.IO, 'the input closed before its end'));
  };

  /**
   * Supplies as many blocks as the sender takes; call again when it has room. It runs from the
   * source's events and the client's ACKs: a defect that throws here fails this transfer
   * (through onError) instead of taking the server down.
   */
  pump = (): void => {
    try {
      this.#pumpNow();
    } catch (err) {
      this.#busy = false;
      this.#done = true;
      this.#onError(err as Error);
    }
  };

  #pumpNow(): void {
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
        this.#taken += chunk.length;
        const size = this.#fileEnd.size;
        if (size !== undefined && this.#taken > size) {
          this.#done = true;
          // A file says how it changed; a hook's stream, only that it is too long.
          this.#onError(this.#fileEnd.unchanged?.() ?? grewError(size));
          break;
        }
        const data = this.#encoder ? this.#encoder.push(chunk) : chunk;
        const rest = this.#pending.length - this.#offset;
        this.#pending = rest === 0 ? data : Buffer.concat([this.#pending.subarray(this.#offset), data]);
        this.#offset = 0;
        continue;
      }
      if (this.#ended) {
        this.#done = true;
        const broken = endError(this.#fileEnd, this.#taken);
        if (broken) {
          this.#onError(broken);
          break;
        }
        const rest = this.#pending.subarray(this.#offset);
        if (rest.length > 0) this.#sender.supply(rest);
        this.#sender.end();
      }
      break;
    }
    this.#busy = false;
  }

  /** The transfer is over: the stream is destroyed (which closes a file). */
  stop(): void {
    this.release();
    this.#source.destroy();
  }

  /** Lets go of the stream without touching it, for another transfer to read it from the start. */
  release(): void {
    this.#done = true;
    this.#source.off('error', this.#failed);
    this.#source.off('close', this.#closed);
    this.#source.off('readable', this.pump);
    this.#source.off('end', this.#end);
  }
}

/**
 * What a file being sent must be when its end is read, before its last block goes: a file
 * changed meanwhile (truncated, rewritten in place, appended to) may have been read partly
 * old and partly new, and ending with a short block would hand the client a torn file that
 * looks complete (tftpd-hpa and atftpd do just that). The transfer fails instead, with
 * ERROR 0 and the error's message. Only a file on a local file system is held to these:
 * sysfs states a page's size for a few bytes, and a FUSE file system may state anything.
 */
export interface FileEnd {
  /**
   * Its size when opened (or announced): a source that ends before it fails (shrankError);
   * one that gives more, through a stream, fails as soon as it does (grewError).
   */
  size?: number;
  /**
   * Asked once at the end (after the size check): an error when the file is not as it was
   * opened (a changed size or modification time: a truncate that raced a read gives back
   * zeros, not a short read, and a rewrite in place of the same size reads whole).
   */
  unchanged?: () => SockitError | undefined;
}

/** Why a source that ended after `got` bytes must not be taken as whole, if it must not. */
function endError(end: FileEnd, got: number): SockitError | undefined {
  if (end.size !== undefined && got < end.size) return shrankError(end.size, got);
  return end.unchanged?.();
}

/** A file that ended before the size it had when opened (see FileEnd). */
export function shrankError(size: number, got: number): SockitError {
  return new SockitError(
    ErrorCode.IO,
    `the file shrank while being sent (${size} bytes when opened, it ended after ${got})`,
  );
}

/** A source that gave more bytes than the size it was announced with (see FileEnd). */
export function grewError(size: number): SockitError {
  return new SockitError(ErrorCode.IO, `the input is longer than the ${size} bytes announced for it`);
}

/** A file whose size or modification time is not what it was when opened (see FileEnd). */
export function changedError(): SockitError {
  return new SockitError(ErrorCode.IO, 'the file changed while being sent: try again');
}

/** A chunk of the file read into one of FilePump's buffers, and how far it is cut into blocks. */
interface Chunk {
  buffer: Buffer;
  length: number;
  cut: number;
  /** The (absolute) number of the last block cut from it so far. */
  lastBlock: number;
}

/**
 * Feeds `sender` from a file, reading it into a few buffers that are used again once every
 * block cut from them is acknowledged (the sender may resend any block until then).
 *
 * A stream would read into a fresh buffer each time; on a virtual machine the first touch of
 * fresh memory costs more than the copy itself, so a 100 MiB download touched 100 MiB of new
 * memory for nothing. The C servers read into one static buffer; this is the closest a
 * window of blocks allows.
 */
export class FilePump implements Pump {
  readonly #handle: FileHandle;
  readonly #sender: TftpSender;
  readonly #onError: (err: Error) => void;
  readonly #place: ReadPlace;
  readonly #fileEnd: FileEnd;
  #blksize = 512;
  #chunkSize = 0;
  #inlineSize = 0;
  #chunks: Chunk[] = [];
  #free: Buffer[] = [];
  #position = 0;
  #nextBlock = 1;
  #reading = false;
  #eof = false;
  #done = false;
  #started = false;

  /**
   * `size` and `unchanged`: the checks made when the file's end is read, before its last
   * block goes (see FileEnd). `place`: where reads are made (FILE_READS; another for tests).
   */
  constructor(
    handle: FileHandle,
    sender: TftpSender,
    onError: (err: Error) => void,
    options: FileEnd & { place?: ReadPlace } = {},
  ) {
    this.#handle = handle;
    this.#sender = sender;
    this.#onError = onError;
    this.#fileEnd = options;
    this.#place = options.place ?? FILE_READS;
  }

  start(blksize: number): void {
    if (this.#started) return;
    this.#started = true;
    this.#blksize = blksize;
    this.#chunkSize = readChunkSize(blksize, this.#sender.windowsize);
    this.#inlineSize = inlineChunkSize(blksize);
    this.pump();
  }

  /** As BlockPump's: a defect that throws here fails this transfer, not the server. */
  pump = (): void => {
    try {
      this.#pumpNow();
    } catch (err) {
      if (this.#done) return;
      this.#stopReading();
      this.#onError(err as Error);
    }
  };

  #pumpNow(): void {
    if (this.#done || !this.#started) return;
    const acknowledged = this.#sender.acknowledged;
    while (this.#chunks.length > 0) {
      const first = this.#chunks[0] as Chunk;
      if (first.cut < first.length || first.lastBlock > acknowledged) break;
      this.#free.push(first.buffer);
      this.#chunks.shift();
    }
    const blksize = this.#blksize;
    let waiting = 0;
    for (const chunk of this.#chunks) {
      while (chunk.cut < chunk.length && this.#sender.room > 0) {
        const take = Math.min(blksize, chunk.length - chunk.cut);
        this.#sender.supply(chunk.buffer.subarray(chunk.cut, chunk.cut + take));
        chunk.cut += take;
        chunk.lastBlock = this.#nextBlock++;
        if (take < blksize) {
          this.#stopReading(); // a short block is the last; the sender has ended
          return;
        }
      }
      if (chunk.cut < chunk.length) waiting++; // the sender is full
    }
    if (waiting === 0 && this.#eof && !this.#reading) {
      // Every byte is supplied and the file ended on a block boundary (or is empty).
      this.#stopReading();
      this.#sender.end();
      return;
    }
    // Read ahead: the next chunk is read while this one is still being sent, once the
    // client has acknowledged a block. Until then one chunk is enough: a request from a
    // forged address, never acknowledged, holds no more than that while it times out.
    if (waiting === 0 || (waiting < 2 && acknowledged > 0)) this.#read();
  }

  /** Reads the next chunk, inline or through the pool, unless a read is under way or the file has ended. */
  #read(): void {
    if (this.#reading || this.#eof) return;
    if (this.#place.inline) {
      const buffer = this.#buffer(this.#inlineSize);
      let length: number;
      try {
        length = this.#place.run(() => this.#fillNow(buffer));
      } catch (err) {
        this.#stopReading();
        this.#onError(err as Error);
        return;
      }
      this.#filled(buffer, length);
      return;
    }
    this.#reading = true;
    const buffer = this.#buffer(this.#chunkSize);
    void this.#fill(buffer).then(
      (length) => {
        this.#reading = false;
        if (!this.#done) this.#filled(buffer, length);
      },
      (err: Error) => {
        this.#reading = false;
        if (this.#done) return;
        this.#stopReading();
        this.#onError(err);
      },
    );
  }

  /** A free buffer of `size` bytes (one of another size, left from reads made elsewhere, is dropped). */
  #buffer(size: number): Buffer {
    const free = this.#free.pop();
    return free?.length === size ? free : Buffer.allocUnsafe(size);
  }

  /** A read is in: `length` bytes of `buffer`, fewer than it holds only at the end of the file. */
  #filled(buffer: Buffer, length: number): void {
    if (length < buffer.length) {
      const broken = endError(this.#fileEnd, this.#position);
      if (broken) {
        this.#free.push(buffer);
        this.#stopReading();
        this.#onError(broken);
        return;
      }
      this.#eof = true;
    }
    if (length > 0) this.#chunks.push({ buffer, length, cut: 0, lastBlock: 0 });
    else this.#free.push(buffer);
    this.pump();
  }

  /** Fills `buffer` from the file through the pool (several reads if the system returns less), short only at the end. */
  async #fill(buffer: Buffer): Promise<number> {
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await this.#handle.read(buffer, length, buffer.length - length, this.#position);
      if (bytesRead === 0) break;
      length += bytesRead;
      this.#position += bytesRead;
    }
    return length;
  }

  /** As #fill, on the event loop. */
  #fillNow(buffer: Buffer): number {
    const length = readFullSync(this.#handle.fd, buffer, this.#position);
    this.#position += length;
    return length;
  }

  /** The transfer is over (done or failed): no more reads, and the file is closed. */
  stop(): void {
    this.#stopReading();
  }

  #stopReading(): void {
    if (this.#done) return;
    this.#done = true;
    // The pump owns the file: BlockPump's stream closed it when destroyed; here it is done by hand.
    void this.#handle.close().catch(() => {});
  }
}

/** Bytes a writer lets wait for its target before it asks the sender to hold off. */
export const WRITE_BACKLOG = 4 * 1024 * 1024;

export interface BlockWriterOptions {
  netascii?: boolean;
  /** A write failed; `finish()` rejects with the same error. */
  onError?: (err: Error) => void;
  /** The backlog that made `write()` return false has gone down to half the limit. */
  onDrain?: () => void;
  /** Default WRITE_BACKLOG. */
  limit?: number;
}

/**
 * Gathers received blocks into writes of at least 256 KiB, decoding netascii on the way, and
 * keeps count of the bytes its target has not yet taken: past `limit`, `write()` returns
 * false and the receiver holds its next ACK until `onDrain`, so that a disk (or a pipe)
 * slower than the network slows the sender down instead of growing the queue.
 */
export class BlockWriter {
  #target: Writable;
  #decoder: NetasciiDecoder | undefined;
  #held: Buffer[] = [];
  #heldBytes = 0;
  #queued = 0;
  #limit: number;
  #waiting = false;
  #onDrain: (() => void) | undefined;
  /** The first write error, reported by `finish()`. */
  error: Error | undefined;

  constructor(target: Writable, options: BlockWriterOptions = {}) {
    this.#target = target;
    this.#decoder = options.netascii ? new NetasciiDecoder() : undefined;
    this.#limit = options.limit ?? WRITE_BACKLOG;
    this.#onDrain = options.onDrain;
    target.on('error', (err) => {
      this.error ??= err;
      options.onError?.(err);
    });
  }

  /** Bytes handed to the target and not yet written by it. */
  get backlog(): number {
    return this.#queued;
  }

  /** Takes the next block; false when the backlog is past the limit (see `onDrain`). */
  write(block: Buffer): boolean {
    const data = this.#decoder ? this.#decoder.push(block) : block;
    this.#held.push(data);
    this.#heldBytes += data.length;
    if (this.#heldBytes >= 256 * 1024) this.#flush();
    if (this.#queued < this.#limit) return true;
    this.#waiting = true;
    return false;
  }

  /** Writes what is held and ends the target; resolves once it has all been written. */
  finish(): Promise<void> {
    if (this.#decoder) this.#held.push(this.#decoder.end());
    this.#flush();
    return new Promise((resolve, reject) => {
      if (this.error) return reject(this.error);
      this.#target.once('error', reject);
      // A target destroyed meanwhile (a transfer aborted) ends with an error, not a success.
      this.#target.end((err?: Error | null) => {
        const failed = err ?? this.error;
        if (failed) reject(failed);
        else resolve();
      });
    });
  }

  #flush(): void {
    if (this.#heldBytes === 0 && this.#held.every((b) => b.length === 0)) {
      this.#held = [];
      return;
    }
    const data = this.#held.length === 1 ? (this.#held[0] as Buffer) : Buffer.concat(this.#held);
    this.#held = [];
    this.#heldBytes = 0;
    this.#queued += data.length;
    this.#target.write(data, () => {
      this.#queued -= data.length;
      if (this.#waiting && this.#queued <= this.#limit / 2 && !this.error) {
        this.#waiting = false;
        this.#onDrain?.();
      }
    });
  }
}
