/**
 * A client-side cache of SCRAM's salted keys (RFC 5802 §3: a client may keep ClientKey and
 * ServerKey for a given salt and iteration count), so that a repeated command does not pay
 * hundreds of thousands of PBKDF2 rounds again.
 *
 * What it holds is password-equivalent for that one server: ClientKey logs in as the user and
 * ServerKey lets one impersonate the server to this client, until the password changes (a new
 * password gets a new salt, and the entry no longer matches). It never holds the password, so
 * other servers where the same password is used are not exposed. Entries are keyed by server
 * identity, user, salt and count; the file form is one file per entry, mode 0600 in a 0700 folder.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SaltedKeys } from './scram.js';

/** A cache bound to one server and user, as `ScramClient` uses it. */
export interface BoundKeyCache {
  get(salt: Buffer, iterations: number): Promise<SaltedKeys | undefined>;
  set(salt: Buffer, iterations: number, keys: SaltedKeys): Promise<void>;
  /** Forgets what is kept for this server and user (the server refused the keys). */
  drop(): Promise<void>;
}

/** A store of salted keys for many servers and users. */
export interface KeyCache {
  bind(server: string, user: string): BoundKeyCache;
}

const KEY_BYTES = 32;

/** The entry's name: a hash of who and what, so the folder does not list servers and users. */
function entryName(server: string, user: string): string {
  return createHash('sha256')
    .update(JSON.stringify([server, user]))
    .digest('base64url');
}

function encode(salt: Buffer, iterations: number, keys: SaltedKeys): string {
  const b64 = (b: Buffer) => b.toString('base64');
  return `${JSON.stringify({ v: 1, salt: b64(salt), iterations, clientKey: b64(keys.clientKey), serverKey: b64(keys.serverKey) })}\n`;
}

function decode(text: string, salt: Buffer, iterations: number): SaltedKeys | undefined {
  try {
    const entry = JSON.parse(text) as Record<string, unknown>;
    if (entry.v !== 1 || entry.iterations !== iterations || entry.salt !== salt.toString('base64')) return;
    const clientKey = Buffer.from(String(entry.clientKey), 'base64');
    const serverKey = Buffer.from(String(entry.serverKey), 'base64');
    if (clientKey.length !== KEY_BYTES || serverKey.length !== KEY_BYTES) return;
    return { clientKey, serverKey };
  } catch {
    return undefined;
  }
}

/**
 * Keeps entries in memory, for a process that logs in many times.
 *
 * @example
 * ```ts
 * const cache = new MemoryKeyCache();
 * await scramLogin(transport, 'ann', password, { cache, server: '127.0.0.1:7021' });
 * ```
 */
export class MemoryKeyCache implements KeyCache {
  readonly #entries = new Map<string, string>();

  bind(server: string, user: string): BoundKeyCache {
    const name = entryName(server, user);
    return {
      get: async (salt, iterations) => {
        const text = this.#entries.get(name);
        return text === undefined ? undefined : decode(text, salt, iterations);
      },
      set: async (salt, iterations, keys) => {
        this.#entries.set(name, encode(salt, iterations, keys));
      },
      drop: async () => {
        this.#entries.delete(name);
      },
    };
  }
}

/**
 * Keeps entries as files in `dir` (made 0700; each file 0600). Failures to read or write are
 * ignored: the cache only ever saves work.
 *
 * @example
 * ```ts
 * const cache = new FileKeyCache(path.join(os.homedir(), '.cache', 'sockit', 'scram'));
 * ```
 */
export class FileKeyCache implements KeyCache {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  bind(server: string, user: string): BoundKeyCache {
    const file = path.join(this.#dir, entryName(server, user));
    return {
      get: async (salt, iterations) => {
        const text = await readFile(file, 'utf8').catch(() => undefined);
        return text === undefined ? undefined : decode(text, salt, iterations);
      },
      set: async (salt, iterations, keys) => {
        await mkdir(this.#dir, { recursive: true, mode: 0o700 }).catch(() => {});
        // A fresh file each time: written then renamed would need a temp name; unlink keeps
        // the 0600 mode of a new file even if an old one had another.
        await unlink(file).catch(() => {});
        await writeFile(file, encode(salt, iterations, keys), { mode: 0o600, flag: 'wx' }).catch(() => {});
      },
      drop: async () => {
        await unlink(file).catch(() => {});
      },
    };
  }
}
