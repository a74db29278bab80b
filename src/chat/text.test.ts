import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { checkText, isRefusal, type TextRule } from './text.js';

const rule: TextRule = { what: 'message', maxBytes: 16 };
/** A C0 or C1 control, or DEL. */
const hasControl = (s: string) =>
  [...s].some((ch) => ch.charCodeAt(0) < 0x20 || (ch.charCodeAt(0) >= 0x7f && ch.charCodeAt(0) <= 0x9f));
const codeOf = (input: unknown, r = rule) => {
  const result = checkText(input, r);
  return isRefusal(result) ? result.code : 'ok';
};

describe('checkText', () => {
  it('returns the text, decoded from bytes when given bytes', () => {
    expect(checkText('héllo', rule)).toBe('héllo');
    expect(checkText(Buffer.from('héllo'), rule)).toBe('héllo');
    expect(checkText(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]), rule)).toBe('\ufeffa');
  });

  it('counts the limit in bytes of UTF-8', () => {
    expect(codeOf('x'.repeat(16))).toBe('ok');
    expect(codeOf('x'.repeat(17))).toBe(ErrorCode.TEXT_TOO_LONG);
    expect(codeOf('€€€€€')).toBe('ok');
    expect(codeOf('€€€€€€')).toBe(ErrorCode.TEXT_TOO_LONG);
    expect(codeOf(Buffer.alloc(17, 0x61))).toBe(ErrorCode.TEXT_TOO_LONG);
    expect(checkText('€€€€€€', rule)).toMatchObject({
      message: 'the message is longer than 16 bytes of UTF-8; send it in parts',
    });
  });

  it('refuses what is not text, empty text unless allowed, and invalid Unicode', () => {
    for (const input of [undefined, null, 5, {}, ['a']]) expect(codeOf(input)).toBe(ErrorCode.BAD_REQUEST);
    expect(codeOf('')).toBe(ErrorCode.BAD_REQUEST);
    expect(codeOf('', { ...rule, allowEmpty: true })).toBe('ok');
    expect(codeOf('\udc00')).toBe(ErrorCode.BAD_REQUEST);
    expect(codeOf('\ud83d\ude42')).toBe('ok');
  });

  it('agrees with a strict decoder on arbitrary bytes', () => {
    const strict = new TextDecoder('utf-8', { fatal: true });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 16 }), (bytes) => {
        let valid = true;
        let text = '';
        try {
          text = strict.decode(bytes);
        } catch {
          valid = false;
        }
        const result = checkText(bytes, { ...rule, allowEmpty: true });
        if (!valid) expect(result).toMatchObject({ code: ErrorCode.BAD_REQUEST });
        // Valid text is refused only for a control character.
        else if (isRefusal(result)) expect(hasControl(text)).toBe(true);
        else expect(result).toBe(text);
      }),
    );
  });

  it('lets through every printable string within the limit unchanged', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), (s) => {
        const result = checkText(s, { what: 'message', maxBytes: 1000 });
        if (hasControl(s)) return;
        expect(result).toBe(s);
      }),
    );
  });
});
