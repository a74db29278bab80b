/**
 * Moving file bytes through a channel, hashing them on the way: the same three steps serve
 * the server's uploads and downloads and the client's.
 */
import { createHash, type Hash } from 'node:crypto';
import { type BigIntStats, closeSync, fdatasync, fstatSync, fsync, writeSync, writev } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import { ErrorCode, SockitError } from '../errors.js';
import type { Channel } from '../runtime/channel.js';
import { FILE_SYNCS } from '../runtime/file-sync.js';
import { readFullSync } from '../runtime/read-full.js';
import { SpareBuffers } from '../runtime/spare-buffers.js';
import { abortedError } from './abort.js';

/** Read size for files: large reads keep the disk and the socket busy with few calls. */
export const READ_CHUNK = 1024 * 1024;

export type ProgressFn = (bytes: number) => void;

/**
 * A SHA-256 of the first `length` bytes of `file`, or undefined when the file is shorter.
 * Used to check, before resuming, that both sides hold the same first bytes, and for the
 * sums of whole files (`progress` after each read; `signal` stops between reads with
 * `ERR_ABORTED`).
 */
export async function hashPrefix(
  file: FileHandle,
  length: number,
  options: { progress?: ProgressFn; signal?: AbortSignal } = {},
): Promise<Hash | undefined> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(length, 1)));
  let position = 0;
  while (position < length) {
    if (options.signal?.aborted) throw abortedError(options.signal);
    const want = Math.min(buffer.length, length - position);
    const { bytesRead } = await file.read(buffer, 0, want, position);
    if (bytesRead === 0) return undefined;
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
    options.progress?.(position);
  }
  return hash;
}

/**
 * The first `size` bytes of the open file `fd`, read at once on the calling thread (for small
 * files only); shorter if the file ends sooner (it shrank since its size was taken).
 */
export function readAtOnce(fd: number, size: number, into?: SendBuffers): Buffer {
  const buffer = into ? into.take(size) : Buffer.allocUnsafe(size);
  const length = readFullSync(fd, buffer);
  return length === size ? buffer : buffer.subarray(0, length);
}

/**
 * Where small files read whole to be sent are read: slices of up to SEND_SLABS reused
 * buffers of SEND_SLAB bytes, taken one after another and all free again once `sent()` says
 * the socket has handed every byte queued before to the kernel (its writableLength is 0:
 * nothing queued refers to them any more). A fresh buffer per file is fresh memory: for a
 * folder of 2,000 small files its page faults in the read, and the garbage collections it
 * brought, were about a quarter of the sending side's CPU. A file larger than a slab, or
 * one that comes while every slab still waits to be sent, gets a buffer of its own.
 *
 * @example
 * ```ts
 * const buffers = new SendBuffers(() => socket.writableLength === 0);
 * const data = readAtOnce(fd, size, buffers);
 * ```
 */
export class SendBuffers {
  readonly #sent: () => boolean;
  readonly #slabs: Buffer[] = [];
  #slab = 0;
  #used = 0;

  constructor(sent: () => boolean) {
    this.#sent = sent;
  }

  /** `size` bytes to read into and send; valid until `sent()` is next true. */
  take(size: number): Buffer {
    if (this.#sent()) {
      this.#slab = 0;
      this.#used = 0;
    }
    if (size > SEND_SLAB) return Buffer.allocUnsafe(size);
    if (this.#used + size > SEND_SLAB) {
      this.#slab++;
      this.#used = 0;
    }
    if (this.#slab >= SEND_SLABS) return Buffer.allocUnsafe(size);
    let slab = this.#slabs[this.#slab];
    if (slab === undefined) {
      slab = Buffer.allocUnsafeSlow(SEND_SLAB);
      this.#slabs[this.#slab] = slab;
    }
    const out = slab.subarray(this.#used, this.#used + size);
    this.#used += size;
    return out;
  }
}

/** Size of SendBuffers' reused buffers: an eager put's largest file fits one. */
const SEND_SLAB = 1024 * 1024;
/** SendBuffers' reused buffers at most, each made when first needed (a window of eager puts is 8 MiB). */
const SEND_SLABS = 12;

/** Hex digest of a copy, leaving `hash` open for more bytes. */
export function peekHex(hash: Hash): string {
  return hash.copy().digest('hex');
}

/**
 * Sends bytes `from` to `to` (exclusive) of `file` as one raw run, adding them to `hash`.
 * A file that shrinks meanwhile cuts the connection: the peer must not wait for bytes
 * that will never come, nor take a short file for a whole one. A file written to meanwhile
 * (its size or times moved) is sent whole and then refused with ERR_INTEGRITY: what went
 * out may mix old and new bytes.
 *
 * Reads go into a few reused buffers: a buffer is read into again only once the socket has
 * handed it to the kernel (the write callback), and fresh 1 MiB buffers per read would
 * cost more in garbage collection than the hashing does. The next chunk is read (in the
 * thread pool) while this one is hashed and written, so the disk and the hash overlap.
 */
export async function sendRange(
  channel: Channel,
  file: FileHandle,
  from: number,
  to: number,
  hash: Hash,
  progress?: ProgressFn,
): Promise<void> {
  const free: Buffer[] = [];
  const count = Math.min(SEND_BUFFERS, Math.max(1, Math.ceil((to - from) / READ_CHUNK)));
  for (let i = 0; i < count; i++) free.push(Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(to - from, 1))));
  let waiter: (() => void) | undefined;
  const giveBack = (buffer: Buffer): void => {
    free.push(buffer);
    const wake = waiter;
    waiter = undefined;
    wake?.();
  };
  const socket = channel.socket;
  /** Reads started, oldest first, and where the next one starts. */
  const reads: { buffer: Buffer; length: number; done: Promise<number> }[] = [];
  let readAt = from;
  const startRead = (): void => {
    const buffer = free.pop() as Buffer;
    const length = Math.min(buffer.length, to - readAt);
    const done = file.read(buffer, 0, length, readAt).then((r) => r.bytesRead);
    done.catch(() => undefined); // awaited in turn, or dropped with the transfer
    reads.push({ buffer, length, done });
    readAt += length;
  };
  const before = await file.stat({ bigint: true });
  let position = from;
  while (position < to) {
    while (reads.length === 0 && free.length === 0) {
      if (socket.destroyed)
        throw new SockitError(ErrorCode.CONNECTION_CLOSED, 'connection closed by the peer');
      await new Promise<void>((resolve) => {
        waiter = resolve;
      });
    }
    if (reads.length === 0) startRead();
    const read = reads.shift() as (typeof reads)[number];
    if (readAt < to && free.length > 0) startRead();
    const bytesRead = await read.done;
    if (bytesRead === 0) {
      socket.destroy();
      throw new SockitError(
        ErrorCode.INTEGRITY,
        `the file shrank while it was being sent (at byte ${position})`,
      );
    }
    if (bytesRead < read.length) {
      // A short read (the file shrank, or a file system that returns less): the reads
      // ahead started past it. They are let go, and reading goes on from where this ended.
      for (const ahead of reads.splice(0)) {
        await ahead.done.catch(() => undefined);
        free.push(ahead.buffer);
      }
      readAt = position + bytesRead;
    }
    // A peer gone mid-run (its reset destroys the socket, and writes then fail quietly) is
    // not sent the rest of a large file for nothing.
    if (socket.destroyed) throw new SockitError(ErrorCode.CONNECTION_CLOSED, 'connection closed by the peer');
    const chunk = read.buffer.subarray(0, bytesRead);
    hash.update(chunk);
    position += bytesRead;
    // The callback runs once the bytes are in the kernel, or with an error; either way the
    // buffer is no longer the socket's.
    const more = socket.write(chunk, () => giveBack(read.buffer));
    if (!more) await channel.drain();
    progress?.(position);
  }
  // Written to while it was read, the file may have gone out half old, half new, under a
  // hash of just that: refused (the run itself is whole, so the connection stays in step).
  if (changed(before, await file.stat({ bigint: true }))) {
    throw new SockitError(ErrorCode.INTEGRITY, 'the file changed while it was being sent; try again');
  }
}

/** Whether a file's status says it was written to between two looks at it. */
function changed(a: BigIntStats, b: BigIntStats): boolean {
  return a.size !== b.size || a.mtimeNs !== b.mtimeNs || a.ctimeNs !== b.ctimeNs;
}

/** Read buffers in flight per transfer: one being read, others queued on the socket. */
const SEND_BUFFERS = 4;

/**
 * Receives a raw run of `count` bytes into `sink`, adding them to `hash`, with
 * backpressure: while the disk is behind, the socket is not read and TCP slows the sender.
 */
export async function receiveRange(
  channel: Channel,
  sink: FileSink,
  count: number,
  hash: Hash,
  progress?: (received: number) => void,
): Promise<void> {
  let received = 0;
  await channel.receiveRun(
    count,
    (chunk) => {
      hash.update(chunk);
      received += chunk.length;
      progress?.(received);
      return sink.write(chunk);
    },
    () => sink.drain(),
  );
}

/**
 * Writes a file from a position on, in large batches, and makes it durable as it goes.
 *
 * Received chunks are copied into a few reused 1 MiB buffers, and the socket's own chunks
 * are let go at once. Holding the socket's chunks until the disk took them instead would
 * keep megabytes of short-lived buffers alive, so that fresh memory is touched all along: on
 * a virtual machine those page faults cost more than the copy (measured: 1 GiB through
 * fresh 64 KiB buffers 2.8-4.3 s, through reused ones 1.7 s).
 *
 * Every SYNC_EVERY bytes a datasync starts in the background, so that the sync at the end,
 * which an upload waits for before it names the file, has little left to do.
 */
export class FileSink {
  readonly #handle: SinkFile;
  #position: number;
  /** Made empty for this sink (written from 0): its sync may be made inline (see FILE_SYNCS). */
  readonly #fresh: boolean;
  #free: Buffer[] = [];
  #current: Buffer | undefined;
  #filled = 0;
  #queue: { buffer: Buffer; length: number }[] = [];
  #writing: Promise<void> | undefined;
  #syncing: Promise<void> | undefined;
  #sinceSync = 0;
  #error: Error | undefined;
  #drained: (() => void) | undefined;

  readonly #staging: number;

  /** `expected`: the bytes to come, when known: a small file gets a buffer its size, not 1 MiB. */
  constructor(handle: SinkFile, position: number, expected = STAGING_SIZE) {
    this.#handle = handle;
    this.#position = position;
    this.#fresh = position === 0;
    this.#staging = Math.max(1, Math.min(STAGING_SIZE, expected));
  }

  /** Copies `chunk` in; false when the caller should wait for `drain()`. */
  write(chunk: Buffer): boolean {
    if (this.#error) throw this.#error;
    let offset = 0;
    while (offset < chunk.length) {
      this.#current ??= this.#free.pop() ?? this.#newBuffer();
      const copied = chunk.copy(this.#current, this.#filled, offset);
      offset += copied;
      this.#filled += copied;
      if (this.#filled === this.#current.length) this.#putOut();
    }
    return this.#queue.length < MAX_QUEUED;
  }

  /**
   * A staging buffer: a small file's from the spares that finished sinks left (a fresh one
   * per file, for a folder of small files, was tens of megabytes a second of short-lived
   * memory outside the heap, and each few of them a full garbage collection).
   */
  #newBuffer(): Buffer {
    if (this.#staging > SMALL_STAGING) return Buffer.allocUnsafe(this.#staging);
    return SMALL_SPARES.take();
  }

  /**
   * Gives the small buffers no write holds any more to the spares, which are let go once no
   * sink has given any back for a second: none is kept for a server or client idle.
   */
  #giveBack(): void {
    for (const buffer of this.#free.splice(0)) SMALL_SPARES.give(buffer);
  }

  /** Resolves once the queue is below its limit. */
  async drain(): Promise<void> {
    while (this.#queue.length >= MAX_QUEUED && !this.#error) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
      });
    }
    if (this.#error) throw this.#error;
  }

  /**
   * Writes what is held, syncs the file to disk and closes it. A small fresh file's sync is
   * made on the event loop where that proved cheaper than the thread pool (see FILE_SYNCS).
   */
  async finish(): Promise<void> {
    await this.#finish(false);
  }

  /**
   * `finish()`, resolving to the file's size once synced, as its descriptor sees it: a check
   * that nothing else wrote to it, without opening it again.
   */
  async finishSized(): Promise<number> {
    return (await this.#finish(true)) as number;
  }

  async #finish(sized: boolean): Promise<number | undefined> {
    try {
      await this.#settle();
      if (this.#error) throw this.#error;
      const handle = this.#handle;
      await (this.#fresh ? FILE_SYNCS.sync(handle.fd, this.#position, () => handle.sync()) : handle.sync());
      return sized ? fstatSync(handle.fd).size : undefined;
    } finally {
      this.#giveBack();
      await this.#handle.close();
    }
  }

  /** Writes what is held and closes the file, without the final sync: what a cut transfer keeps. */
  async abandon(): Promise<void> {
    try {
      await this.#settle();
    } finally {
      this.#giveBack();
      await this.#handle.close();
    }
  }

  async #settle(): Promise<void> {
    if (this.#filled > 0) this.#putOut();
    while (this.#writing) await this.#writing;
    await this.#syncing;
  }

  /**
   * Hands on the held buffer (full, or the last piece). No larger than a direct write and
   * with nothing ahead of it on its way (a small file's buffer is sized to the file), it goes
   * to the page cache at once: a write of a few KiB takes microseconds, a round trip through
   * the thread pool far more. Otherwise, or if that write failed, it is queued for the
   * background writer (which writes nothing after a failure).
   */
  #putOut(): void {
    if (this.#filled <= DIRECT_WRITE && !this.#writing && !this.#error) this.#writeNow();
    if (this.#filled > 0) this.#enqueue();
  }

  #writeNow(): void {
    const buffer = this.#current as Buffer;
    try {
      let done = 0;
      while (done < this.#filled) {
        done += writeSync(this.#handle.fd, buffer, done, this.#filled - done, this.#position + done);
      }
      this.#position += done;
      this.#filled = 0;
      this.#current = undefined;
      this.#free.push(buffer);
    } catch (err) {
      this.#error = err as Error;
    }
  }

  #enqueue(): void {
    this.#queue.push({ buffer: this.#current as Buffer, length: this.#filled });
    this.#current = undefined;
    this.#filled = 0;
    // Nothing more is written after a failure. (A flush started then would end before its
    // first await, clearing #writing before the assignment below stored it for good: #settle
    // would then wait on it forever, in promise callbacks, starving the event loop.)
    if (this.#error) return;
    this.#writing ??= this.#flush();
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#error) {
        const held = this.#queue.splice(0);
        const batch = held.map((e) =>
          e.length === e.buffer.length ? e.buffer : e.buffer.subarray(0, e.length),
        );
        const bytes = held.reduce((n, e) => n + e.length, 0);
        let done = 0;
        while (done < bytes) {
          const { bytesWritten } = await this.#handle.writev(
            done === 0 ? batch : remaining(batch, done),
            this.#position,
          );
          done += bytesWritten;
          this.#position += bytesWritten;
        }
        for (const e of held) this.#free.push(e.buffer);
        this.#sinceSync += bytes;
        if (this.#sinceSync >= SYNC_EVERY && !this.#syncing) {
          this.#sinceSync = 0;
          this.#syncing = this.#handle
            .datasync()
            .catch((err: Error) => {
              // A failed sync (EIO, ENOSPC on some file systems) fails the transfer, not the process.
              this.#error ??= err;
            })
            .finally(() => {
              this.#syncing = undefined;
            });
        }
        this.#wake();
      }
    } catch (err) {
      this.#error = err as Error;
      this.#wake();
    } finally {
      this.#writing = undefined;
    }
  }

  #wake(): void {
    const wake = this.#drained;
    this.#drained = undefined;
    wake?.();
  }
}

/** What a FileSink writes through: a FileHandle, or a descriptor opened without the thread pool (`descriptorFile`). */
export type SinkFile = Pick<FileHandle, 'fd' | 'writev' | 'datasync' | 'sync' | 'close'>;

const writevAsync = promisify(writev);
const fsyncAsync = promisify(fsync);
const fdatasyncAsync = promisify(fdatasync);

/**
 * A SinkFile over a descriptor from openSync: for a small file, opened and closed without a
 * round trip through the thread pool each (its one sync still goes through it). The sink
 * owns the descriptor and closes it.
 */
export function descriptorFile(fd: number): SinkFile {
  let closed = false;
  return {
    fd,
    // Resolves to { bytesWritten, ... }: all the sink reads of it, as of FileHandle.writev's.
    writev: ((buffers: NodeJS.ArrayBufferView[], position?: number) =>
      writevAsync(fd, buffers, position)) as SinkFile['writev'],
    datasync: () => fdatasyncAsync(fd),
    sync: () => fsyncAsync(fd),
    close: async () => {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
  };
}

/** The most a sink writes at once on the event loop, without the thread pool. */
const DIRECT_WRITE = 128 * 1024;
/** Size of the sink's reused buffers. */
const STAGING_SIZE = 1024 * 1024;
/** A small file's staging buffer, shared between sinks one after another (see FileSink). */
const SMALL_STAGING = 64 * 1024;
/** Spare small staging buffers, kept (16: 1 MiB) until no sink has given one back for a second. */
const SMALL_SPARES = new SpareBuffers(SMALL_STAGING, 16, 1000);

/** Spare small staging buffers held now (for tests: none once sinks have been idle a while). */
export function spareStagingBuffers(): number {
  return SMALL_SPARES.held;
}
/** Full buffers waiting for the disk before the socket is paused: 8 MiB. */
const MAX_QUEUED = 8;
/** Bytes written between background syncs. */
const SYNC_EVERY = 64 * 1024 * 1024;

/** The part of `batch` after its first `skip` bytes (after a short write). */
function remaining(batch: Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  let left = skip;
  for (const b of batch) {
    if (left >= b.length) {
      left -= b.length;
      continue;
    }
    out.push(left > 0 ? b.subarray(left) : b);
    left = 0;
  }
  return out;
}
