import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, SockitError } from '../errors.js';
import { encodeFrame, FrameDecoder, frameHeader, MAX_U32 } from './frame.js';

function decodeAll(decoder: FrameDecoder, chunks: Buffer[]): Buffer[] {
  return chunks.flatMap((chunk) => decoder.push(chunk));
}

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SockitError);
    expect((err as SockitError).code).toBe(code);
    return;
  }
  expect.fail(`expected ${code}, nothing was thrown`);
}

const messages = [Buffer.from('hello'), Buffer.alloc(0), Buffer.from([0, 1, 2, 255]), Buffer.alloc(300, 7)];
const stream = Buffer.concat(messages.map((m) => encodeFrame(m)));

describe('FrameDecoder', () => {
  it('decodes many frames glued in one chunk', () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(stream)).toEqual(messages);
    expect(decoder.buffered).toBe(0);
    decoder.end();
  });

  it('decodes the stream split at every offset', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new FrameDecoder();
      const got = decodeAll(decoder, [stream.subarray(0, cut), stream.subarray(cut)]);
      expect(got, `cut at ${cut}`).toEqual(messages);
      decoder.end();
    }
  });

  it('decodes the stream split at every pair of offsets', () => {
    for (let a = 0; a <= stream.length; a += 3) {
      for (let b = a; b <= stream.length; b += 5) {
        const decoder = new FrameDecoder();
        const got = decodeAll(decoder, [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)]);
        expect(got).toEqual(messages);
      }
    }
  });

  it('decodes the stream fed one byte at a time', () => {
    const decoder = new FrameDecoder();
    const got: Buffer[] = [];
    for (const byte of stream) got.push(...decoder.push(Buffer.from([byte])));
    expect(got).toEqual(messages);
  });

  it('round-trips arbitrary payloads under arbitrary chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 2000 }), { maxLength: 20 }),
        fc.array(fc.nat({ max: 5000 }), { maxLength: 30 }),
        (payloads, cuts) => {
          const bytes = Buffer.concat(payloads.map((p) => encodeFrame(p)));
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
          const chunks: Buffer[] = [];
          let at = 0;
          for (const p of points) {
            chunks.push(bytes.subarray(at, p));
            at = p;
          }
          chunks.push(bytes.subarray(at));
          const decoder = new FrameDecoder();
          const got = decodeAll(decoder, chunks);
          expect(got.map((b) => Buffer.from(b))).toEqual(payloads.map((p) => Buffer.from(p)));
          decoder.end();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a 4 GiB announcement after reading only its prefix', () => {
    const decoder = new FrameDecoder();
    expectCode(() => decoder.push(frameHeader(MAX_U32)), ErrorCode.FRAME_TOO_LARGE);
    expect(decoder.buffered).toBe(0);
  });

  it('refuses an oversized length split across chunks, before buffering its payload', () => {
    const decoder = new FrameDecoder({ maxFrameSize: 10 });
    const frame = Buffer.concat([frameHeader(11), Buffer.alloc(11)]);
    expect(decoder.push(frame.subarray(0, 2))).toEqual([]);
    expectCode(() => decoder.push(frame.subarray(2, 4)), ErrorCode.FRAME_TOO_LARGE);
  });

  it('accepts a frame of exactly the limit', () => {
    const decoder = new FrameDecoder({ maxFrameSize: 10 });
    expect(decoder.push(encodeFrame(Buffer.alloc(10, 1)))).toEqual([Buffer.alloc(10, 1)]);
  });

  it('stays failed after a violation', () => {
    const decoder = new FrameDecoder({ maxFrameSize: 1 });
    expectCode(() => decoder.push(frameHeader(2)), ErrorCode.FRAME_TOO_LARGE);
    expectCode(() => decoder.push(encodeFrame(Buffer.alloc(1))), ErrorCode.FRAME_TOO_LARGE);
  });

  it('reports a stream cut inside a frame', () => {
    const decoder = new FrameDecoder();
    decoder.push(encodeFrame(Buffer.from('abc')).subarray(0, 5));
    expectCode(() => decoder.end(), ErrorCode.TRUNCATED_FRAME);
  });

  it('rejects limits a u32 cannot state', () => {
    expectCode(() => new FrameDecoder({ maxFrameSize: MAX_U32 + 1 }), ErrorCode.INVALID_ARGUMENT);
    expectCode(() => new FrameDecoder({ maxFrameSize: -1 }), ErrorCode.INVALID_ARGUMENT);
  });

  it('refuses to encode a payload above the limit', () => {
    expectCode(() => encodeFrame(Buffer.alloc(5), { maxFrameSize: 4 }), ErrorCode.FRAME_TOO_LARGE);
  });

  it('does not let a returned view change when later chunks arrive', () => {
    const decoder = new FrameDecoder();
    const chunk = Buffer.concat([
      encodeFrame(Buffer.from('one')),
      encodeFrame(Buffer.from('two')).subarray(0, 3),
    ]);
    const [first] = decoder.push(chunk);
    decoder.push(encodeFrame(Buffer.from('two')).subarray(3));
    expect(first?.toString()).toBe('one');
  });
});
