/**
 * Shared-secret keys for machine log-ins, in one recognisable text form:
 *
 *   sockit-secret-v1:<43 characters of base64url: 32 random bytes>
 *
 * The server proves itself first in the challenge (see `challenge.ts`), so anyone may collect
 * one proof per connection and guess the secret offline. That is hopeless against 256 random
 * bits and easy against a passphrase, so only keys made by `generate()` (or `sockit secret new`)
 * are accepted: any other text, a passphrase or a file of random bytes, is `ERR_BAD_SECRET`.
 * A key that decodes to bytes no generator would produce (all equal, or all printable ASCII: the
 * base64url of a typed string) is refused too; 32 random bytes are all printable with
 * probability (95/256)^32, about 1e-14, so no generated key is ever refused.
 */
import { randomBytes } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import { ErrorCode, fileError, SockitError } from '../errors.js';

const PREFIX = 'sockit-secret-v1:';
export const SECRET_KEY_BYTES = 32;
/** A key file is one line; anything much longer is not one. */
const MAX_FILE_BYTES = 256;

/** Printable ASCII, space to tilde: what a hand-typed "key" is made of. */
const isPrintable = (byte: number): boolean => byte >= 0x20 && byte <= 0x7e;

/** Why `bytes` cannot have come from a random generator, or undefined if they may have. */
function handMade(bytes: Buffer): string | undefined {
  if (bytes.every((byte) => byte === bytes[0])) return 'the key is one byte repeated, not random';
  if (bytes.every(isPrintable)) return 'the key is typed text, not random bytes';
  return undefined;
}

const bad = (why: string): never => {
  throw new SockitError(ErrorCode.BAD_SECRET, `${why}: make a key with \`sockit secret new FILE\``);
};

/**
 * A generated shared secret. Only `generate`, `parse` and `read` make one, so a value of this
 * type always holds 32 random bytes.
 *
 * @example
 * ```ts
 * const key = SecretKey.generate();
 * await key.write('machines.key');               // mode 0600, never over an existing file
 * const same = await SecretKey.read('machines.key');
 * ```
 */
export class SecretKey {
  readonly #bytes: Buffer;

  private constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  /** A new key of 32 random bytes (never one that `parse` would refuse as hand-made). */
  static generate(): SecretKey {
    let bytes = randomBytes(SECRET_KEY_BYTES);
    while (handMade(bytes) !== undefined) bytes = randomBytes(SECRET_KEY_BYTES);
    return new SecretKey(bytes);
  }

  /** The key in `text` (one line, a trailing line end allowed); `ERR_BAD_SECRET` otherwise. */
  static parse(text: string): SecretKey {
    const line = text.replace(/\r?\n$/, '');
    if (!line.startsWith(PREFIX)) bad('not a sockit secret key (it must start with "sockit-secret-v1:")');
    const body = line.slice(PREFIX.length);
    const bytes = Buffer.from(body, 'base64url');
    // The round trip refuses characters outside the alphabet, padding and stray whitespace.
    if (bytes.length !== SECRET_KEY_BYTES || bytes.toString('base64url') !== body) {
      bad(`the key is not ${SECRET_KEY_BYTES} bytes of base64url`);
    }
    const why = handMade(bytes);
    if (why !== undefined) bad(why);
    return new SecretKey(bytes);
  }

  /**
   * Reads a key file; `ERR_BAD_SECRET` unless it holds one key in the text form and, as ssh
   * insists for private keys, it belongs to the current user (or root) and nobody but its owner
   * may read it (mode 0600 or stricter). A file owned by someone else could be rewritten by them.
   */
  static async read(file: string): Promise<SecretKey> {
    const handle = await open(file, 'r').catch((err: unknown) => {
      throw fileError(
        err,
        'shared-secret key',
        file,
        'read',
        'check the path, or make a key with `sockit secret new FILE`',
      );
    });
    let bytes: Buffer;
    try {
      // The mode of the file read, not of whatever the name points to a moment later.
      const { mode, uid } = await handle.stat();
      const me = process.getuid?.();
      if (me !== undefined && uid !== me && uid !== 0) {
        throw new SockitError(
          ErrorCode.BAD_SECRET,
          `${file} belongs to uid ${uid}, not to you (uid ${me}) or root: run \`chown ${me} ${file}\``,
        );
      }
      if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
        const octal = (mode & 0o777).toString(8);
        throw new SockitError(
          ErrorCode.BAD_SECRET,
          `${file} may be read by others (mode ${octal}): run \`chmod 600 ${file}\``,
        );
      }
      const { bytesRead, buffer } = await handle.read(
        Buffer.alloc(MAX_FILE_BYTES + 1),
        0,
        MAX_FILE_BYTES + 1,
        0,
      );
      bytes = buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
    if (bytes.length > MAX_FILE_BYTES) bad(`${file} is too long to be a key`);
    try {
      return SecretKey.parse(bytes.toString('utf8'));
    } catch (err) {
      throw new SockitError(ErrorCode.BAD_SECRET, `${file}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Writes the key to a new file, readable by its owner only; `EEXIST` if the file exists. */
  async write(file: string): Promise<void> {
    await writeFile(file, `${this.toString()}\n`, { mode: 0o600, flag: 'wx' });
  }

  /** The key bytes, for the challenge. */
  get bytes(): Buffer {
    return this.#bytes;
  }

  /** The text form, as written to a file. */
  toString(): string {
    return PREFIX + this.#bytes.toString('base64url');
  }

  /** Never the key itself in logs or `console.log`. */
  toJSON(): string {
    return 'SecretKey(...)';
  }
}
