import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, SockitError } from '../errors.js';
import { frameHeader } from './frame.js';
import { encodeMuxFrame, type MuxFrame, MuxFrameDecoder, MuxFrameType, muxDataHeader } from './mux-frame.js';

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

/** A raw mux frame: any type byte, id and body, for frames the encoder would not build. */
function raw(type: number, id: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(type, 0);
  head.writeUInt32BE(id, 1);
  return Buffer.concat([frameHeader(5 + body.length), head, body]);
}

const frames: MuxFrame[] = [
  { type: MuxFrameType.SETTINGS, id: 0, maxChannels: 100 },
  { type: MuxFrameType.OPEN, id: 1, info: { kind: 'stdout', argv: ['ls', '-l'] } },
  { type: MuxFrameType.OPEN, id: 2 },
  { type: MuxFrameType.WINDOW, id: 1, credit: 262144 },
  { type: MuxFrameType.DATA, id: 1, data: Buffer.from('hello, channel') },
  { type: MuxFrameType.DATA, id: 2, data: Buffer.alloc(0) },
  { type: MuxFrameType.DATA, id: 0xffff_ffff, data: Buffer.alloc(300, 9) },
  { type: MuxFrameType.EOF, id: 1 },
  { type: MuxFrameType.CLOSE, id: 1, info: { exit: 0 } },
  { type: MuxFrameType.CLOSE, id: 2 },
  { type: MuxFrameType.SETTINGS, id: 0, maxChannels: 0x7fff_ffff },
];
const stream = Buffer.concat(frames.map(encodeMuxFrame));

function normalize(list: MuxFrame[]): unknown[] {
  return list.map((f) => (f.type === MuxFrameType.DATA ? { ...f, data: Buffer.from(f.data) } : f));
}

describe('MuxFrameDecoder', () => {
  it('decodes many frames glued in one chunk', () => {
    const decoder = new MuxFrameDecoder();
    expect(normalize(decoder.push(stream))).toEqual(normalize(frames));
    decoder.end();
  });

  it('decodes the stream split at every offset', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new MuxFrameDecoder();
      const got = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
      expect(normalize(got), `cut at ${cut}`).toEqual(normalize(frames));
      decoder.end();
    }
  });

  it('decodes every frame alone split at every offset', () => {
    for (const frame of frames) {
      const bytes = encodeMuxFrame(frame);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const decoder = new MuxFrameDecoder();
        const got = [...decoder.push(bytes.subarray(0, cut)), ...decoder.push(bytes.subarray(cut))];
        expect(normalize(got)).toEqual(normalize([frame]));
      }
    }
  });

  it('round-trips DATA frames under arbitrary chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 0xffff_ffff }), fc.uint8Array({ maxLength: 3000 })), {
          maxLength: 15,
        }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (items, cuts) => {
          const sent: MuxFrame[] = items.map(([id, bytes]) => ({
            type: MuxFrameType.DATA,
            id,
            data: Buffer.from(bytes),
          }));
          const bytes = Buffer.concat(sent.map(encodeMuxFrame));
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const decoder = new MuxFrameDecoder();
          const got: MuxFrame[] = [];
          let at = 0;
          for (const p of [...points, bytes.length]) {
            got.push(...decoder.push(bytes.subarray(at, p)));
            at = p;
          }
          expect(normalize(got)).toEqual(normalize(sent));
          decoder.end();
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses DATA above maxFramePayload from its length prefix alone', () => {
    const decoder = new MuxFrameDecoder({ maxFramePayload: 100, maxInfoSize: 50 });
    expectCode(() => decoder.push(frameHeader(5 + 101)), ErrorCode.FRAME_TOO_LARGE);
    expect(decoder.buffered).toBe(0);
  });

  it('refuses DATA above maxFramePayload when OPEN info may be larger', () => {
    const decoder = new MuxFrameDecoder({ maxFramePayload: 10, maxInfoSize: 100 });
    expectCode(() => decoder.push(raw(MuxFrameType.DATA, 1, Buffer.alloc(11))), ErrorCode.MUX_PROTOCOL);
  });

  it('refuses OPEN info above maxInfoSize', () => {
    const decoder = new MuxFrameDecoder({ maxInfoSize: 8 });
    const info = Buffer.from(JSON.stringify({ name: 'too long' }));
    expectCode(() => decoder.push(raw(MuxFrameType.OPEN, 1, info)), ErrorCode.MUX_PROTOCOL);
  });

  const malformed: Array<[string, Buffer]> = [
    ['unknown type', raw(9, 1)],
    ['type 0', raw(0, 1)],
    ['channel id 0', raw(MuxFrameType.DATA, 0, Buffer.from('x'))],
    ['frame shorter than type and id', Buffer.concat([frameHeader(3), Buffer.from([2, 0, 0])])],
    ['WINDOW of 0 (RFC 9113 6.9)', raw(MuxFrameType.WINDOW, 1, Buffer.alloc(4))],
    ['WINDOW above 2^31-1', raw(MuxFrameType.WINDOW, 1, Buffer.from([0x80, 0, 0, 0]))],
    ['WINDOW of 3 bytes', raw(MuxFrameType.WINDOW, 1, Buffer.from([0, 0, 1]))],
    ['EOF with a body', raw(MuxFrameType.EOF, 1, Buffer.from('x'))],
    ['OPEN info not JSON', raw(MuxFrameType.OPEN, 1, Buffer.from('{nope'))],
    ['OPEN info an array', raw(MuxFrameType.OPEN, 1, Buffer.from('[1]'))],
    ['CLOSE info null', raw(MuxFrameType.CLOSE, 1, Buffer.from('null'))],
    ['SETTINGS on a channel id', raw(MuxFrameType.SETTINGS, 1, Buffer.from([0, 0, 0, 100]))],
    ['SETTINGS of 3 bytes', raw(MuxFrameType.SETTINGS, 0, Buffer.from([0, 0, 100]))],
    ['SETTINGS above 2^31-1', raw(MuxFrameType.SETTINGS, 0, Buffer.from([0x80, 0, 0, 0]))],
  ];
  for (const [what, bytes] of malformed) {
    it(`refuses ${what} and stays failed`, () => {
      const decoder = new MuxFrameDecoder();
      expectCode(() => decoder.push(bytes), ErrorCode.MUX_PROTOCOL);
      expectCode(
        () => decoder.push(encodeMuxFrame({ type: MuxFrameType.EOF, id: 1 })),
        ErrorCode.MUX_PROTOCOL,
      );
    });
  }

  it('writes a DATA header that, followed by the body, is the whole frame', () => {
    const body = Buffer.alloc(5000, 3);
    const frame = encodeMuxFrame({ type: MuxFrameType.DATA, id: 9, data: body });
    expect(Buffer.concat([muxDataHeader(9, body.length), body]).equals(frame)).toBe(true);
  });

  it('reports a stream cut inside a frame', () => {
    const decoder = new MuxFrameDecoder();
    decoder.push(encodeMuxFrame({ type: MuxFrameType.EOF, id: 3 }).subarray(0, 6));
    expectCode(() => decoder.end(), ErrorCode.TRUNCATED_FRAME);
  });

  it('refuses to encode an id or credit out of range', () => {
    expectCode(() => encodeMuxFrame({ type: MuxFrameType.EOF, id: 0 }), ErrorCode.INVALID_ARGUMENT);
    expectCode(() => encodeMuxFrame({ type: MuxFrameType.EOF, id: 2 ** 32 }), ErrorCode.INVALID_ARGUMENT);
    expectCode(
      () => encodeMuxFrame({ type: MuxFrameType.WINDOW, id: 1, credit: 0 }),
      ErrorCode.INVALID_ARGUMENT,
    );
    expectCode(
      () => encodeMuxFrame({ type: MuxFrameType.SETTINGS, id: 0, maxChannels: -1 }),
      ErrorCode.INVALID_ARGUMENT,
    );
  });
});
