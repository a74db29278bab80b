import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, SockitError } from '../errors.js';
import { checkUserName, MAX_USER_NAME_LENGTH } from './names.js';

function codeOf(name: string): string | undefined {
  try {
    checkUserName(name);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(SockitError);
    return (err as SockitError).code;
  }
}

describe('checkUserName', () => {
  it.each(['a', 'ann', 'Ann_Lee', 'ann.lee', 'ann-lee', '_svc', '0', 'a.', 'a-', 'x'.repeat(32)])(
    'accepts %j and returns it unchanged',
    (name) => {
      expect(checkUserName(name)).toBe(name);
    },
  );

  it.each([
    ['', 'empty'],
    ['x'.repeat(33), 'one character too long'],
    ['.', 'the current folder'],
    ['..', 'the parent folder'],
    ['.ssh', 'a hidden folder'],
    ['-rf', 'an option to other tools'],
    ['ann lee', 'a space'],
    ['ann/lee', 'a path separator'],
    ['..\\x', 'a Windows path separator'],
    ['ann\u0000', 'a NUL byte'],
    ['ann\n', 'a trailing newline'],
    ['jöns', 'a non-ASCII letter'],
    ["x' OR '1'='1", 'quotes'],
    ['ann:x', 'a colon'],
  ])('refuses %j (%s) with ERR_BAD_USER_NAME', (name) => {
    expect(codeOf(name)).toBe(ErrorCode.BAD_USER_NAME);
  });

  it('says why, in one line, without echoing a huge name', () => {
    expect(() => checkUserName('x'.repeat(10_000))).toThrow(/longer than 32 characters/);
    expect(() => checkUserName('-x')).toThrow(/may not start with/);
    const message = (() => {
      try {
        checkUserName(`a\nb${'c'.repeat(500)}`);
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    })();
    expect(message).not.toContain('\n');
    expect(message.length).toBeLessThan(200);
  });

  it('agrees with the rule on arbitrary strings', () => {
    const allowed = /^[A-Za-z0-9_.-]+$/;
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (name) => {
        const ok =
          name.length >= 1 &&
          name.length <= MAX_USER_NAME_LENGTH &&
          allowed.test(name) &&
          !name.startsWith('.') &&
          !name.startsWith('-');
        expect(codeOf(name)).toBe(ok ? undefined : ErrorCode.BAD_USER_NAME);
      }),
    );
  });
});
