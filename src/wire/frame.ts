/**
 * Length-prefixed frames: the answer to TCP "sticky packets".
 *
 * A stream socket delivers bytes, not messages: two `write`s may arrive glued in one
 * chunk, and one `write` may arrive split over several. Each frame is therefore sent as
 *
 *     +----------------------+------------------+
 *     | length (u32, BE)     | payload (length) |
 *     +----------------------+------------------+
 *
 * and the receiver cuts the stream back into payloads. This module is a pure codec: it
 * imports no socket, so it is tested by feeding it bytes.
 */
import { ErrorCode, SockitError } from '../errors.js';

/** Bytes in the length prefix. */
export const FRAME_HEADER_SIZE = 4;
/** Default largest payload a decoder accepts: 16 MiB. */
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024;
/** The largest length a u32 prefix can state. */
export const MAX_U32 = 0xffff_ffff;

export interface FrameLimits {
  /** Largest payload accepted, in bytes. Default 16 MiB; at most 2^32-1. */
  maxFrameSize?: number;
}

function checkLimit(maxFrameSize: number): number {
  if (!Number.isInteger(maxFrameSize) || maxFrameSize < 0 || maxFrameSize > MAX_U32) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      `maxFrameSize must be an integer from 0 to ${MAX_U32}, got ${maxFrameSize}`,
    );
  }
  return maxFrameSize;
}

function tooLarge(length: number, max: number): SockitError {
  return new SockitError(
    ErrorCode.FRAME_TOO_LARGE,
    `frame of ${length} bytes exceeds the limit of ${max} bytes`,
  );
}

/** The 4-byte prefix for a payload of `length` bytes (for `writev` without copying the payload). */
export function frameHeader(length: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_SIZE);
  header.writeUInt32BE(length, 0);
  return header;
}

/**
 * One frame: prefix and payload in a single buffer.
 *
 * @example
 * ```ts
 * socket.write(encodeFrame(Buffer.from('hello')));
 * ```
 */
export function encodeFrame(payload: Uint8Array, limits: FrameLimits = {}): Buffer {
  const max = checkLimit(limits.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE);
  if (payload.length > max) throw tooLarge(payload.length, max);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_SIZE + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.set(payload, FRAME_HEADER_SIZE);
  return frame;
}

/**
 * Cuts a byte stream into frame payloads, whatever the chunking.
 *
 * The announced length is checked against `maxFrameSize` as soon as its four bytes are
 * in, before any byte of the payload is buffered, so a peer that announces 4 GiB costs
 * four bytes of memory and gets `ERR_FRAME_TOO_LARGE`. After an error the decoder stays
 * failed: the stream has lost its framing and cannot be trusted again.
 *
 * A payload that lies whole inside one chunk is returned as a view of that chunk (no copy).
 *
 * @example
 * ```ts
 * const decoder = new FrameDecoder({ maxFrameSize: 1 << 20 });
 * socket.on('data', (chunk) => { for (const payload of decoder.push(chunk)) handle(payload); });
 * socket.on('end', () => decoder.end());
 * ```
 */
export class FrameDecoder {
  readonly maxFrameSize: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Payload length of the frame being read, or -1 while its prefix is incomplete. */
  #need = -1;
  #failed: SockitError | undefined;

  constructor(limits: FrameLimits = {}) {
    this.maxFrameSize = checkLimit(limits.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE);
  }

  /** Bytes held that do not yet form a whole frame. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Feeds bytes in; returns every payload they complete, in order. Throws `ERR_FRAME_TOO_LARGE`. */
  push(chunk: Uint8Array): Buffer[] {
    if (this.#failed) throw this.#failed;
    const frames: Buffer[] = [];
    if (chunk.length === 0) return frames;
    this.#chunks.push(
      Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length),
    );
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < FRAME_HEADER_SIZE) break;
        const length = this.#peekLength();
        if (length > this.maxFrameSize) {
          this.#failed = tooLarge(length, this.maxFrameSize);
          this.#chunks = [];
          this.#buffered = 0;
          throw this.#failed;
        }
        this.#need = length;
      }
      if (this.#buffered < FRAME_HEADER_SIZE + this.#need) break;
      this.#take(FRAME_HEADER_SIZE);
      frames.push(this.#take(this.#need));
      this.#need = -1;
    }
    return frames;
  }

  /** Declares the stream ended; throws `ERR_TRUNCATED_FRAME` if a frame was cut short. */
  end(): void {
    if (this.#failed) throw this.#failed;
    if (this.#buffered > 0) {
      const held = this.#buffered;
      this.#chunks = [];
      this.#buffered = 0;
      throw new SockitError(ErrorCode.TRUNCATED_FRAME, `stream ended inside a frame (${held} bytes held)`);
    }
  }

  #peekLength(): number {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= FRAME_HEADER_SIZE) return first.readUInt32BE(0);
    let length = 0;
    let got = 0;
    for (const chunk of this.#chunks) {
      for (let i = 0; i < chunk.length && got < FRAME_HEADER_SIZE; i++, got++) {
        length = length * 256 + (chunk[i] as number);
      }
      if (got === FRAME_HEADER_SIZE) break;
    }
    return length;
  }

  /** Removes and returns the next `n` buffered bytes (a view when they lie in one chunk). */
  #take(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#chunks[0];
    if (first === undefined || n === 0) return Buffer.alloc(0);
    if (first.length > n) {
      this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.#chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const chunk = this.#chunks[0] as Buffer;
      const want = n - at;
      if (chunk.length <= want) {
        out.set(chunk, at);
        at += chunk.length;
        this.#chunks.shift();
      } else {
        out.set(chunk.subarray(0, want), at);
        this.#chunks[0] = chunk.subarray(want);
        at = n;
      }
    }
    return out;
  }
}
