/**
 * A request/response channel over one stream socket: length-prefixed envelopes (a JSON
 * header plus optional body, see `wire/envelope`) for messages, and raw byte runs of a
 * length announced beforehand for bulk data.
 *
 * The raw runs are what keeps bulk transfers fast: file bytes never pass through a frame
 * encoder or a copy; the reader hands out the socket's own chunks, and the socket is paused
 * while the consumer is behind (backpressure to the sender through TCP's window).
 */
import type { Duplex, Writable } from 'node:stream';
import { ErrorCode, SockitError } from '../errors.js';
import { decodeEnvelope, type Envelope, type EnvelopeHeader, encodeEnvelope } from '../wire/envelope.js';
import { DEFAULT_MAX_FRAME_SIZE, FRAME_HEADER_SIZE } from '../wire/frame.js';
import { SpareBuffers } from './spare-buffers.js';

/**
 * Takes part of a raw run as it arrives, synchronously (the bytes may be a reused buffer's:
 * keep a copy, not the chunk). Returns false when it cannot take more for now.
 */
export type RunConsumer = (chunk: Buffer) => boolean;

/**
 * Bytes a socket on reused reads hands over in one turn of the event loop, at most; then it
 * waits for the next turn, so that other sockets, timers and signals get theirs. libuv reads
 * a socket up to 32 times a turn: 2 MiB through Node's 64 KiB buffers, 8 MiB through a
 * 256 KiB reused one, which made a server with 100 uploads under way take 1.3 s instead of
 * 0.5 s to see a SIGTERM.
 */
const TURN_BYTES = 2 * 1024 * 1024;

/**
 * Where bytes of a reused read buffer that no run takes are copied to (they are messages, and
 * the start of what follows them): 256 KiB buffers, the reused buffers' size, kept between
 * uses (16 at most, for a second) instead of a fresh copy of each read, which for a folder
 * of small files was ~60 MB of short-lived memory per download and its collections (A/B,
 * 2,000 files: 1.05x). Copies follow one another in a channel's current hold while they fit,
 * so that what is held stays within a hold of the bytes held: a peer dripping a message a
 * byte a read must not cost a hold a read.
 */
const HOLDS = new SpareBuffers(256 * 1024, 16, 1000);

/** Fresh chunks shorter than this are copied into a small hold of the channel's (see #hold). */
const SMALL_CHUNK = 1024;
/**
 * The size of a channel's own holds for small fresh chunks: under half of Node's buffer pool,
 * so that they are slices of it, not buffers of their own.
 */
const SMALL_HOLD = 4000;

/**
 * Reads for a client socket into one reused buffer (net.connect's `onread`) instead of a
 * fresh 64 KiB buffer per read. Give `onread` to net.connect and the reads to the Channel.
 * Fresh buffers cost page faults and garbage collection that, on a virtual machine, weigh
 * more than the copy out of a reused one.
 */
export class ReusedReads {
  readonly onread: { buffer: Buffer; callback: (length: number, buffer: Uint8Array) => boolean };
  #target: ((chunk: Buffer) => boolean) | undefined;

  constructor(size = 256 * 1024) {
    const buffer = Buffer.allocUnsafe(size);
    this.onread = {
      buffer,
      callback: (length) => this.#target?.(buffer.subarray(0, length)) ?? true,
    };
  }

  /**
   * The same for a socket a server accepted, for which Node has no `onread` option: its
   * stream handle is switched to one reused buffer as `onread` does it for net.connect
   * (the handle's `useUserBuffer`, and the socket's own two fields for the buffer and its
   * callback, which Node's read path consults). A 1 GiB upload's server otherwise receives
   * 16,384 fresh 64 KiB buffers, each a page fault or more and garbage to collect: with the
   * reused buffer its CPU time went from 2.2-4.4 s to 1.3-1.6 s here. Undefined, and the
   * socket reads as usual, when that cannot be done: a TLS socket (it decrypts into buffers
   * of its own), bytes already read or a reader already listening, or a Node whose internals
   * differ (a test in channel.test.ts fails then, so the loss is seen).
   */
  static adopt(socket: Duplex, size = 256 * 1024): ReusedReads | undefined {
    return ReusedReads.#switch(socket, () => new ReusedReads(size));
  }

  /**
   * Switches a socket that is being closed to reading into one buffer that every such socket
   * shares, and drops what it reads: a peer that keeps sending after a refusal is drained
   * (so that the refusal is not lost to a reset) without a fresh 64 KiB buffer per read, the
   * garbage that made a server's resident size climb by tens of MiB under 50 such peers at
   * once. False, and the socket reads as usual, where `adopt` could not switch it.
   *
   * @example
   * ```ts
   * socket.removeAllListeners('data');
   * socket.end(refusal);
   * ReusedReads.discard(socket);
   * socket.resume();
   * ```
   */
  static discard(socket: Duplex): boolean {
    return ReusedReads.#switch(socket, () => (discarding ??= new ReusedReads(64 * 1024))) !== undefined;
  }

  static #switch(socket: Duplex, make: () => ReusedReads): ReusedReads | undefined {
    const s = socket as Duplex & {
      _handle?: { useUserBuffer?: (buffer: Uint8Array) => void } | null;
      encrypted?: boolean;
    };
    const handle = s._handle;
    if (
      s.encrypted ||
      !handle ||
      typeof handle.useUserBuffer !== 'function' ||
      s.readableLength > 0 ||
      s.listenerCount('data') > 0
    ) {
      return undefined;
    }
    const fields = socket as unknown as Record<symbol, unknown>;
    const field = (name: string): symbol | undefined =>
      Object.getOwnPropertySymbols(socket).find((k) => k.description === name && fields[k] === null);
    const kBuffer = field('kBuffer');
    const kBufferCb = field('kBufferCb');
    if (!kBuffer || !kBufferCb) return undefined;
    const reads = make();
    fields[kBuffer] = reads.onread.buffer;
    fields[kBufferCb] = reads.onread.callback;
    handle.useUserBuffer(reads.onread.buffer);
    return reads;
  }

  /** @internal Where the bytes go: the channel. */
  attach(target: (chunk: Buffer) => boolean): void {
    this.#target = target;
  }
}

/** The buffer `ReusedReads.discard` reads into: nothing is taken from it (it has no target). */
let discarding: ReusedReads | undefined;

interface Run {
  left: number;
  consume: RunConsumer;
  drain: () => Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface ChannelLimits {
  /** Largest message (frame payload) received, in bytes. Default 16 MiB. */
  maxMessageSize?: number;
  /** Largest message sent, in bytes. Default 16 MiB. */
  maxSendSize?: number;
  /** Largest JSON header, in bytes. Default 64 KiB. */
  maxHeaderSize?: number;
  /** Bytes read ahead before the socket is paused. Default 1 MiB. */
  readAhead?: number;
  /** The socket reads into a reused buffer (see `ReusedReads`). */
  reads?: ReusedReads;
  /**
   * For a socket a server accepted: at the first raw run of at least this many bytes, switch
   * it to one reused read buffer (`ReusedReads.adopt`), kept until it closes. Connections
   * that never move that much hold no such buffer. Absent: never.
   */
  adoptReadsAt?: number;
  /**
   * Unsent output (the socket's `writableLength`) above which `receive()` waits for 'drain'
   * before reading the next message, so that a peer that sends requests and never reads
   * the answers cannot turn them into memory. Default 1 MiB.
   */
  maxUnsent?: number;
  /** Once a message's first byte is in, all of it must arrive within this, in ms; 0: no limit. Default 0. */
  frameTimeoutMs?: number;
  /**
   * Start in the pre-log-in stage, with a small message limit (refused from its length
   * prefix, before any of it is buffered) and a short whole-message deadline, until
   * `authenticate()`. Absent: no such stage (clients).
   */
  preLogin?: PreLoginLimits;
}

export interface PreLoginLimits {
  /** Largest message before log-in, in bytes. Default 64 KiB. */
  maxMessageSize?: number;
  /** Whole-message deadline before log-in, in ms. Default 30000. */
  frameTimeoutMs?: number;
}

/**
 * @example
 * ```ts
 * const channel = new Channel(socket);
 * channel.send({ op: 'hello' });
 * const { header } = await channel.receive();
 * await channel.receiveRun(size, (chunk) => file.write(chunk), () => file.drain());
 * ```
 */
export class Channel {
  readonly socket: Duplex;
  readonly #maxMessage: number;
  readonly #frameTimeout: number;
  readonly #maxUnsent: number;
  #preLogin: Required<PreLoginLimits> | undefined;
  readonly #maxSend: number;
  readonly #maxHeader: number | undefined;
  readonly #readAhead: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #ended = false;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;
  #reading = false;
  #run: Run | undefined;
  #paused = false;
  #reused = false;
  #corked = false;
  #discarding = false;
  /** Bytes taken from reused reads in this turn of the event loop, and whether it took its share. */
  #turnBytes = 0;
  #yielding = false;
  /**
   * The spare buffers behind held chunks, by their memory, with the count of chunks in each:
   * a spare goes back once all of its chunks are read.
   */
  readonly #holds = new Map<ArrayBufferLike, { hold: Buffer; chunks: number }>();
  /** The hold copies go into while they fit, and how much of it they filled. */
  #tail: { hold: Buffer; used: number } | undefined;
  #adoptAt: number | undefined;

  constructor(socket: Duplex, limits: ChannelLimits = {}) {
    this.socket = socket;
    this.#maxMessage = limits.maxMessageSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.#maxSend = limits.maxSendSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.#maxHeader = limits.maxHeaderSize;
    this.#readAhead = limits.readAhead ?? 1024 * 1024;
    this.#maxUnsent = limits.maxUnsent ?? 1024 * 1024;
    this.#frameTimeout = limits.frameTimeoutMs ?? 0;
    if (limits.preLogin) {
      this.#preLogin = {
        maxMessageSize: Math.min(limits.preLogin.maxMessageSize ?? 64 * 1024, this.#maxMessage),
        frameTimeoutMs: limits.preLogin.frameTimeoutMs ?? 30_000,
      };
    }
    this.#adoptAt = limits.reads ? undefined : limits.adoptReadsAt;
    if (limits.reads) this.#useReads(limits.reads);
    else socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onEnd);
  }

  #useReads(reads: ReusedReads): void {
    this.#reused = true;
    // Pause through the socket rather than by returning false from onread: the socket's
    // own pause() records the state, so that resume() starts reading again.
    reads.attach((chunk) => {
      if (this.#turnBytes === 0) setImmediate(this.#endTurn);
      this.#turnBytes += chunk.length;
      if (!this.#accept(chunk, true)) this.socket.pause();
      else if (this.#turnBytes >= TURN_BYTES && !this.#yielding) {
        this.#yielding = true;
        this.socket.pause();
      }
      return true;
    });
  }

  /** After a turn of the event loop: a socket that took its share reads on, unless the channel holds it. */
  readonly #endTurn = (): void => {
    this.#turnBytes = 0;
    if (!this.#yielding) return;
    this.#yielding = false;
    const held = this.#paused || (this.#buffered >= this.#readAhead && !this.#discarding);
    if (!held && this.socket.isPaused()) this.socket.resume();
  };

  /**
   * Switches the socket to a reused read buffer (see `adoptReadsAt`), once: what the stream
   * holds unread (it may have been paused) is taken first, as 'data' would have delivered it.
   */
  #adoptReads(): void {
    this.#adoptAt = undefined;
    const socket = this.socket;
    if (this.#discarding || socket.destroyed) return;
    socket.off('data', this.#onData);
    for (let held = socket.read() as Buffer | null; held !== null; held = socket.read() as Buffer | null) {
      this.#accept(held, false);
    }
    const reads = ReusedReads.adopt(socket);
    if (reads) this.#useReads(reads);
    else socket.on('data', this.#onData);
  }

  readonly #onData = (chunk: Buffer): void => {
    if (!this.#accept(chunk, false)) this.socket.pause();
  };
  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#notify();
  };
  readonly #onError = (err: Error): void => {
    this.#failure ??= err;
    this.#notify();
  };

  /**
   * Hands the socket over to another protocol (a `Mux` after log-in): stops listening to it,
   * leaves it paused, and returns the bytes read past the last message (give them back with
   * `socket.unshift()`). The channel cannot be used afterwards. Not for a channel on `reads`.
   */
  release(): Buffer {
    if (this.#reused)
      throw new SockitError(ErrorCode.INVALID_ARGUMENT, 'a channel on reused reads cannot be released');
    this.socket.pause();
    this.socket.off('data', this.#onData);
    this.socket.off('end', this.#onEnd);
    this.socket.off('error', this.#onError);
    this.socket.off('close', this.#onEnd);
    const rest = Buffer.concat(this.#chunks);
    this.#dropHeld();
    return rest;
  }

  /** Forgets what is held; no read can be made from here on. */
  #dropHeld(): void {
    this.#chunks = [];
    this.#holds.clear();
    this.#tail = undefined;
    this.#buffered = 0;
    this.#ended = true;
    this.#failure ??= new SockitError(ErrorCode.CONNECTION_CLOSED, 'the channel was released');
  }

  /**
   * Stops taking the peer's bytes: what is held and whatever comes later is dropped, and the
   * socket reads on, so that its close is seen (a socket left paused behind unread requests
   * never sees the peer go). A read waiting now, or asked for later, fails.
   */
  discard(): void {
    this.#discarding = true;
    this.#dropHeld();
    this.#endRun(this.#failure);
    this.#notify();
    this.socket.resume();
  }

  /**
   * Bytes from the socket: straight to a raw run's consumer when one is waiting, otherwise
   * held (copied first when `borrowed`, the reused read buffer's). False: pause the socket.
   */
  #accept(chunk: Buffer, borrowed: boolean): boolean {
    if (this.#discarding) return true;
    const run = this.#run;
    let rest = chunk;
    if (run && this.#buffered === 0) {
      const part = chunk.length <= run.left ? chunk : chunk.subarray(0, run.left);
      run.left -= part.length;
      rest = chunk.subarray(part.length);
      let more = true;
      try {
        more = run.consume(part);
      } catch (err) {
        this.#endRun(err as Error);
        return false;
      }
      if (run.left === 0) this.#endRun();
      else if (!more) {
        this.#paused = true;
        run.drain().then(
          () => {
            this.#paused = false;
            if (this.socket.isPaused()) this.socket.resume();
          },
          (err: Error) => this.#endRun(err),
        );
        if (rest.length === 0) return false;
      }
      if (rest.length === 0) return true;
    }
    if (borrowed || rest.length < SMALL_CHUNK) this.#hold(rest, borrowed);
    else this.#chunks.push(rest);
    this.#buffered += rest.length;
    this.#notify();
    return !this.#paused && this.#buffered < this.#readAhead;
  }

  /**
   * Keeps a copy of `rest` right after the bytes held last when those are in the current hold
   * and it has room (the chunk grows: no new one), else in a new hold: a spare 256 KiB buffer
   * for bytes of a reused read, a small one (a slice of Node's buffer pool) for a small fresh
   * chunk. Memory held then stays within a hold of the bytes held, however the peer cuts
   * them: kept as they came, a byte a read cost a buffer object each (~350 bytes) and, on
   * reused reads, a 256 KiB spare each. A small hold is never reused: it is kept while it has
   * room (a connection of short messages fills one in dozens) and then left to the collector.
   */
  #hold(rest: Buffer, borrowed: boolean): void {
    let tail = this.#tail;
    if (!tail || tail.used + rest.length > tail.hold.length) {
      if (rest.length > (borrowed ? HOLDS.size : SMALL_HOLD)) {
        this.#chunks.push(borrowed ? Buffer.from(rest) : rest);
        return;
      }
      const hold = borrowed ? HOLDS.take() : Buffer.allocUnsafe(SMALL_HOLD);
      tail = this.#tail = { hold, used: 0 };
      if (borrowed) this.#holds.set(hold.buffer, { hold, chunks: 0 });
    }
    const at = tail.used;
    rest.copy(tail.hold, at);
    tail.used += rest.length;
    // The last chunk grows when it ends where these bytes went in the same hold (holds from
    // Node's pool may lie side by side in one ArrayBuffer: a chunk never spans two).
    const last = this.#chunks.at(-1);
    if (
      at > 0 &&
      last?.buffer === tail.hold.buffer &&
      last.byteOffset >= tail.hold.byteOffset &&
      last.byteOffset + last.length === tail.hold.byteOffset + at
    ) {
      this.#chunks[this.#chunks.length - 1] = tail.hold.subarray(
        last.byteOffset - tail.hold.byteOffset,
        tail.used,
      );
      return;
    }
    this.#chunks.push(tail.hold.subarray(at, tail.used));
    const spare = this.#holds.get(tail.hold.buffer);
    if (spare) spare.chunks++;
  }

  /**
   * A chunk read through: once none of a spare's chunks is left, it goes back at the end of
   * the current task (a run's consumer copies synchronously; a message is copied out of a
   * spare, see #readExactly), and copies start in a new hold.
   */
  #spend(chunk: Buffer): void {
    const entry = this.#holds.get(chunk.buffer);
    if (!entry || --entry.chunks > 0) return;
    this.#holds.delete(chunk.buffer);
    if (this.#tail?.hold === entry.hold) this.#tail = undefined;
    queueMicrotask(() => HOLDS.give(entry.hold));
  }

  #endRun(err?: Error): void {
    const run = this.#run;
    if (!run) return;
    this.#run = undefined;
    if (err) run.reject(err);
    else run.resolve();
  }

  /** Sends one message; false when the socket's buffer is full (see `drain`). */
  send(header: EnvelopeHeader, body?: Uint8Array): boolean {
    return this.write(
      encodeEnvelope(header, body, { maxFrameSize: this.#maxSend, maxHeaderSize: this.#maxHeader }),
    );
  }

  /** Writes raw bytes, waiting while the socket's buffer is full. */
  async sendBytes(chunk: Uint8Array): Promise<void> {
    if (!this.write(chunk)) await this.drain();
  }

  /**
   * Writes raw bytes, together with whatever else is written before the code running now
   * waits: the socket is corked at the first write and uncorked from process.nextTick, which
   * runs once the promise callbacks under way are done. A batch of small messages (requests
   * sent ahead, answers to requests already buffered, a file's request, bytes and end) then
   * leaves in one system call instead of one each; on loopback each send also carries the
   * receiver's TCP processing (50-80 µs here). False when the caller should wait for `drain()`.
   */
  write(chunk: Uint8Array): boolean {
    if (!this.#corked) {
      this.#corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.socket.uncork();
      });
    }
    return this.socket.write(chunk);
  }

  /** Resolves once the socket can take more (at once when it can), rejects if it closes first. */
  async drain(): Promise<void> {
    if (!this.socket.writableNeedDrain) return;
    await untilDrained(this.socket, () => this.#closedError());
  }

  /** @internal What holds the bytes read ahead now: chunks, and spare buffers in use (for tests). */
  get held(): { chunks: number; spares: number } {
    return { chunks: this.#chunks.length, spares: this.#holds.size };
  }

  /** Leaves the pre-log-in stage: the full message limit and deadline apply from now on. */
  authenticate(): void {
    this.#preLogin = undefined;
  }

  /** True while the pre-log-in limits apply. */
  get preLogin(): boolean {
    return this.#preLogin !== undefined;
  }

  /**
   * The next message. Rejects when the peer closes, on a socket error, on a message over the
   * limits (`ERR_FRAME_TOO_LARGE`), or when a begun message does not arrive whole in time
   * (`ERR_READ_TIMEOUT`). Waits first while more than `maxUnsent` bytes of output wait to go.
   */
  async receive(): Promise<Envelope> {
    await this.#roomForReplies();
    const maxMessage = this.#preLogin?.maxMessageSize ?? this.#maxMessage;
    const timeoutMs = this.#preLogin?.frameTimeoutMs ?? this.#frameTimeout;
    // The deadline runs from the message's first byte: the time between messages is the
    // idle timer's, and a byte every few seconds must not hold a connection for ever.
    await this.#waitFor(1);
    const deadline =
      timeoutMs > 0
        ? setTimeout(() => {
            this.#failure ??= new SockitError(
              ErrorCode.READ_TIMEOUT,
              `a message did not arrive whole within ${timeoutMs} ms`,
            );
            this.#notify();
          }, timeoutMs)
        : undefined;
    try {
      const prefix = await this.#readExactly(FRAME_HEADER_SIZE);
      const length = prefix.readUInt32BE(0);
      if (length > maxMessage) {
        throw new SockitError(
          ErrorCode.FRAME_TOO_LARGE,
          `message of ${length} bytes exceeds the limit of ${maxMessage} bytes`,
        );
      }
      const payload = await this.#readExactly(length);
      return decodeEnvelope(payload, { maxHeaderSize: this.#maxHeader });
    } finally {
      clearTimeout(deadline);
    }
  }

  /**
   * Backpressure on replies: while the socket holds more unsent bytes than the bound, stop
   * reading (the socket is paused once the read-ahead fills) until the peer takes them.
   */
  async #roomForReplies(): Promise<void> {
    const writable = this.socket as Duplex & { writableLength?: number };
    while ((writable.writableLength ?? 0) > this.#maxUnsent) {
      if (this.#failure) throw this.#failure;
      if (this.socket.destroyed) throw this.#closedError();
      await untilDrained(this.socket, () => this.#closedError());
    }
  }

  /**
   * Hands the next `count` raw bytes to `consume` as they arrive, without a promise per chunk:
   * what is already held first, then straight from the socket. When `consume` says it is
   * full, the socket is paused until `drain` resolves.
   */
  async receiveRun(count: number, consume: RunConsumer, drain: () => Promise<void>): Promise<void> {
    if (this.#reading || this.#run) throw new SockitError(ErrorCode.INTERNAL, 'Channel: one read at a time');
    if (this.#adoptAt !== undefined && count >= this.#adoptAt) this.#adoptReads();
    let left = count;
    while (left > 0 && this.#buffered > 0) {
      const first = this.#chunks[0] as Buffer;
      const chunk = first.length <= left ? first : first.subarray(0, left);
      this.#consume(chunk.length);
      left -= chunk.length;
      if (!consume(chunk)) await drain();
    }
    if (left === 0) return;
    if (this.#failure) throw this.#failure;
    if (this.#ended) throw this.#closedError();
    await new Promise<void>((resolve, reject) => {
      this.#run = { left, consume, drain, resolve, reject };
      this.#wake = () => {
        // Woken by an end or an error while the run still waits for bytes.
        if (this.#run && (this.#failure || this.#ended)) this.#endRun(this.#failure ?? this.#closedError());
      };
      if (this.socket.isPaused()) this.socket.resume();
    });
  }

  async #readExactly(n: number): Promise<Buffer> {
    if (n === 0) return Buffer.alloc(0);
    await this.#waitFor(n);
    const first = this.#chunks[0] as Buffer;
    if (first.length >= n) {
      // Out of a hold, a copy: the hold goes back to the spares, the message may be kept.
      const out = this.#holds.has(first.buffer) ? Buffer.from(first.subarray(0, n)) : first.subarray(0, n);
      this.#consume(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0] as Buffer;
      const take = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, take);
      filled += take;
      this.#consume(take);
    }
    return out;
  }

  #consume(n: number): void {
    const first = this.#chunks[0] as Buffer;
    if (n === first.length) {
      this.#chunks.shift();
      this.#spend(first);
    } else this.#chunks[0] = first.subarray(n);
    this.#buffered -= n;
    if (this.#buffered < this.#readAhead && this.socket.isPaused()) this.socket.resume();
  }

  async #waitFor(n: number): Promise<void> {
    if (this.#reading) throw new SockitError(ErrorCode.INTERNAL, 'Channel: one read at a time');
    this.#reading = true;
    try {
      // A message may be larger than the read-ahead: keep the socket flowing until it is whole.
      while (this.#buffered < n) {
        if (this.#failure) throw this.#failure;
        if (this.#ended) throw this.#closedError();
        if (this.socket.isPaused()) this.socket.resume();
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      }
    } finally {
      this.#reading = false;
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #closedError(): SockitError {
    return new SockitError(ErrorCode.CONNECTION_CLOSED, 'connection closed by the peer');
  }
}

/**
 * Resolves on `drain`, rejects on `error` or `close`; the listeners go away either way (a
 * transfer waits for drain thousands of times).
 */
export function untilDrained(stream: Writable, closedError: () => Error): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = (): void => done();
    const onError = (err: Error): void => done(err);
    const onClose = (): void => done(closedError());
    stream.on('drain', onDrain);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}
