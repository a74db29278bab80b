import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, SockitError } from '../errors.js';
import { saslPrep } from './saslprep.js';

const rejected = (s: string): string | undefined => {
  try {
    saslPrep(s);
  } catch (err) {
    return err instanceof SockitError ? err.code : 'not a SockitError';
  }
  return undefined;
};

describe('saslPrep', () => {
  it('gives the results of the RFC 4013 §3 examples', () => {
    expect(saslPrep('I\u00ADX')).toBe('IX');
    expect(saslPrep('user')).toBe('user');
    expect(saslPrep('USER')).toBe('USER');
    expect(saslPrep('\u00AA')).toBe('a');
    expect(saslPrep('\u2168')).toBe('IX');
    expect(rejected('\u0007')).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(rejected('\u0627\u0031')).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('maps non-ASCII spaces to SPACE and removes zero-width characters (RFC 4013 §2.1)', () => {
    expect(saslPrep('a\u00A0b\u3000c')).toBe('a b c');
    expect(saslPrep('pa\u200Bss\uFEFFwo\u200Drd')).toBe('password');
  });

  it('normalizes to NFKC, so composed and decomposed input agree', () => {
    expect(saslPrep('e\u0301t\u00E9')).toBe('\u00E9t\u00E9');
    expect(saslPrep('\uFF21\uFF22')).toBe('AB');
  });

  it('rejects each kind of prohibited output (RFC 4013 §2.3)', () => {
    for (const s of [
      'a\u0000b', // C.2.1
      'a\u0085b', // C.2.2
      'a\u2028b', // C.2.2
      'a\uE000b', // C.3
      'a\u{10FFFD}b', // C.3
      'a\uFDD0b', // C.4
      'a\u{1FFFF}b', // C.4
      'a\uD800b', // C.5: a lone surrogate
      'a\uFFFDb', // C.6
      'a\u2FF0b', // C.7
      'a\u202Eb', // C.8
      'a\u{E0041}b', // C.9
    ]) {
      expect(rejected(s), JSON.stringify(s)).toBe(ErrorCode.INVALID_ARGUMENT);
    }
  });

  it('applies the bidi rules of RFC 3454 §6', () => {
    expect(saslPrep('\u05D0\u05D1')).toBe('\u05D0\u05D1');
    // Digits are neither RandALCat nor LCat, so they may sit between right-to-left letters.
    expect(saslPrep('\u0627\u0031\u0628')).toBe('\u0627\u0031\u0628');
    expect(rejected('\u05D0a\u05D1')).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(rejected('1\u05D0')).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('lets unassigned code points through (query strings, RFC 3454 §7)', () => {
    expect(saslPrep('a\u{E0080}b')).toBe('a\u{E0080}b');
  });

  it('never names the rejected character, since the input may be a password', () => {
    expect(() => saslPrep('hunter2\u0007')).toThrow(/^SASLprep: prohibited character \(RFC 3454 C\.2\.1\)$/);
  });

  it('throws nothing but SockitError and is idempotent on what it accepts', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        let out: string;
        try {
          out = saslPrep(s);
        } catch (err) {
          expect(err).toBeInstanceOf(SockitError);
          return;
        }
        expect(saslPrep(out)).toBe(out);
      }),
      { numRuns: 2000 },
    );
  });
});
