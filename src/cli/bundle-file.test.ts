/**
 * readCache, the one reader of sockit's code cache files (the build's, beside the bundles and
 * start.cjs, and the user's folder's): the header it checks, and data that V8 can take where
 * it lies (how the caches are written, used and refused: test/cli/code-cache.test.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CACHE_HEADER, CACHE_MAGIC, readCache } from './bundle-file.js';

describe('readCache', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-cache-file-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const file = (name: string, bytes: Buffer): string => {
    const where = path.join(dir, name);
    writeFileSync(where, bytes, { mode: 0o600 });
    return where;
  };
  const cache = (data: Buffer, length = data.length): Buffer => {
    const header = Buffer.alloc(CACHE_HEADER);
    CACHE_MAGIC.copy(header);
    header.writeUInt32LE(length, CACHE_MAGIC.length);
    return Buffer.concat([header, data]);
  };

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
    padded[CACHE_HEADER - 1] = 1;
    expect(readCache(file('nonzero', padded), {})).toBeUndefined();
    const old = Buffer.from(whole);
    old.write('SKCC1', 0, 'latin1');
    expect(readCache(file('old', old), {})).toBeUndefined();
    expect(readCache(file('empty', cache(Buffer.alloc(0))), {})).toBeUndefined();
    expect(readCache(path.join(dir, 'missing'), {})).toBeUndefined();
  });
});
