import { userInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { isSockitError } from '../errors.js';
import { resolveTarget } from './files.js';

function codeOfCall(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (isSockitError(err)) return err.code;
    throw err;
  }
  return 'returned';
}

describe('resolveTarget: who logs in where', () => {
  it('takes --user first, then USER@, then SOCKIT_USER, then the login name', () => {
    expect(resolveTarget('h:1', { user: 'ann' }, { SOCKIT_USER: 'bob' })).toEqual({
      host: 'h',
      port: 1,
      user: 'ann',
    });
    expect(resolveTarget('cy@h:1', {}, { SOCKIT_USER: 'bob' })).toEqual({ host: 'h', port: 1, user: 'cy' });
    expect(resolveTarget('[::1]', {}, { SOCKIT_USER: 'bob' })).toEqual({
      host: '::1',
      port: 7021,
      user: 'bob',
    });
    expect(resolveTarget('cy@[::1]:9', {}, {})).toEqual({ host: '::1', port: 9, user: 'cy' });
    expect(resolveTarget('h', {}, { SOCKIT_USER: '' })).toEqual({
      host: 'h',
      port: 7021,
      user: userInfo().username,
    });
    expect(resolveTarget('ann@h', { user: 'ann' }, {})).toEqual({ host: 'h', port: 7021, user: 'ann' });
  });

  it('refuses an empty USER@, two different users, and a bad address after @', () => {
    expect(codeOfCall(() => resolveTarget('@h', {}, {}))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOfCall(() => resolveTarget('ann@h', { user: 'bob' }, {}))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOfCall(() => resolveTarget('ann@h:99999', {}, {}))).toBe('ERR_INVALID_ARGUMENT');
  });
});
