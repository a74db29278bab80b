/**
 * Mux frames: many channels over one byte stream. A pure codec; the engine is `mux.ts`.
 *
 * Each mux frame is one length-prefixed frame (`frame.ts`) whose payload starts with a
 * type byte and a channel id:
 *
 *     | length (u32, BE) | type (u8) | channel id (u32, BE) | body (length - 5 bytes) |
 *
 * The types follow the SSH connection protocol's channel messages (RFC 4254 sections
 * 5.1-5.3: open, data, window adjust, EOF, close) with HTTP/2's id rules (RFC 9113
 * section 5.1.1: each side allocates ids of its own parity, always increasing), so an id
 * is never reused and no open/confirm round trip is needed to agree on one.
 *
 * SETTINGS (the idea of RFC 9113 section 6.5) is the first frame each side sends, on id 0,
 * the one frame that names no channel: it announces how many channels the sender lets its
 * peer have open at once, so that the peer holds back OPENs beyond it instead of having them
 * refused (HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS).
 *
 * Every limit is checked as soon as the frame is whole, and the length prefix against
 * the largest legal frame before a byte of the body is buffered (`FrameDecoder`).
 */
import { ErrorCode, SockitError } from '../errors.js';
import { FrameDecoder, frameHeader } from './frame.js';

/** The frame types. Values are on the wire: never renumber. */
export const MuxFrameType = {
  /** Opens channel `id`; body: optional UTF-8 JSON object (what the channel is for). */
  OPEN: 1,
  /** Bytes for channel `id`; body: the bytes (at most `maxFramePayload`). */
  DATA: 2,
  /** Grants `credit` more bytes of DATA on channel `id`; body: u32 BE, 1..2^31-1. */
  WINDOW: 3,
  /** The sender will send no more DATA on `id` (half-close); empty body. */
  EOF: 4,
  /** The sender is done with `id`; body: optional UTF-8 JSON object (exit status, error code). */
  CLOSE: 5,
  /** The sender's limits, on id 0 only; body: u32 BE `maxChannels` (0..2^31-1). */
  SETTINGS: 6,
} as const;
export type MuxFrameType = (typeof MuxFrameType)[keyof typeof MuxFrameType];

/** A JSON object carried by OPEN and CLOSE. */
export type MuxInfo = Record<string, unknown>;

export type MuxFrame =
  | { type: typeof MuxFrameType.OPEN; id: number; info?: MuxInfo }
  | { type: typeof MuxFrameType.DATA; id: number; data: Buffer }
  | { type: typeof MuxFrameType.WINDOW; id: number; credit: number }
  | { type: typeof MuxFrameType.EOF; id: number }
  | { type: typeof MuxFrameType.CLOSE; id: number; info?: MuxInfo }
  | { type: typeof MuxFrameType.SETTINGS; id: 0; maxChannels: number };

/** Bytes between the length prefix and the body: type and channel id. */
export const MUX_PREFIX_SIZE = 5;
/** Default largest DATA body: 64 KiB. */
export const DEFAULT_MAX_FRAME_PAYLOAD = 64 * 1024;
/** Default largest OPEN/CLOSE JSON body: 4 KiB. */
export const DEFAULT_MAX_INFO_SIZE = 4096;
/** Largest window and credit (RFC 9113 section 6.9.1: 2^31-1). */
export const MAX_WINDOW = 0x7fff_ffff;
/** Largest channel id: a u32. Id 0 is never a channel. */
export const MAX_CHANNEL_ID = 0xffff_ffff;
/** Largest `maxChannels` a SETTINGS frame may announce. */
export const MAX_ANNOUNCED_CHANNELS = 0x7fff_ffff;

export interface MuxFrameLimits {
  /** Largest DATA body accepted, in bytes. Default 64 KiB. */
  maxFramePayload?: number;
  /** Largest OPEN/CLOSE JSON body accepted, in bytes. Default 4 KiB. */
  maxInfoSize?: number;
}

function violation(message: string): SockitError {
  return new SockitError(ErrorCode.MUX_PROTOCOL, message);
}

function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 1 || id > MAX_CHANNEL_ID) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `channel id must be 1..${MAX_CHANNEL_ID}, got ${id}`);
  }
}

function prefix(type: MuxFrameType, id: number, bodyLength: number): Buffer {
  if (type !== MuxFrameType.SETTINGS) checkId(id);
  const head = Buffer.allocUnsafe(4 + MUX_PREFIX_SIZE + bodyLength);
  frameHeader(MUX_PREFIX_SIZE + bodyLength).copy(head, 0);
  head.writeUInt8(type, 4);
  head.writeUInt32BE(id, 5);
  return head;
}

/**
 * The 9 bytes before a DATA body of `length` bytes (length prefix, type, id): with it, a
 * large body can be written as it is, without copying it behind its header.
 *
 * @example
 * ```ts
 * socket.cork(); socket.write(muxDataHeader(1, body.length)); socket.write(body); socket.uncork();
 * ```
 */
export function muxDataHeader(id: number, length: number): Buffer {
  return withLength(prefix(MuxFrameType.DATA, id, 0), length);
}

function withLength(head: Buffer, bodyLength: number): Buffer {
  head.writeUInt32BE(MUX_PREFIX_SIZE + bodyLength, 0);
  return head;
}

/**
 * One mux frame as bytes, length prefix included.
 *
 * @example
 * ```ts
 * socket.write(encodeMuxFrame({ type: MuxFrameType.DATA, id: 1, data: Buffer.from('hi') }));
 * ```
 */
export function encodeMuxFrame(frame: MuxFrame): Buffer {
  switch (frame.type) {
    case MuxFrameType.DATA: {
      const out = prefix(frame.type, frame.id, frame.data.length);
      out.set(frame.data, 4 + MUX_PREFIX_SIZE);
      return out;
    }
    case MuxFrameType.WINDOW: {
      if (!Number.isInteger(frame.credit) || frame.credit < 1 || frame.credit > MAX_WINDOW) {
        throw new SockitError(ErrorCode.INVALID_ARGUMENT, `window credit must be 1..${MAX_WINDOW}`);
      }
      const out = prefix(frame.type, frame.id, 4);
      out.writeUInt32BE(frame.credit, 4 + MUX_PREFIX_SIZE);
      return out;
    }
    case MuxFrameType.EOF:
      return prefix(frame.type, frame.id, 0);
    case MuxFrameType.SETTINGS: {
      const n = frame.maxChannels;
      if (!Number.isInteger(n) || n < 0 || n > MAX_ANNOUNCED_CHANNELS) {
        throw new SockitError(ErrorCode.INVALID_ARGUMENT, `maxChannels must be 0..${MAX_ANNOUNCED_CHANNELS}`);
      }
      const out = prefix(frame.type, 0, 4);
      out.writeUInt32BE(n, 4 + MUX_PREFIX_SIZE);
      return out;
    }
    case MuxFrameType.OPEN:
    case MuxFrameType.CLOSE: {
      const json = frame.info === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(frame.info));
      const out = prefix(frame.type, frame.id, json.length);
      out.set(json, 4 + MUX_PREFIX_SIZE);
      return out;
    }
  }
}

function parseInfo(body: Buffer, max: number, what: string): MuxInfo | undefined {
  if (body.length === 0) return undefined;
  if (body.length > max) throw violation(`${what} info of ${body.length} bytes exceeds ${max}`);
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw violation(`${what} info is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw violation(`${what} info is not a JSON object`);
  }
  return value as MuxInfo;
}

/**
 * Cuts a byte stream into mux frames, whatever the chunking, and checks each one's shape.
 * After a violation (`ERR_MUX_PROTOCOL`, `ERR_FRAME_TOO_LARGE`) it stays failed.
 * Whether an id may be used is the engine's concern, not the codec's.
 *
 * @example
 * ```ts
 * const decoder = new MuxFrameDecoder();
 * socket.on('data', (chunk) => { for (const frame of decoder.push(chunk)) handle(frame); });
 * ```
 */
export class MuxFrameDecoder {
  readonly maxFramePayload: number;
  readonly maxInfoSize: number;
  readonly #frames: FrameDecoder;
  #failed: SockitError | undefined;

  constructor(limits: MuxFrameLimits = {}) {
    this.maxFramePayload = limits.maxFramePayload ?? DEFAULT_MAX_FRAME_PAYLOAD;
    this.maxInfoSize = limits.maxInfoSize ?? DEFAULT_MAX_INFO_SIZE;
    const largest = Math.max(this.maxFramePayload, this.maxInfoSize, 4);
    this.#frames = new FrameDecoder({ maxFrameSize: MUX_PREFIX_SIZE + largest });
  }

  /** Bytes held that do not yet form a whole frame. */
  get buffered(): number {
    return this.#frames.buffered;
  }

  /** Feeds bytes in; returns every frame they complete, in order. */
  push(chunk: Uint8Array): MuxFrame[] {
    if (this.#failed) throw this.#failed;
    try {
      return this.#frames.push(chunk).map((payload) => this.#decode(payload));
    } catch (err) {
      this.#failed = err as SockitError;
      throw err;
    }
  }

  /** Declares the stream ended; throws `ERR_TRUNCATED_FRAME` if a frame was cut short. */
  end(): void {
    if (this.#failed) throw this.#failed;
    this.#frames.end();
  }

  #decode(payload: Buffer): MuxFrame {
    if (payload.length < MUX_PREFIX_SIZE)
      throw violation(`mux frame of ${payload.length} bytes is too short`);
    const type = payload.readUInt8(0);
    const id = payload.readUInt32BE(1);
    const body = payload.subarray(MUX_PREFIX_SIZE);
    if (type === MuxFrameType.SETTINGS) {
      if (id !== 0) throw violation('SETTINGS must be on id 0');
      if (body.length !== 4) throw violation('SETTINGS body must be 4 bytes');
      const maxChannels = body.readUInt32BE(0);
      if (maxChannels > MAX_ANNOUNCED_CHANNELS)
        throw violation(`SETTINGS maxChannels ${maxChannels} out of range`);
      return { type, id: 0, maxChannels };
    }
    if (id === 0) throw violation('channel id 0 is reserved');
    switch (type) {
      case MuxFrameType.OPEN:
        return { type, id, ...optionalInfo(parseInfo(body, this.maxInfoSize, 'OPEN')) };
      case MuxFrameType.DATA:
        if (body.length > this.maxFramePayload) {
          throw violation(`DATA of ${body.length} bytes exceeds ${this.maxFramePayload}`);
        }
        return { type, id, data: body };
      case MuxFrameType.WINDOW: {
        if (body.length !== 4) throw violation('WINDOW body must be 4 bytes');
        const credit = body.readUInt32BE(0);
        // RFC 9113 section 6.9: an increment of 0 is an error.
        if (credit < 1 || credit > MAX_WINDOW) throw violation(`WINDOW credit ${credit} out of range`);
        return { type, id, credit };
      }
      case MuxFrameType.EOF:
        if (body.length !== 0) throw violation('EOF has no body');
        return { type, id };
      case MuxFrameType.CLOSE:
        return { type, id, ...optionalInfo(parseInfo(body, this.maxInfoSize, 'CLOSE')) };
      default:
        throw violation(`unknown mux frame type ${type}`);
    }
  }
}

function optionalInfo(info: MuxInfo | undefined): { info?: MuxInfo } {
  return info === undefined ? {} : { info };
}
