/**
 * One channel of a `Mux`: a Duplex whose stream backpressure is the flow-control window.
 *
 * Receive side (RFC 4254 section 5.2, RFC 9113 section 5.2): the peer may send only as many
 * DATA bytes as this side has granted. Credit is granted back only for bytes the consumer
 * has taken out of the stream (received - still buffered), and only once half the window
 * is consumed, so a consumer that stops reading stops its sender after at most one window
 * of buffered bytes while the other channels keep flowing.
 *
 * Send side: `_write` hands one chunk to the mux's scheduler and calls back once the last
 * of it went out within the peer's window, so `write()` returns false while the peer's
 * reader is stalled: the usual Writable backpressure, no unbounded queue.
 */
import { Duplex } from 'node:stream';
import { ErrorCode, SockitError } from '../errors.js';
import { MAX_WINDOW, type MuxFrame, MuxFrameType, type MuxInfo } from './mux-frame.js';

/** What a channel needs from its mux. */
export interface ChannelHost {
  /** The channel has DATA or EOF it may be able to send. */
  schedule(channel: MuxChannel): void;
  /** Grant the peer `credit` more bytes on this channel. */
  grant(channel: MuxChannel, credit: number): void;
  /** The channel was destroyed locally: send CLOSE if not sent yet, forget it when both sides closed. */
  closed(channel: MuxChannel, info: MuxInfo | undefined): void;
}

export interface ChannelSettings {
  /** Bytes the peer may send before this side grants more. */
  initialWindow: number;
}

export class MuxChannel extends Duplex {
  /** Channel id (odd: opened by the `client` side, even: by the `server` side). */
  readonly id: number;
  /** The JSON object the opener sent with OPEN, if any. */
  readonly info: MuxInfo | undefined;
  /** The JSON object the peer sent with CLOSE, once it has closed (exit status, ...). */
  remoteCloseInfo: MuxInfo | undefined;
  /** Set by the mux once it has sent CLOSE for this channel. */
  closeSent = false;
  /** Set by the mux once the peer's CLOSE arrived. */
  closeReceived = false;
  /** Set by the mux while a peer-opened channel counts toward its `maxChannels`. */
  counted = false;
  /** Set by the mux when it died under the channel: no more frames may be sent. */
  muxGone = false;
  /** Set while the channel waits for room under the peer's limit: its OPEN has not gone out. */
  held = false;

  readonly #host: ChannelHost;
  readonly #window: number;
  // send side
  #sendWindow = 0;
  #outbox: Buffer | undefined;
  #outboxCb: ((err?: Error | null) => void) | undefined;
  #finalCb: ((err?: Error | null) => void) | undefined;
  #eofSent = false;
  // receive side
  #recvWindow: number;
  #inbox: Buffer[] = [];
  #inboxBytes = 0;
  #received = 0;
  #credited = 0;
  #wantRead = false;
  #eofReceived = false;
  #ended = false;
  #localCloseInfo: MuxInfo | undefined;

  /** Created by `Mux.open()` and by the mux for incoming OPENs; not meant to be built directly. */
  constructor(host: ChannelHost, id: number, info: MuxInfo | undefined, settings: ChannelSettings) {
    const window = settings.initialWindow;
    // Kept below a quarter of the window: with credit returned at half the window, the bytes
    // buffered in the stream plus the credit not yet returned stay below the window, so a
    // reading consumer always leaves the sender some window (no stall with both sides idle).
    const readableHighWaterMark = Math.max(1, Math.min(16 * 1024, Math.floor(window / 4)));
    super({ allowHalfOpen: true, readableHighWaterMark, writableHighWaterMark: 64 * 1024 });
    this.#host = host;
    this.id = id;
    this.info = info;
    this.#window = window;
    this.#recvWindow = window;
  }

  /** Bytes received and not yet read by the consumer (never above the window). */
  get buffered(): number {
    return this.#inboxBytes + this.readableLength;
  }

  /** Bytes this side may still send before the peer grants more. */
  get sendWindow(): number {
    return this.#sendWindow;
  }

  /**
   * Ends the channel after pending writes, sending `info` (e.g. `{ exit: 0 }`) with CLOSE.
   * Bytes the peer sends afterwards are discarded.
   *
   * @example
   * ```ts
   * stdout.close({ exit: code });
   * ```
   */
  close(info?: MuxInfo): void {
    this.#localCloseInfo = info;
    if (this.writableFinished || this.closeReceived) {
      this.destroy();
      return;
    }
    this.once('finish', () => this.destroy());
    this.end();
  }

  /**
   * Aborts the channel at once: unsent and unread bytes are dropped, and the peer's side
   * fails with `ERR_CHANNEL_RESET` (RFC 9113 section 6.4, RST_STREAM). No 'error' here.
   *
   * @example
   * ```ts
   * upload.reset('quota exceeded');
   * ```
   */
  reset(reason = 'reset'): void {
    this.#localCloseInfo = { error: ErrorCode.CHANNEL_RESET, reason };
    this.destroy();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.closeReceived) {
      callback(); // The peer closed: like SSH, bytes for a closed channel are dropped.
      return;
    }
    this.#outbox = chunk;
    this.#outboxCb = callback;
    this.#host.schedule(this);
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (this.closeReceived) {
      callback();
      return;
    }
    this.#finalCb = callback;
    this.#host.schedule(this);
  }

  override _read(): void {
    this.#wantRead = true;
    this.#pump();
    this.#returnCredit();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#inbox = [];
    this.#inboxBytes = 0;
    const pending = this.#outboxCb;
    this.#outbox = undefined;
    this.#outboxCb = undefined;
    pending?.(err);
    let info = this.#localCloseInfo;
    if (err && info === undefined) info = { error: (err as SockitError).code ?? ErrorCode.CHANNEL_RESET };
    this.#host.closed(this, info);
    callback(err);
  }

  /** @internal True when a DATA or EOF frame is ready to go out. */
  hasSendable(): boolean {
    if (this.destroyed || this.muxGone || this.closeReceived || this.held) return false;
    if (this.#outbox) return this.#sendWindow > 0;
    return this.#finalCb !== undefined && !this.#eofSent;
  }

  /** @internal The next frame to send, at most `max` bytes of DATA, within the send window. */
  takeFrame(max: number): MuxFrame | undefined {
    if (!this.hasSendable()) return undefined;
    const outbox = this.#outbox;
    if (outbox) {
      const n = Math.min(max, this.#sendWindow, outbox.length);
      this.#sendWindow -= n;
      const data = outbox.subarray(0, n);
      if (n === outbox.length) {
        const callback = this.#outboxCb;
        this.#outbox = undefined;
        this.#outboxCb = undefined;
        callback?.();
      } else {
        this.#outbox = outbox.subarray(n);
      }
      return { type: MuxFrameType.DATA, id: this.id, data };
    }
    this.#eofSent = true;
    const callback = this.#finalCb;
    this.#finalCb = undefined;
    callback?.();
    return { type: MuxFrameType.EOF, id: this.id };
  }

  /** @internal The peer granted credit. False if the window would pass 2^31-1 (RFC 9113 6.9.1). */
  addCredit(credit: number): boolean {
    if (this.#sendWindow + credit > MAX_WINDOW) return false;
    this.#sendWindow += credit;
    return true;
  }

  /** @internal DATA arrived. False if it overruns the window granted or follows EOF. */
  receive(data: Buffer): boolean {
    if (this.#eofReceived || data.length > this.#recvWindow) return false;
    this.#recvWindow -= data.length;
    if (this.destroyed || this.closeSent) return true; // Closed here: in flight, dropped.
    this.#received += data.length;
    this.#inbox.push(data);
    this.#inboxBytes += data.length;
    this.#pump();
    this.#returnCredit();
    return true;
  }

  /** @internal EOF arrived. False if it came twice. */
  receiveEof(): boolean {
    if (this.#eofReceived) return false;
    this.#eofReceived = true;
    this.#pump();
    return true;
  }

  /** @internal CLOSE arrived: an `error` member aborts the channel, otherwise it ends after its bytes. */
  receiveClose(info: MuxInfo | undefined): void {
    this.closeReceived = true;
    this.remoteCloseInfo = info;
    // Before the stream's own 'close', which waits until what arrived has been read.
    this.emit('remoteclose', info);
    if (this.destroyed) return;
    if (info && typeof info.error === 'string') {
      this.destroy(
        new SockitError(ErrorCode.CHANNEL_RESET, `channel ${this.id} reset by peer: ${info.error}`),
      );
      return;
    }
    const pending = this.#outboxCb;
    this.#outbox = undefined;
    this.#outboxCb = undefined;
    pending?.();
    const final = this.#finalCb;
    this.#finalCb = undefined;
    final?.();
    this.#eofReceived = true;
    this.#pump();
    if (this.readableEnded) this.destroy();
    else this.once('end', () => this.destroy());
  }

  #pump(): void {
    while (this.#wantRead && this.#inbox.length > 0) {
      const chunk = this.#inbox.shift() as Buffer;
      this.#inboxBytes -= chunk.length;
      this.#wantRead = this.push(chunk);
    }
    if (this.#eofReceived && this.#inbox.length === 0 && !this.#ended) {
      this.#ended = true;
      this.push(null);
    }
  }

  /** Grants back what the consumer has read, once that is half the window (RFC 4254 5.2). */
  #returnCredit(): void {
    if (this.destroyed || this.closeSent || this.closeReceived || this.#eofReceived) return;
    const consumed = this.#received - this.#inboxBytes - this.readableLength;
    const credit = consumed - this.#credited;
    if (credit >= Math.max(1, Math.floor(this.#window / 2))) {
      this.#credited += credit;
      this.#recvWindow += credit;
      this.#host.grant(this, credit);
    }
  }
}
