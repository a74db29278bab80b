/**
 * SecretKey refuses what no generator made (one repeated byte, typed text) and a key file that
 * belongs to someone other than the current user or root.
 */

import { randomBytes } from 'node:crypto';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../../test/codes.js';
import { ErrorCode } from '../errors.js';
import { SECRET_KEY_BYTES, SecretKey } from './secret-key.js';

const text = (bytes: Buffer): string => `sockit-secret-v1:${bytes.toString('base64url')}\n`;

/** Random bytes with at least one outside printable ASCII, as almost every generated key is. */
function randomKeyBytes(): Buffer {
  const bytes = randomBytes(SECRET_KEY_BYTES);
  bytes[7] = 0x80;
  return bytes;
}

describe('SecretKey.parse', () => {
  it('refuses all-zero, one repeated byte and typed text', async () => {
    const cases = [
      Buffer.alloc(SECRET_KEY_BYTES),
      Buffer.alloc(SECRET_KEY_BYTES, 0xff),
      Buffer.alloc(SECRET_KEY_BYTES, 0x41),
      Buffer.from('passwordpassword1234passwordpass'),
      Buffer.from(' !"#$%&\'()*+,-./0123456789:;<=>~'),
    ];
    for (const bytes of cases) {
      expect(bytes.length).toBe(SECRET_KEY_BYTES);
      expect(await codeOf(Promise.resolve().then(() => SecretKey.parse(text(bytes))))).toBe(
        ErrorCode.BAD_SECRET,
      );
    }
  });

  it('accepts random bytes, also when only one byte is outside printable ASCII', () => {
    for (let i = 0; i < 200; i++) {
      const bytes = randomKeyBytes();
      expect(SecretKey.parse(text(bytes)).bytes.equals(bytes)).toBe(true);
    }
    const almostTyped = Buffer.from('passwordpassword1234passwordpas\x00');
    expect(SecretKey.parse(text(almostTyped)).bytes.equals(almostTyped)).toBe(true);
  });

  it('refuses a typed key read from a file of mode 0600', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sockit-key-'));
    try {
      const file = path.join(dir, 'k');
      await writeFile(file, text(Buffer.from('passwordpassword1234passwordpass')), { mode: 0o600 });
      expect(await codeOf(SecretKey.read(file))).toBe(ErrorCode.BAD_SECRET);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('SecretKey.read owner', () => {
  it('refuses a key file owned by another user, accepts it again once chowned back', async () => {
    // CI runs as root, so chown works; a run that cannot chown fails here rather than skipping.
    expect(process.getuid?.()).toBe(0);
    const dir = await mkdtemp(path.join(tmpdir(), 'sockit-key-'));
    try {
      const file = path.join(dir, 'k');
      const key = SecretKey.generate();
      await key.write(file);
      await chown(file, 65534, 65534);
      expect(await codeOf(SecretKey.read(file))).toBe(ErrorCode.BAD_SECRET);
      await chown(file, 0, 0);
      expect((await SecretKey.read(file)).bytes.equals(key.bytes)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
