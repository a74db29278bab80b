/**
 * Envelope: a JSON header plus an optional binary body, carried in one frame.
 *
 * This is the "struct + JSON header" pattern of the classic file-transfer lessons done
 * with bounds: the frame says how long the whole message is, the envelope says how much
 * of it is header, and the rest is body bytes that never pass through JSON.
 *
 *     frame payload = | header length (u32, BE) | header (UTF-8 JSON object) | body |
 */
import { ErrorCode, SockitError } from '../errors.js';
import { DEFAULT_MAX_FRAME_SIZE, FRAME_HEADER_SIZE, FrameDecoder, type FrameLimits } from './frame.js';

/** Default largest JSON header: 64 KiB. */
export const DEFAULT_MAX_HEADER_SIZE = 64 * 1024;
const LENGTH_SIZE = 4;

export type EnvelopeHeader = Record<string, unknown>;

/** A decoded message. `body` is empty when the sender sent none. */
export interface Envelope<H extends EnvelopeHeader = EnvelopeHeader> {
  header: H;
  body: Buffer;
}

export interface EnvelopeLimits extends FrameLimits {
  /** Largest JSON header, in bytes. Default 64 KiB. */
  maxHeaderSize?: number;
}

function headerTooLarge(length: number, max: number): SockitError {
  return new SockitError(
    ErrorCode.HEADER_TOO_LARGE,
    `envelope header of ${length} bytes exceeds the limit of ${max} bytes`,
  );
}

/**
 * One whole frame (length prefix included) carrying `header` and `body`.
 *
 * @example
 * ```ts
 * socket.write(encodeEnvelope({ type: 'put', name: 'a.txt' }, fileBytes));
 * ```
 */
export function encodeEnvelope(
  header: EnvelopeHeader,
  body?: Uint8Array,
  limits: EnvelopeLimits = {},
): Buffer {
  const maxHeader = limits.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE;
  const maxFrame = limits.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  if (json.length > maxHeader) throw headerTooLarge(json.length, maxHeader);
  const bodyLength = body?.length ?? 0;
  const payloadLength = LENGTH_SIZE + json.length + bodyLength;
  if (payloadLength > maxFrame) {
    throw new SockitError(
      ErrorCode.FRAME_TOO_LARGE,
      `envelope of ${payloadLength} bytes exceeds the frame limit of ${maxFrame} bytes`,
    );
  }
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + payloadLength);
  out.writeUInt32BE(payloadLength, 0);
  out.writeUInt32BE(json.length, FRAME_HEADER_SIZE);
  json.copy(out, FRAME_HEADER_SIZE + LENGTH_SIZE);
  if (body) out.set(body, FRAME_HEADER_SIZE + LENGTH_SIZE + json.length);
  return out;
}

/** Reads an envelope out of one frame payload. Throws `ERR_BAD_ENVELOPE` or `ERR_HEADER_TOO_LARGE`. */
export function decodeEnvelope(payload: Buffer, limits: EnvelopeLimits = {}): Envelope {
  const maxHeader = limits.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE;
  if (payload.length < LENGTH_SIZE) {
    throw new SockitError(ErrorCode.BAD_ENVELOPE, `envelope of ${payload.length} bytes has no header length`);
  }
  const headerLength = payload.readUInt32BE(0);
  if (headerLength > maxHeader) throw headerTooLarge(headerLength, maxHeader);
  if (LENGTH_SIZE + headerLength > payload.length) {
    throw new SockitError(
      ErrorCode.BAD_ENVELOPE,
      `envelope header of ${headerLength} bytes overruns its ${payload.length}-byte frame`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(payload.toString('utf8', LENGTH_SIZE, LENGTH_SIZE + headerLength));
  } catch (err) {
    throw new SockitError(ErrorCode.BAD_ENVELOPE, 'envelope header is not valid JSON', { cause: err });
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new SockitError(ErrorCode.BAD_ENVELOPE, 'envelope header is not a JSON object');
  }
  return { header: header as EnvelopeHeader, body: payload.subarray(LENGTH_SIZE + headerLength) };
}

/**
 * Cuts a byte stream into envelopes: a `FrameDecoder` followed by `decodeEnvelope`.
 *
 * @example
 * ```ts
 * const decoder = new EnvelopeDecoder();
 * socket.on('data', (chunk) => { for (const { header, body } of decoder.push(chunk)) route(header, body); });
 * ```
 */
export class EnvelopeDecoder {
  readonly #frames: FrameDecoder;
  readonly #limits: EnvelopeLimits;

  constructor(limits: EnvelopeLimits = {}) {
    this.#frames = new FrameDecoder(limits);
    this.#limits = limits;
  }

  /** Bytes held that do not yet form a whole envelope. */
  get buffered(): number {
    return this.#frames.buffered;
  }

  push(chunk: Uint8Array): Envelope[] {
    return this.#frames.push(chunk).map((payload) => decodeEnvelope(payload, this.#limits));
  }

  end(): void {
    this.#frames.end();
  }
}
