/**
 * Stream multiplexing: many flow-controlled channels over one byte stream.
 *
 * What the remote-exec service (stdin, stdout, stderr) and parallel file transfers run on.
 * The transport is any Node `Duplex` (a TCP or TLS socket, or an in-memory pair in tests);
 * this module imports no socket. Frames: `mux-frame.ts`. Channels: `mux-channel.ts`.
 *
 * - Ids (RFC 9113 section 5.1.1): the `client` side opens odd ids, the `server` side even
 *   ones, each strictly increasing, so an id is never reused and no round trip allocates it.
 * - Limits (RFC 9113 section 6.5): each side first sends SETTINGS with its `maxChannels`;
 *   `open()` beyond the peer's limit returns a channel whose OPEN waits for a free slot
 *   (`mux-opens.ts`), so a busy but honest opener is never refused. A side answers the peer's
 *   CLOSE on a channel the peer opened only once its handler has let the channel go, so both
 *   CLOSEs exchanged means the peer no longer counts it.
 * - Windows (RFC 4254 section 5.2, RFC 9113 sections 5.2 and 6.9): each channel starts with
 *   no send window; each side grants its initial window with a WINDOW frame right after
 *   OPEN (opener) or on accepting (acceptor), then more as its consumer reads. DATA beyond
 *   the window is a protocol violation that ends the whole mux (`ERR_MUX_PROTOCOL`).
 * - Fairness: channels with sendable data take turns, one chunk (16 KiB) per turn.
 * - Transport backpressure: no DATA is written while `write()` says the transport is full;
 *   writing resumes on 'drain'. Control frames the peer provokes (WINDOW, CLOSE replies)
 *   are small, and reading stops while they pile up unread by the peer.
 * - Rapid reset (CVE-2023-44487): a channel the peer opened counts toward `maxChannels`
 *   until both sides are done with it (its CLOSE arrived and this side closed or destroyed
 *   it), so a peer that opens and at once closes cannot run more than `maxChannels` handlers
 *   at a time; as Go's http2 server (x/net v0.17.0, CVE-2023-39325) bounds running handlers
 *   by MaxConcurrentStreams. OPENs it refuses and channels the peer resets before this side
 *   closed them draw on a token bucket (`resetBurst`, `resetRate`: nghttp2's defaults, 1000
 *   and 33/s); an empty bucket ends the mux with `ERR_MUX_PROTOCOL`, where Go ends the
 *   connection once 4 x MaxConcurrentStreams early-reset requests wait.
 * - Frames for channels already gone (ignored, RFC 9113 section 5.1) draw their bytes on a
 *   connection-wide bucket of `maxChannels x initialWindow` (the sum of the windows), regained
 *   at one window a second, so they cannot be sent without limit. No set of closed ids is
 *   kept: ids only grow, so "at or below the highest opened and not open" is a closed one.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { ErrorCode, SockitError } from '../errors.js';
import { TokenBucket } from './mux-budget.js';
import { type ChannelHost, MuxChannel } from './mux-channel.js';
import {
  DEFAULT_MAX_FRAME_PAYLOAD,
  MAX_CHANNEL_ID,
  MAX_WINDOW,
  type MuxFrame,
  MuxFrameDecoder,
  type MuxFrameLimits,
  MuxFrameType,
  type MuxInfo,
} from './mux-frame.js';
import { incomingChannels } from './mux-incoming.js';
import { OpenGate } from './mux-opens.js';
import { MuxSender } from './mux-sender.js';

/** Default initial window per channel and direction: 256 KiB. */
export const DEFAULT_INITIAL_WINDOW = 256 * 1024;
/** Default DATA bytes one channel sends per scheduler turn: 16 KiB. */
export const DEFAULT_CHUNK_SIZE = 16 * 1024;
/** Default channels the peer may have open at once (RFC 9113 section 6.5.2 suggests at least 100). */
export const DEFAULT_MAX_CHANNELS = 100;
/** Default refused or early-reset peer channels allowed at once (nghttp2's default burst). */
export const DEFAULT_RESET_BURST = 1000;
/** Default refused or early-reset peer channels regained per second (nghttp2's default rate). */
export const DEFAULT_RESET_RATE = 33;
/** What a frame for a gone channel costs beyond its body: length, type and id. */
const FRAME_OVERHEAD = 9;
/** Unsent control bytes above which the mux stops reading a peer that does not read. */
const CONTROL_BACKLOG = 64 * 1024;

export interface MuxOptions extends MuxFrameLimits {
  /** `client` opens odd channel ids, `server` even ones; the two ends must differ. */
  role: 'client' | 'server';
  /** Bytes the peer may send on a channel before this side's consumer reads. Default 256 KiB. */
  initialWindow?: number;
  /** Largest DATA frame this side sends (at most the peer's `maxFramePayload`). Default 16 KiB. */
  chunkSize?: number;
  /**
   * Channels the peer may have at once, each counted until both sides have closed it; more
   * OPENs are refused. Announced to the peer, whose `open()` keeps within it. Default 100.
   */
  maxChannels?: number;
  /** Refused OPENs plus channels the peer reset before this side closed them, at once. Default 1000. */
  resetBurst?: number;
  /** Of those, how many are regained per second. Default 33. */
  resetRate?: number;
}

export interface MuxEvents {
  /** The peer opened a channel. Without a listener (or an iterator), OPENs are refused. */
  channel: [channel: MuxChannel];
  /** The mux ended: cleanly (no argument) or with the error every open channel got. */
  close: [error?: SockitError];
}

function checkRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function violation(message: string): SockitError {
  return new SockitError(ErrorCode.MUX_PROTOCOL, message);
}

/**
 * Channels over one transport.
 *
 * @example
 * ```ts
 * const mux = new Mux(socket, { role: 'client' });
 * const stdout = mux.open({ kind: 'stdout' });
 * stdout.end('hello');
 * // on the other end:
 * const server = new Mux(peer, { role: 'server' });
 * for await (const channel of server) channel.pipe(process.stdout);
 * ```
 */
export class Mux extends EventEmitter<MuxEvents> {
  readonly #transport: Duplex;
  readonly #decoder: MuxFrameDecoder;
  readonly #window: number;
  readonly #chunkSize: number;
  readonly #sender: MuxSender;
  readonly #maxChannels: number;
  readonly #channels = new Map<number, MuxChannel>();
  readonly #host: ChannelHost;
  readonly #gate: OpenGate;
  #nextId: number;
  #lastPeerId = 0;
  /** Peer-opened channels not yet closed on both sides (what `maxChannels` bounds). */
  #peerOpen = 0;
  readonly #resets: TokenBucket;
  readonly #ignored: TokenBucket;
  #paused = false;
  #closing = false;
  #error: SockitError | undefined;
  #done = false;

  constructor(transport: Duplex, options: MuxOptions) {
    super();
    if (options.role !== 'client' && options.role !== 'server') {
      throw new SockitError(ErrorCode.INVALID_ARGUMENT, "role must be 'client' or 'server'");
    }
    this.#window = checkRange(
      'initialWindow',
      options.initialWindow ?? DEFAULT_INITIAL_WINDOW,
      1,
      MAX_WINDOW,
    );
    this.#chunkSize = checkRange('chunkSize', options.chunkSize ?? DEFAULT_CHUNK_SIZE, 1, 16 * 1024 * 1024);
    this.#maxChannels = checkRange('maxChannels', options.maxChannels ?? DEFAULT_MAX_CHANNELS, 0, 1 << 30);
    this.#resets = new TokenBucket(
      checkRange('resetBurst', options.resetBurst ?? DEFAULT_RESET_BURST, 0, 1 << 30),
      checkRange('resetRate', options.resetRate ?? DEFAULT_RESET_RATE, 0, 1 << 30),
    );
    const windows = Math.max(1, this.#maxChannels) * this.#window;
    this.#ignored = new TokenBucket(windows, this.#window);
    const maxFramePayload = options.maxFramePayload ?? DEFAULT_MAX_FRAME_PAYLOAD;
    checkRange('maxFramePayload', maxFramePayload, 1, 16 * 1024 * 1024);
    this.#decoder = new MuxFrameDecoder({ ...options, maxFramePayload });
    this.#nextId = options.role === 'client' ? 1 : 2;
    this.#transport = transport;
    this.#sender = new MuxSender(transport, this.#chunkSize);
    this.#gate = new OpenGate((channel) => this.#sendOpen(channel));
    this.#host = {
      schedule: (channel) => {
        if (!channel.held) this.#sender.schedule(channel);
      },
      grant: (channel, credit) => this.#sender.write({ type: MuxFrameType.WINDOW, id: channel.id, credit }),
      closed: (channel, info) => this.#localClose(channel, info),
    };
    transport.on('data', (chunk: Buffer) => this.#onData(chunk));
    transport.on('drain', () => this.#onDrain());
    transport.on('end', () => this.#onEnd());
    transport.on('error', (err) =>
      this.#fail(new SockitError(ErrorCode.CONNECTION_CLOSED, err.message, { cause: err })),
    );
    transport.on('close', () => this.#onClose());
    this.#sender.write({ type: MuxFrameType.SETTINGS, id: 0, maxChannels: this.#maxChannels });
  }

  /** Channels this mux holds (open, closed on one side only, or waiting to be opened). */
  get size(): number {
    return this.#channels.size + this.#gate.waiting;
  }

  /** Channels opened here that wait for room under the peer's limit. */
  get waiting(): number {
    return this.#gate.waiting;
  }

  /** True once the mux has ended ('close' was emitted). */
  get closed(): boolean {
    return this.#done;
  }

  /** Why the mux failed, if it did. */
  get error(): SockitError | undefined {
    return this.#error;
  }

  /**
   * Opens a channel; `info` (a JSON object, at most 4 KiB) tells the peer what it is for.
   * Bytes may be written at once; they go out when the peer grants its window. While the
   * peer already has as many of this side's channels as its announced limit (or before its
   * limit is known), the channel waits and its OPEN goes out when a slot frees, in order.
   */
  open(info?: MuxInfo): MuxChannel {
    if (this.#error) throw this.#error;
    if (this.#closing || this.#done) throw new SockitError(ErrorCode.CONNECTION_CLOSED, 'mux is closing');
    if (this.#nextId > MAX_CHANNEL_ID)
      throw new SockitError(ErrorCode.CHANNEL_RESET, 'channel ids exhausted');
    // The id is taken now and OPENs leave in the order of open(), so ids still only grow.
    const channel = new MuxChannel(this.#host, this.#nextId, info, { initialWindow: this.#window });
    this.#nextId += 2;
    this.#gate.request(channel);
    return channel;
  }

  /** The gate let `channel` go: OPEN it, grant its window, send what it already holds. */
  #sendOpen(channel: MuxChannel): void {
    this.#channels.set(channel.id, channel);
    const { id, info } = channel;
    this.#sender.write(
      info === undefined ? { type: MuxFrameType.OPEN, id } : { type: MuxFrameType.OPEN, id, info },
    );
    this.#sender.write({ type: MuxFrameType.WINDOW, id, credit: this.#window });
    this.#sender.schedule(channel);
  }

  /** Ends the transport once every channel has closed; refuses new channels meanwhile. */
  close(): void {
    this.#closing = true;
    this.#endIfIdle();
  }

  /** Ends the mux now: every open channel gets `error` (default `ERR_CONNECTION_CLOSED`). */
  destroy(error?: SockitError): void {
    this.#fail(error ?? new SockitError(ErrorCode.CONNECTION_CLOSED, 'mux destroyed'));
  }

  /** Incoming channels until the mux ends; channels beyond `maxChannels` waiting here are refused. */
  [Symbol.asyncIterator](): AsyncGenerator<MuxChannel> {
    return incomingChannels(this, this.#maxChannels);
  }

  #add(id: number, info: MuxInfo | undefined): MuxChannel {
    const channel = new MuxChannel(this.#host, id, info, { initialWindow: this.#window });
    this.#channels.set(id, channel);
    if (!this.#ours(id)) {
      channel.counted = true;
      this.#peerOpen++;
    }
    return channel;
  }

  #ours(id: number): boolean {
    return id % 2 === this.#nextId % 2;
  }

  #forget(channel: MuxChannel): void {
    if (this.#channels.get(channel.id) !== channel) return;
    this.#channels.delete(channel.id);
    // Ours are forgotten once both CLOSEs are exchanged: the peer no longer counts it.
    if (this.#ours(channel.id)) this.#gate.released();
    this.#endIfIdle();
  }

  /** Both sides are done with a peer's channel: it no longer counts toward `maxChannels`. */
  #release(channel: MuxChannel): void {
    if (!channel.counted) return;
    channel.counted = false;
    this.#peerOpen--;
  }

  /** The peer refused-opened or reset early once more; too often ends the mux. */
  #chargeReset(what: string): void {
    if (!this.#resets.take()) throw violation(`too many ${what}: rapid open and reset`);
  }

  #endIfIdle(): void {
    if (this.#closing && this.size === 0 && !this.#error && !this.#transport.writableEnded) {
      this.#transport.end();
    }
  }

  #onDrain(): void {
    if (this.#paused) {
      this.#paused = false;
      this.#transport.resume();
    }
    this.#sender.drained();
  }

  #onData(chunk: Buffer): void {
    if (this.#error) return;
    try {
      for (const frame of this.#decoder.push(chunk)) {
        this.#onFrame(frame);
        if (this.#error) return;
      }
    } catch (err) {
      this.#fail(err instanceof SockitError ? err : violation(String(err)));
      return;
    }
    const t = this.#transport;
    if (t.writableLength > t.writableHighWaterMark + this.#chunkSize + CONTROL_BACKLOG) {
      this.#paused = true;
      t.pause();
    }
  }

  #onFrame(frame: MuxFrame): void {
    if (frame.type === MuxFrameType.OPEN) {
      this.#onOpen(frame.id, frame.info);
      return;
    }
    if (frame.type === MuxFrameType.SETTINGS) {
      if (!this.#gate.settings(frame.maxChannels)) throw violation('second SETTINGS');
      return;
    }
    const channel = this.#channels.get(frame.id);
    if (!channel) {
      // Frames for a channel that has closed can be in flight (RFC 9113 section 5.1); an id
      // never opened is a violation.
      const used = this.#ours(frame.id) ? frame.id < this.#nextId : frame.id <= this.#lastPeerId;
      if (!used) throw violation(`frame for channel ${frame.id}, which was never opened`);
      const size =
        FRAME_OVERHEAD +
        (frame.type === MuxFrameType.DATA ? frame.data.length : frame.type === MuxFrameType.WINDOW ? 4 : 0);
      if (!this.#ignored.take(size)) throw violation('too many frames for closed channels');
      return;
    }
    switch (frame.type) {
      case MuxFrameType.DATA:
        if (!channel.receive(frame.data))
          throw violation(`channel ${frame.id}: DATA beyond window or after EOF`);
        break;
      case MuxFrameType.WINDOW:
        if (!channel.addCredit(frame.credit)) throw violation(`channel ${frame.id}: window above 2^31-1`);
        this.#sender.schedule(channel);
        break;
      case MuxFrameType.EOF:
        if (!channel.receiveEof()) throw violation(`channel ${frame.id}: second EOF`);
        break;
      case MuxFrameType.CLOSE:
        // RFC 4254 section 5.3: answer CLOSE with CLOSE unless already sent.
        if (channel.counted && !channel.closeSent && frame.info && typeof frame.info.error === 'string')
          this.#chargeReset('channels reset by the peer');
        channel.closeReceived = true;
        // A channel the peer opened is answered once this side's handler lets it go
        // (#localClose): until then it counts toward maxChannels, and the peer, which frees
        // its slot when both CLOSEs are exchanged, must not open another in its place yet.
        if (!channel.closeSent && !channel.counted) {
          channel.closeSent = true;
          this.#sender.write({ type: MuxFrameType.CLOSE, id: channel.id });
        }
        this.#forget(channel);
        channel.receiveClose(frame.info);
        // Still counted while this side's handler holds it (it releases on destroy).
        if (channel.destroyed) this.#release(channel);
        break;
    }
  }

  #onOpen(id: number, info: MuxInfo | undefined): void {
    if (this.#ours(id) || id <= this.#lastPeerId)
      throw violation(`OPEN reuses or misallocates channel id ${id}`);
    this.#lastPeerId = id;
    const accepting = this.listenerCount('channel') > 0 && !this.#closing;
    if (!accepting || this.#peerOpen >= this.#maxChannels) {
      // RFC 9113 section 8.7 (REFUSED_STREAM): refuse the one channel, keep the mux, unless
      // the peer keeps opening into a full mux (rapid reset).
      this.#chargeReset('refused channels');
      this.#sender.write({
        type: MuxFrameType.CLOSE,
        id,
        info: { error: ErrorCode.CHANNEL_RESET, reason: 'refused' },
      });
      return;
    }
    const channel = this.#add(id, info);
    this.#sender.write({ type: MuxFrameType.WINDOW, id, credit: this.#window });
    this.emit('channel', channel);
  }

  #localClose(channel: MuxChannel, info: MuxInfo | undefined): void {
    this.#sender.forget(channel);
    if (channel.muxGone) return;
    if (channel.held) {
      // Destroyed before its OPEN went out: the peer never hears of it.
      this.#gate.drop(channel);
      this.#endIfIdle();
      return;
    }
    if (!channel.closeSent) {
      channel.closeSent = true;
      this.#sender.write(
        info === undefined
          ? { type: MuxFrameType.CLOSE, id: channel.id }
          : { type: MuxFrameType.CLOSE, id: channel.id, info },
      );
    }
    if (channel.closeReceived) {
      this.#forget(channel);
      this.#release(channel);
    }
  }

  #onEnd(): void {
    try {
      this.#decoder.end();
    } catch (err) {
      this.#fail(err as SockitError);
      return;
    }
    if (this.size > 0) {
      this.#fail(
        new SockitError(ErrorCode.CONNECTION_CLOSED, `transport ended with ${this.size} channels open`),
      );
      return;
    }
    this.#closing = true;
    if (!this.#transport.writableEnded) this.#transport.end();
  }

  #onClose(): void {
    if (this.size > 0) {
      this.#fail(
        new SockitError(ErrorCode.CONNECTION_CLOSED, `transport closed with ${this.size} channels open`),
      );
    }
    this.#finish();
  }

  #fail(error: SockitError): void {
    if (this.#error || this.#done) return;
    this.#error = error;
    const channels = [...this.#channels.values(), ...this.#gate.clear()];
    this.#channels.clear();
    this.#peerOpen = 0;
    this.#sender.stop();
    for (const channel of channels) {
      channel.muxGone = true;
      channel.destroy(error);
    }
    this.#transport.destroy();
    this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.emit('close', this.#error);
  }
}
