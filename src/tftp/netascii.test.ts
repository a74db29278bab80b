import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NetasciiDecoder, NetasciiEncoder } from './netascii.js';

describe('netascii', () => {
  it('turns LF into CR LF and a bare CR into CR NUL', () => {
    expect(new NetasciiEncoder().push(Buffer.from('a\nb\rc'))).toEqual(Buffer.from('a\r\nb\r\0c'));
  });

  it('decodes CR LF and CR NUL back, across chunk boundaries', () => {
    const d = new NetasciiDecoder();
    const out = Buffer.concat([
      d.push(Buffer.from('a\r')),
      d.push(Buffer.from('\nb\r')),
      d.push(Buffer.from('\0c')),
      d.end(),
    ]);
    expect(out.toString()).toBe('a\nb\rc');
  });

  it('round-trips any bytes under any chunking', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), fc.nat({ max: 600 }), (raw, cut) => {
        const wire = new NetasciiEncoder().push(Buffer.from(raw));
        const at = cut % (wire.length + 1);
        const d = new NetasciiDecoder();
        const back = Buffer.concat([d.push(wire.subarray(0, at)), d.push(wire.subarray(at)), d.end()]);
        expect(back).toEqual(Buffer.from(raw));
      }),
      { numRuns: 1000 },
    );
  });
});
