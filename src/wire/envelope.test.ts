import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, SockitError } from '../errors.js';
import { decodeEnvelope, EnvelopeDecoder, encodeEnvelope } from './envelope.js';
import { encodeFrame } from './frame.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof SockitError ? err.code : `not a SockitError: ${String(err)}`;
  }
  return undefined;
}

/** A payload with a declared header length and raw header bytes. */
function rawEnvelope(headerLength: number, header: string, body = ''): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(headerLength);
  return Buffer.concat([prefix, Buffer.from(header), Buffer.from(body)]);
}

describe('envelope', () => {
  it('carries a header and a binary body', () => {
    const body = Buffer.from([0, 0xff, 0x0a, 0x0d]);
    const [msg] = new EnvelopeDecoder().push(encodeEnvelope({ type: 'put', name: 'a.bin', size: 4 }, body));
    expect(msg?.header).toEqual({ type: 'put', name: 'a.bin', size: 4 });
    expect(msg?.body).toEqual(body);
  });

  it('gives an empty body when none was sent', () => {
    const [msg] = new EnvelopeDecoder().push(encodeEnvelope({ ok: true }));
    expect(msg?.body.length).toBe(0);
  });

  it('separates glued envelopes split at every offset', () => {
    const sent = [
      { header: { n: 1, text: 'glued' }, body: Buffer.from('first body') },
      { header: { n: 2, unicode: 'héllo ✓' }, body: Buffer.alloc(0) },
      { header: { n: 3 }, body: Buffer.alloc(100, 9) },
    ];
    const bytes = Buffer.concat(sent.map((m) => encodeEnvelope(m.header, m.body)));
    for (let cut = 0; cut <= bytes.length; cut++) {
      const decoder = new EnvelopeDecoder();
      const got = [...decoder.push(bytes.subarray(0, cut)), ...decoder.push(bytes.subarray(cut))];
      expect(got).toEqual(sent);
    }
  });

  it('round-trips arbitrary JSON headers and bodies', () => {
    const header = fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 8 });
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 4096 }), (h, body) => {
        const [msg] = new EnvelopeDecoder().push(encodeEnvelope(h, body));
        // JSON itself maps -0 to 0; compare against what JSON can carry.
        expect(msg?.header).toEqual(JSON.parse(JSON.stringify(h)));
        expect(Buffer.from(msg?.body ?? [])).toEqual(Buffer.from(body));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a header above its limit, on both sides', () => {
    const big = { pad: 'x'.repeat(100) };
    expect(codeOf(() => encodeEnvelope(big, undefined, { maxHeaderSize: 50 }))).toBe(
      ErrorCode.HEADER_TOO_LARGE,
    );
    const bytes = encodeEnvelope(big);
    expect(codeOf(() => new EnvelopeDecoder({ maxHeaderSize: 50 }).push(bytes))).toBe(
      ErrorCode.HEADER_TOO_LARGE,
    );
  });

  it('checks the declared header length before reading it', () => {
    expect(codeOf(() => decodeEnvelope(rawEnvelope(0xffff_ffff, '{}')))).toBe(ErrorCode.HEADER_TOO_LARGE);
    expect(codeOf(() => decodeEnvelope(rawEnvelope(100, '{}')))).toBe(ErrorCode.BAD_ENVELOPE);
  });

  it('refuses malformed headers', () => {
    expect(codeOf(() => decodeEnvelope(Buffer.from([0, 0])))).toBe(ErrorCode.BAD_ENVELOPE);
    expect(codeOf(() => decodeEnvelope(rawEnvelope(3, '{x}')))).toBe(ErrorCode.BAD_ENVELOPE);
    expect(codeOf(() => decodeEnvelope(rawEnvelope(2, '[]')))).toBe(ErrorCode.BAD_ENVELOPE);
    expect(codeOf(() => decodeEnvelope(rawEnvelope(4, 'null')))).toBe(ErrorCode.BAD_ENVELOPE);
    expect(codeOf(() => new EnvelopeDecoder().push(encodeFrame(rawEnvelope(1, '7'))))).toBe(
      ErrorCode.BAD_ENVELOPE,
    );
  });

  it('refuses an envelope larger than the frame limit when encoding', () => {
    expect(codeOf(() => encodeEnvelope({}, Buffer.alloc(100), { maxFrameSize: 50 }))).toBe(
      ErrorCode.FRAME_TOO_LARGE,
    );
  });
});
