/**
 * readCache, the one reader of sockit's code cache files (the build's, beside the bundles and
 * start.cjs, and the user's folder's): the header it checks, and data that V8 can take where
 * it lies (how the caches are written, used and refused: test/cli/code-cache.test.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BUILD_ID_LENGTH,
  BUNDLE_WRAPPER_START,
  buildId,
  CACHE_HEADER,
  cacheHeader,
  readCache,
} from './bundle-file.js';

describe('readCache', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-cache-file-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const file = (name: string, bytes: Buffer): string => {
    const where = path.join(dir, name);
    writeFileSync(where, bytes, { mode: 0o600 });
    return where;
  };
  const cache = (data: Buffer, id = ''): Buffer => Buffer.concat([cacheHeader(data.length, id), data]);

  it.each([100, 5000, 200_000])(
    'gives the data of a %d-byte cache 8-byte aligned: V8 copies data that is not',
    (size) => {
      const data = Buffer.alloc(size, 0xa5);
      const read = readCache(file(`c${size}`, cache(data)), {});
      expect(read?.equals(data)).toBe(true);
      // The buffer's memory is allocated aligned; the data's offset in it must keep that.
      expect(CACHE_HEADER % 8).toBe(0);
      expect((read?.byteOffset ?? 1) % 8).toBe(0);
    },
  );

  it('refuses a cache cut short, padded, with a header not its own, of another magic, or empty', () => {
    const data = Buffer.alloc(1000, 1);
    const whole = cache(data);
    expect(readCache(file('cut', whole.subarray(0, whole.length - 1)), {})).toBeUndefined();
    expect(readCache(file('padded', Buffer.concat([whole, Buffer.alloc(1)])), {})).toBeUndefined();
    const padded = Buffer.from(whole);
    // The last of the 4 zero bytes before the build id.
    padded[CACHE_HEADER - BUILD_ID_LENGTH - 1] = 1;
    expect(readCache(file('nonzero', padded), {})).toBeUndefined();
    for (const magic of ['SKCC1', 'SKCC2']) {
      const old = Buffer.from(whole);
      old.write(magic, 0, 'latin1');
      expect(readCache(file('old', old), {})).toBeUndefined();
    }
    expect(readCache(file('empty', cache(Buffer.alloc(0))), {})).toBeUndefined();
    expect(readCache(path.join(dir, 'missing'), {})).toBeUndefined();
  });

  it("is taken only with the bundle's build id it was made from", () => {
    const data = Buffer.alloc(1000, 2);
    const id = '0123456789abcdef';
    const made = file('made', cache(data, id));
    expect(readCache(made, { id })?.equals(data)).toBe(true);
    expect(readCache(made, { id: 'fedcba9876543210' })).toBeUndefined();
    // A bundle without one (not built by scripts/build-cli.mjs) meets only a cache without one.
    expect(readCache(made, {})).toBeUndefined();
    expect(readCache(file('none', cache(data)), { id: '' })?.equals(data)).toBe(true);
    expect(readCache(file('none', cache(data)), { id })).toBeUndefined();
  });
});

describe('buildId', () => {
  const built = (id: string): string => `${BUNDLE_WRAPPER_START}/*build ${id}*/\n"use strict";\n})`;

  it('reads the id the build writes after the wrapper', () => {
    expect(buildId(built('0dd5bb7e722bf6c0'))).toBe('0dd5bb7e722bf6c0');
  });

  it('is empty for a bundle without one, or with one that is not 16 hex digits', () => {
    expect(buildId(`${BUNDLE_WRAPPER_START}\n"use strict";\n})`)).toBe('');
    expect(buildId(built('0dd5bb7e722bf6c'))).toBe('');
    expect(buildId(built('0DD5BB7E722BF6C0'))).toBe('');
    expect(buildId(built('0dd5bb7e722bf6cz'))).toBe('');
    expect(buildId(`/*build 0dd5bb7e722bf6c0*/${BUNDLE_WRAPPER_START}`)).toBe('');
  });
});
