/**
 * A folder download's plan from a hostile server's listing: every local path strictly inside
 * the chosen folder, no path twice, no file that is also a folder, no folder made unannounced.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isSockitError } from '../../src/errors.js';
import { planTree } from '../../src/files/download.js';
import type { Entry } from '../../src/files/protocol.js';

const dir = (p: string): Entry => ({ path: p, type: 'dir', size: 0, mtime: 0 });
const file = (p: string): Entry => ({ path: p, type: 'file', size: 1, mtime: 0 });

function codeOf(work: () => unknown): string {
  try {
    work();
  } catch (err) {
    if (isSockitError(err)) return err.code;
    throw err;
  }
  return 'returned';
}

describe('planTree', () => {
  it('maps a well-formed listing to paths under the base, in order', () => {
    const steps = planTree('out', [dir('a'), file('a/x'), dir('a/b'), file('a/b/y'), file('..z')]);
    expect(steps.map((s) => s.local)).toEqual(
      ['a', 'a/x', 'a/b', 'a/b/y', '..z'].map((p) => path.join('out', ...p.split('/'))),
    );
  });

  it('refuses a path listed twice, also as a file and a folder of one name', () => {
    expect(codeOf(() => planTree('out', [file('a'), file('a')]))).toBe(ErrorCode.BAD_REQUEST);
    expect(codeOf(() => planTree('out', [dir('a'), file('a')]))).toBe(ErrorCode.BAD_REQUEST);
    expect(codeOf(() => planTree('out', [file('a'), dir('a')]))).toBe(ErrorCode.BAD_REQUEST);
  });

  it('refuses an entry under a file, or under a folder not listed before it', () => {
    expect(codeOf(() => planTree('out', [file('a'), file('a/b')]))).toBe(ErrorCode.BAD_REQUEST);
    expect(codeOf(() => planTree('out', [file('a/b')]))).toBe(ErrorCode.BAD_REQUEST);
    expect(codeOf(() => planTree('out', [file('a/b'), dir('a')]))).toBe(ErrorCode.BAD_REQUEST);
  });

  it('refuses names that would leave the base', () => {
    for (const p of ['..', '../x', '/etc/x', 'a/../../x', '.', '', 'a\\b']) {
      expect(
        codeOf(() => planTree('out', [dir('a'), file(p)])),
        p,
      ).toBe(ErrorCode.BAD_REQUEST);
    }
  });
});
