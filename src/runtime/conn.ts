/**
 * Message connections: messages in as an async iterator, messages out through a bounded
 * queue that is written once per event-loop turn.
 *
 * The interface is transport-neutral (a TCP envelope stream, a WebSocket, IRC lines).
 * `StreamConnection` is the machinery for any byte stream (queue, slow-reader policy, batched
 * writes, read-ahead bound) given a `StreamFraming`; `EnvelopeConnection` here and
 * `LineConnection` (`lines.ts`) are two framings on it. The slow-reader policy is the
 * same for all: a peer that does not read lets its queue fill, and when the next message
 * would pass the bound (in bytes or in messages, counting what the transport still holds)
 * the connection is dropped with `ERR_SLOW_READER` and a log line. Dropping one slow reader
 * is what keeps a server's memory flat; waiting for it would stall every sender to it.
 */
import type { Duplex } from 'node:stream';
import { ErrorCode, SockitError } from '../errors.js';
import { type Envelope, EnvelopeDecoder, type EnvelopeHeader, encodeEnvelope } from '../wire/envelope.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../wire/frame.js';
import { events } from './events.js';
import { type Logger, silentLogger } from './log.js';
import { logLimited } from './log-limit.js';

/** A connection that carries messages of type `In` in and `Out` out. */
export interface MessageConnection<In, Out> extends AsyncIterable<In> {
  /** Queues `message` for the next write. False when the connection is closed, or was just dropped because its queue was full. */
  send(message: Out): boolean;
  /** Bytes and messages waiting to go, including what the transport holds unsent. */
  readonly queued: { bytes: number; messages: number };
  /** Sends what is queued, then ends the connection; resolves once it is closed. */
  close(): Promise<void>;
  /** Closes at once; `reason` is what `closed` resolves with. */
  destroy(reason?: SockitError): void;
  /** Resolves once closed: with the reason when it was dropped, undefined on a plain close. */
  readonly closed: Promise<SockitError | undefined>;
}

export interface QueueLimits {
  /** Bytes queued (plus held unsent by the socket) at most. Default 1 MiB. */
  maxQueuedBytes?: number;
  /** Messages queued at most. Default 1024. */
  maxQueuedMessages?: number;
}

export interface StreamConnectionOptions extends QueueLimits {
  /** Messages received but not yet taken from the iterator before the socket is paused. Default 64. */
  maxUnread?: number;
  /** The service in the `sockit:error` event published when a failure ends the connection. Default `'server'`. */
  service?: string;
  /**
   * After a write, the next waits until this many ms have passed: a connection that is sent
   * many small messages (a chat client in a busy room) gets fewer, larger writes, and the
   * server fewer system calls, at the cost of at most this much latency while it is busy.
   * The first write after a quiet spell goes out at once. Default 0: one write per turn.
   */
  flushGapMs?: number;
  log?: Logger;
}

export interface EnvelopeConnectionOptions extends StreamConnectionOptions {
  /** Largest message received, in bytes. Default 16 MiB. */
  maxMessageSize?: number;
  /** Largest JSON header, received or sent, in bytes. Default 64 KiB. */
  maxHeaderSize?: number;
}

/**
 * Runs `flush` at the next turn, or, when the last write (`flushedAt`, performance.now()) was
 * less than `gapMs` ago, once that gap has passed (see `flushGapMs`).
 */
export function scheduleFlush(flushedAt: number, gapMs: number, flush: () => void): void {
  const wait = gapMs > 0 ? flushedAt + gapMs - performance.now() : 0;
  if (wait >= 1) setTimeout(flush, wait);
  else setImmediate(flush);
}

/** How messages are cut from a byte stream and turned into bytes: one per connection (it may keep state). */
export interface StreamFraming<In, Out> {
  /** Decodes `chunk`, calling `emit` for each whole message; throws a `SockitError` when the input breaks a limit. */
  push(chunk: Buffer, emit: (message: In) => void): void;
  /** The stream ended: returns a last message held back, if any; throws when it ended inside one. */
  end(): In | undefined;
  encode(message: Out): Buffer;
  /**
   * What a decoding error does: `destroy` the connection (the framing is lost), or `stop`
   * reading but leave the connection writable, so that the consumer, which sees the error from
   * the iterator, can send a last refusal and `close()`.
   */
  readonly onBadInput: 'destroy' | 'stop';
}

/** How long, and how much, a connection closed after bad input reads and discards (see `#linger`). */
const LINGER_MS = 2000;
const LINGER_BYTES = 16 * 1024 * 1024;

/** Messages at most this long in total are joined into one buffer; longer batches are corked. */
const JOIN_LIMIT = 64 * 1024;

/**
 * A message connection over a stream socket with a given framing: the shared machinery of
 * every stream transport. In: a read-ahead bound of `maxUnread` messages (the socket is paused
 * beyond it). Out: a bounded queue, the slow-reader policy, one write per event-loop turn.
 *
 * @example
 * ```ts
 * class JsonLines extends StreamConnection<unknown, unknown> {
 *   constructor(socket: Duplex) { super(socket, myJsonLineFraming()); }
 * }
 * ```
 */
export class StreamConnection<In, Out> implements MessageConnection<In, Out> {
  readonly socket: Duplex;
  readonly closed: Promise<SockitError | undefined>;
  readonly #framing: StreamFraming<In, Out>;
  readonly #maxBytes: number;
  readonly #maxMessages: number;
  readonly #maxUnread: number;
  readonly #log: Logger;
  readonly #service: string;
  #inbox: In[] = [];
  #outbox: Buffer[] = [];
  #outBytes = 0;
  #scheduled = false;
  #waitingDrain = false;
  readonly #gapMs: number;
  /** When the last write went (performance.now()), for `flushGapMs`. */
  #flushedAt = Number.NEGATIVE_INFINITY;
  #ended = false;
  /** Reading stopped after bad input (`onBadInput: 'stop'`): what arrives later is ignored. */
  #stopped = false;
  /** The framing was told the stream ended. */
  #finished = false;
  /** close() was asked for: end once the queue is written. */
  #closing = false;
  #failure: Error | undefined;
  #reason: SockitError | undefined;
  #wake: (() => void) | undefined;
  #resolveClosed!: (reason: SockitError | undefined) => void;

  constructor(socket: Duplex, framing: StreamFraming<In, Out>, options: StreamConnectionOptions = {}) {
    this.socket = socket;
    this.#framing = framing;
    this.#maxBytes = options.maxQueuedBytes ?? 1024 * 1024;
    this.#maxMessages = options.maxQueuedMessages ?? 1024;
    this.#maxUnread = options.maxUnread ?? 64;
    this.#log = options.log ?? silentLogger;
    this.#service = options.service ?? 'server';
    this.#gapMs = options.flushGapMs ?? 0;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    const emit = (message: In): void => {
      this.#inbox.push(message);
    };
    socket.on('data', (chunk: Buffer) => {
      if (this.#stopped) return;
      try {
        this.#framing.push(chunk, emit);
      } catch (err) {
        this.#badInput(err as SockitError);
        return;
      }
      if (this.#inbox.length >= this.#maxUnread) socket.pause();
      this.#notify();
    });
    socket.on('end', () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on('error', (err) => {
      this.#failure ??= err;
      this.#notify();
    });
    socket.on('close', () => {
      this.#ended = true;
      this.#outbox = [];
      this.#outBytes = 0;
      this.#notify();
      this.#resolveClosed(this.#reason);
    });
  }

  get queued(): { bytes: number; messages: number } {
    return { bytes: this.queuedBytes, messages: this.#outbox.length };
  }

  /** `queued.bytes`, without making an object: for a check on every message sent. */
  get queuedBytes(): number {
    return this.#outBytes + this.socket.writableLength;
  }

  send(message: Out): boolean {
    if (this.socket.destroyed || this.socket.writableEnded || this.#closing) return false;
    return this.sendEncoded(this.#framing.encode(message));
  }

  /** `message` as this connection's framing writes it: to encode once what many connections send. */
  encode(message: Out): Buffer {
    return this.#framing.encode(message);
  }

  /** Queues bytes made by `encode` (of this or a like connection), as `send` does a message. */
  sendEncoded(frame: Buffer): boolean {
    if (this.socket.destroyed || this.socket.writableEnded || this.#closing) return false;
    const bytes = this.#outBytes + this.socket.writableLength + frame.length;
    if (bytes > this.#maxBytes || this.#outbox.length >= this.#maxMessages) {
      const reason = new SockitError(
        ErrorCode.SLOW_READER,
        `the peer does not read: ${bytes} bytes in ${this.#outbox.length + 1} messages would pass the bound`,
      );
      logLimited(
        'warn',
        this.#log,
        `${this.#service}:slow reader`,
        { bytes, messages: this.#outbox.length + 1, maxQueuedBytes: this.#maxBytes },
        'dropping a connection that does not read its messages',
        (this.socket as { remoteAddress?: string }).remoteAddress ?? '?',
      );
      this.destroy(reason);
      return false;
    }
    this.#outbox.push(frame);
    this.#outBytes += frame.length;
    if (!this.#scheduled && !this.#waitingDrain) {
      this.#scheduled = true;
      scheduleFlush(this.#flushedAt, this.#gapMs, () => this.#flush());
    }
    return true;
  }

  close(): Promise<void> {
    if (!this.socket.destroyed && !this.#closing) {
      this.#closing = true;
      // Nothing will be read from now on: what arrives is discarded, so that the peer's end
      // is seen even when unread messages had paused the socket (see #linger).
      this.#stopped = true;
      this.#linger();
      if (this.#outbox.length === 0 && !this.#waitingDrain) this.socket.end();
    }
    return this.closed.then(() => undefined);
  }

  destroy(reason?: SockitError): void {
    if (reason && !this.#reason) events.error.publish({ service: this.#service, code: reason.code });
    this.#reason ??= reason;
    this.#failure ??= reason;
    this.socket.destroy();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<In> {
    for (;;) {
      if (this.#inbox.length > 0) {
        const next = this.#inbox.shift() as In;
        if (!this.#stopped && this.#inbox.length < this.#maxUnread && this.socket.isPaused()) {
          this.socket.resume();
        }
        yield next;
        continue;
      }
      if (this.#failure) throw this.#failure;
      if (this.#ended) {
        if (this.#finished) return;
        this.#finished = true;
        // A stream that ended inside a message throws (ERR_TRUNCATED_FRAME for envelopes).
        let last: In | undefined;
        try {
          last = this.#framing.end();
        } catch (err) {
          this.#failure = err as Error;
          throw err;
        }
        if (last !== undefined) yield last;
        return;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  #badInput(err: SockitError): void {
    if (this.#framing.onBadInput === 'destroy') {
      // The framing is lost: nothing after this can be trusted.
      this.destroy(err);
      return;
    }
    // Nothing more is read; the messages before the bad one are still delivered, then `err`.
    this.#stopped = true;
    this.#failure ??= err;
    this.socket.pause();
    this.#notify();
  }

  /**
   * After bad input the peer may still be sending. Closing a socket with unread data makes the
   * kernel answer with a reset, which can destroy the refusal before the peer reads it; so, as
   * Apache's lingering close does, read and discard for a bounded time and amount first.
   */
  #linger(): void {
    let left = LINGER_BYTES;
    const timer = setTimeout(() => this.socket.destroy(), LINGER_MS);
    this.socket.once('close', () => clearTimeout(timer));
    this.socket.on('data', (chunk: Buffer) => {
      left -= chunk.length;
      if (left < 0) this.socket.destroy();
    });
    this.socket.resume();
  }

  /** One write per turn: every message queued since the last one, joined or corked. */
  #flush(): void {
    this.#scheduled = false;
    if (this.socket.destroyed || this.#outbox.length === 0) return;
    if (this.socket.writableNeedDrain) {
      this.#waitingDrain = true;
      this.socket.once('drain', () => {
        this.#waitingDrain = false;
        this.#flush();
      });
      return;
    }
    const batch = this.#outbox;
    const bytes = this.#outBytes;
    this.#outbox = [];
    this.#outBytes = 0;
    if (this.#gapMs > 0) this.#flushedAt = performance.now();
    if (batch.length === 1 || bytes <= JOIN_LIMIT) {
      this.socket.write(batch.length === 1 ? (batch[0] as Buffer) : Buffer.concat(batch, bytes));
    } else {
      this.socket.cork();
      for (const frame of batch) this.socket.write(frame);
      this.socket.uncork();
    }
    // A close() asked for while messages waited: they are written now, so end.
    if (this.#closing && !this.socket.writableEnded) this.socket.end();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** Envelopes framed by `wire/envelope`: a decoding error loses the framing, so it destroys. */
function envelopeFraming(
  maxMessageSize: number,
  maxHeaderSize: number | undefined,
): StreamFraming<Envelope, { header: EnvelopeHeader; body?: Uint8Array }> {
  const limits = maxHeaderSize === undefined ? {} : { maxHeaderSize };
  const decoder = new EnvelopeDecoder({ maxFrameSize: maxMessageSize, ...limits });
  return {
    onBadInput: 'destroy',
    push(chunk, emit) {
      for (const message of decoder.push(chunk)) emit(message);
    },
    end() {
      decoder.end();
      return undefined;
    },
    encode: (message) => encodeEnvelope(message.header, message.body, limits),
  };
}

/**
 * Length-prefixed envelopes (`wire/envelope`) over a stream socket.
 *
 * @example
 * ```ts
 * const conn = new EnvelopeConnection(socket, { maxQueuedBytes: 256 * 1024, log });
 * for await (const { header } of conn) {
 *   if (!conn.send({ header: { ok: true, echo: header } })) break; // dropped: a slow reader
 * }
 * ```
 */
export class EnvelopeConnection extends StreamConnection<
  Envelope,
  { header: EnvelopeHeader; body?: Uint8Array }
> {
  constructor(socket: Duplex, options: EnvelopeConnectionOptions = {}) {
    super(
      socket,
      envelopeFraming(options.maxMessageSize ?? DEFAULT_MAX_FRAME_SIZE, options.maxHeaderSize),
      options,
    );
  }
}
