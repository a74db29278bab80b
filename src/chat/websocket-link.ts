/**
 * The chat's messages (session.ts) over one WebSocket: each message one JSON object in one
 * text frame. Outgoing, the same properties as a stream connection (runtime/conn.ts): a bounded
 * queue, a client that does not read dropped with `ERR_SLOW_READER` rather than waited for,
 * and one write per event-loop turn. Incoming, a read-ahead bound (the socket is paused beyond
 * it), binary frames and text that is not a JSON object refused with a close code, and a
 * ping every `pingIntervalMs` that a live client answers (one that does not is cut).
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { ErrorCode, SockitError } from '../errors.js';
import { scheduleFlush } from '../runtime/conn.js';
import { events } from '../runtime/events.js';
import type { Logger } from '../runtime/log.js';
import { CHAT_FLUSH_GAP_MS } from './port.js';
import type { MessageLink } from './session.js';

/** WebSocket close codes (RFC 6455, 7.4.1). */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_UNSUPPORTED_DATA = 1003;
export const CLOSE_INVALID_DATA = 1007;

export interface WebSocketLinkOptions {
  /** Bytes waiting to go (queued here, in ws and in the socket) at most. */
  maxQueuedBytes: number;
  /** Messages queued here at most. */
  maxQueuedMessages: number;
  /** Largest message sent, in bytes of JSON; a larger one is skipped for this client. */
  maxEventSize: number;
  /** Messages received but not yet taken before the socket is paused. */
  maxUnread: number;
  /** How often the client is pinged, in ms; a client that answers no ping in this time is cut. */
  pingIntervalMs: number;
  log: Logger;
}

/** Text frames are sent as they are cached: a Buffer of JSON, not copied per client. */
const TEXT = { binary: false } as const;

/**
 * A `MessageLink` over a WebSocket (`socket` the connection under it, corked for each
 * turn's batch). `frames` caches the JSON of events shared by many clients, one cache per
 * server: ws frames a Buffer without copying it, so each shared event is serialised once.
 */
export class WebSocketLink implements MessageLink {
  /** Resolves once the WebSocket is closed. */
  readonly closed: Promise<void>;
  readonly #ws: WebSocket;
  readonly #socket: Duplex;
  readonly #frames: WeakMap<object, Buffer>;
  readonly #options: WebSocketLinkOptions;
  #inbox: { data: Buffer; binary: boolean }[] = [];
  #outbox: Buffer[] = [];
  #outBytes = 0;
  #scheduled = false;
  #waitingDrain = false;
  /** end() was asked for: close once the queue is written, with this code and reason. */
  #ending: { code: number; reason: string } | undefined;
  #gone = false;
  #alive = true;
  #wake: (() => void) | undefined;
  readonly #pinger: NodeJS.Timeout;

  constructor(ws: WebSocket, socket: Duplex, frames: WeakMap<object, Buffer>, options: WebSocketLinkOptions) {
    this.#ws = ws;
    this.#socket = socket;
    this.#frames = frames;
    this.#options = options;
    ws.on('message', (data, binary) => {
      this.#alive = true;
      if (this.#ending) return;
      // binaryType 'nodebuffer' (the default): one Buffer, fragments joined.
      this.#inbox.push({ data: data as Buffer, binary });
      if (this.#inbox.length >= options.maxUnread) ws.pause();
      this.#notify();
    });
    ws.on('pong', () => {
      this.#alive = true;
    });
    // Protocol errors (a frame over maxPayload, invalid UTF-8): ws closes with their code.
    ws.on('error', (err) => options.log.debug({ err: err.message }, 'WebSocket error'));
    this.#pinger = setInterval(() => {
      if (!this.#alive) {
        options.log.info({ pingIntervalMs: options.pingIntervalMs }, 'WebSocket client answers no ping');
        ws.terminate();
        return;
      }
      this.#alive = false;
      ws.ping();
    }, options.pingIntervalMs);
    this.#pinger.unref();
    this.closed = new Promise((resolve) => {
      ws.once('close', () => {
        clearInterval(this.#pinger);
        this.#gone = true;
        this.#outbox = [];
        this.#outBytes = 0;
        this.#notify();
        resolve();
      });
    });
  }

  /** Bytes waiting to go: queued here, and held by ws and the socket. */
  get queuedBytes(): number {
    return this.#gone ? 0 : this.#outBytes + this.#ws.bufferedAmount;
  }

  async receive(): Promise<Record<string, unknown>> {
    for (;;) {
      const next = this.#inbox.shift();
      if (next !== undefined) {
        if (this.#inbox.length < this.#options.maxUnread && this.#ws.isPaused) this.#ws.resume();
        return this.#parse(next.data, next.binary);
      }
      if (this.#gone || this.#ending) {
        throw new SockitError(ErrorCode.CONNECTION_CLOSED, 'the client closed the connection');
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  send(message: object, shared?: boolean): void {
    // Closing (the client began it): ws would count what is sent now as buffered, forever.
    if (this.#gone || this.#ending || this.#ws.readyState !== this.#ws.OPEN) return;
    let frame = shared ? this.#frames.get(message) : undefined;
    if (frame === undefined) {
      frame = Buffer.from(JSON.stringify(message));
      if (frame.length > this.#options.maxEventSize) {
        // That message is lost for this client, not the whole fan-out.
        this.#options.log.warn({ bytes: frame.length }, 'chat event too large to send');
        return;
      }
      if (shared) this.#frames.set(message, frame);
    }
    const bytes = this.queuedBytes + frame.length;
    if (bytes > this.#options.maxQueuedBytes || this.#outbox.length >= this.#options.maxQueuedMessages) {
      this.#options.log.warn(
        { bytes, messages: this.#outbox.length + 1, maxQueuedBytes: this.#options.maxQueuedBytes },
        'dropping a WebSocket client that does not read its messages',
      );
      events.error.publish({ service: 'chat', code: ErrorCode.SLOW_READER });
      this.#ws.terminate();
      return;
    }
    this.#outbox.push(frame);
    this.#outBytes += frame.length;
    if (!this.#scheduled && !this.#waitingDrain) {
      this.#scheduled = true;
      // Busy: the next write waits out the gap since the last (see CHAT_FLUSH_GAP_MS).
      scheduleFlush(this.#flushedAt, CHAT_FLUSH_GAP_MS, () => this.#flush());
    }
  }

  /** When the last write went (performance.now()). */
  #flushedAt = Number.NEGATIVE_INFINITY;

  end(): void {
    this.close(CLOSE_NORMAL, '');
  }

  /** Sends what is queued, then the close frame with `code` and `reason` (at most 123 bytes). */
  close(code: number, reason: string): void {
    if (this.#gone || this.#ending) return;
    this.#ending = { code, reason };
    this.#inbox = [];
    this.#notify();
    if (this.#outbox.length === 0 && !this.#waitingDrain) this.#ws.close(code, reason);
  }

  /** Closes at once, without a close handshake (a client that does not answer one). */
  destroy(): void {
    this.#ws.terminate();
  }

  /** Ends a client whose frames break the protocol: a `bye` it can read, then the close code. */
  #refuse(code: number, reason: string): never {
    this.send({ type: 'bye', code: ErrorCode.BAD_REQUEST, reason });
    this.close(code, reason);
    throw new SockitError(ErrorCode.CONNECTION_CLOSED, reason);
  }

  #parse(data: Buffer, binary: boolean): Record<string, unknown> {
    if (binary) this.#refuse(CLOSE_UNSUPPORTED_DATA, 'binary frames are not accepted: send JSON text');
    let value: unknown;
    try {
      // ws has checked that a text frame is valid UTF-8.
      value = JSON.parse(data.toString('utf8'));
    } catch {
      this.#refuse(CLOSE_INVALID_DATA, 'a message must be one JSON object');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.#refuse(CLOSE_INVALID_DATA, 'a message must be one JSON object');
    }
    return value as Record<string, unknown>;
  }

  /** One write per turn, or per CHAT_FLUSH_GAP_MS when busy: every frame queued since the last, corked into one. */
  #flush(): void {
    this.#scheduled = false;
    if (this.#gone) return;
    if (this.#socket.writableNeedDrain) {
      this.#waitingDrain = true;
      this.#socket.once('drain', () => {
        this.#waitingDrain = false;
        this.#flush();
      });
      return;
    }
    const batch = this.#outbox;
    this.#outbox = [];
    this.#outBytes = 0;
    this.#flushedAt = performance.now();
    if (this.#ws.readyState !== this.#ws.OPEN) return;
    this.#socket.cork();
    for (const frame of batch) this.#ws.send(frame, TEXT);
    this.#socket.uncork();
    if (this.#ending) this.#ws.close(this.#ending.code, this.#ending.reason);
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
