/**
 * The frames between `sockit exec serve` and a terminal's helper process (pty-helper.ts):
 * wire/frame frames whose first byte says what the rest is (see pty-helper.ts for the kinds).
 */
import { encodeFrame, FrameDecoder } from '../wire/frame.js';

/** One frame: `type` (one letter) and its body, text (UTF-8) or bytes. */
export function ptyFrame(type: string, body: Buffer | string = Buffer.alloc(0)): Buffer {
  return encodeFrame(
    Buffer.concat([Buffer.from(type, 'latin1'), typeof body === 'string' ? Buffer.from(body) : body]),
  );
}

/** Reads frames as they arrive; `push` throws on a frame over 1 MiB. */
export class PtyFrameReader {
  readonly #decoder = new FrameDecoder({ maxFrameSize: 1024 * 1024 });

  push(chunk: Buffer): { type: string; body: Buffer }[] {
    return this.#decoder
      .push(chunk)
      .map((f) => ({ type: String.fromCharCode(f[0] ?? 0), body: f.subarray(1) }));
  }
}
