/**
 * Message connections: messages in as an async iterator, messages out through a bounded
 * queue that is written once per event-loop turn.
 *
 * The interface is transport-neutral (a TCP envelope stream, a WebSocket, IRC lines); the
 * TCP envelope connection here is its first implementation. The slow-reader policy is the
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

export interface EnvelopeConnectionOptions extends QueueLimits {
  /** Largest message received, in bytes. Default 16 MiB. */
  maxMessageSize?: number;
  /** Messages received but not yet taken from the iterator before the socket is paused. Default 64. */
  maxUnread?: number;
  /** The service in the `sockit:error` event published when a failure ends the connection. Default `'server'`. */
  service?: string;
  log?: Logger;
}

/** Messages at most this long in total are joined into one buffer; longer batches are corked. */
const JOIN_LIMIT = 64 * 1024;

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
export class EnvelopeConnection
  implements MessageConnection<Envelope, { header: EnvelopeHeader; body?: Uint8Array }>
{
  readonly socket: Duplex;
  readonly closed: Promise<SockitError | undefined>;
  readonly #decoder: EnvelopeDecoder;
  readonly #maxBytes: number;
  readonly #maxMessages: number;
  readonly #maxUnread: number;
  readonly #log: Logger;
  readonly #service: string;
  #inbox: Envelope[] = [];
  #outbox: Buffer[] = [];
  #outBytes = 0;
  #scheduled = false;
  #waitingDrain = false;
  #ended = false;
  /** close() was asked for: end once the queue is written. */
  #closing = false;
  #failure: Error | undefined;
  #reason: SockitError | undefined;
  #wake: (() => void) | undefined;
  #resolveClosed!: (reason: SockitError | undefined) => void;

  constructor(socket: Duplex, options: EnvelopeConnectionOptions = {}) {
    this.socket = socket;
    this.#decoder = new EnvelopeDecoder({ maxFrameSize: options.maxMessageSize ?? DEFAULT_MAX_FRAME_SIZE });
    this.#maxBytes = options.maxQueuedBytes ?? 1024 * 1024;
    this.#maxMessages = options.maxQueuedMessages ?? 1024;
    this.#maxUnread = options.maxUnread ?? 64;
    this.#log = options.log ?? silentLogger;
    this.#service = options.service ?? 'server';
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const message of this.#decoder.push(chunk)) this.#inbox.push(message);
      } catch (err) {
        // The framing is lost: nothing after this can be trusted.
        this.destroy(err as SockitError);
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
    return { bytes: this.#outBytes + this.socket.writableLength, messages: this.#outbox.length };
  }

  send(message: { header: EnvelopeHeader; body?: Uint8Array }): boolean {
    if (this.socket.destroyed || this.socket.writableEnded || this.#closing) return false;
    const frame = encodeEnvelope(message.header, message.body);
    const bytes = this.#outBytes + this.socket.writableLength + frame.length;
    if (bytes > this.#maxBytes || this.#outbox.length >= this.#maxMessages) {
      const reason = new SockitError(
        ErrorCode.SLOW_READER,
        `the peer does not read: ${bytes} bytes in ${this.#outbox.length + 1} messages would pass the bound`,
      );
      this.#log.warn(
        { bytes, messages: this.#outbox.length + 1, maxQueuedBytes: this.#maxBytes },
        'dropping a connection that does not read its messages',
      );
      this.destroy(reason);
      return false;
    }
    this.#outbox.push(frame);
    this.#outBytes += frame.length;
    if (!this.#scheduled && !this.#waitingDrain) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
    return true;
  }

  close(): Promise<void> {
    if (!this.socket.destroyed) {
      this.#closing = true;
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

  async *[Symbol.asyncIterator](): AsyncIterator<Envelope> {
    for (;;) {
      const next = this.#inbox.shift();
      if (next) {
        if (this.#inbox.length < this.#maxUnread && this.socket.isPaused()) this.socket.resume();
        yield next;
        continue;
      }
      if (this.#failure) throw this.#failure;
      if (this.#ended) {
        // A stream that ended inside a message throws ERR_TRUNCATED_FRAME.
        this.#decoder.end();
        return;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
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
