/**
 * SHA-256 sums of stored files for `sum` requests, computed so that no client can make the
 * server hash without bound: at most `maxAtOnce` sums run at once across all connections and
 * at most one per user (the others wait their turn, first come first served), each reads the
 * file once through the handle the caller opened, and a sum stops as soon as its connection
 * is gone. Results are kept per file version (device, inode, size, modification and change
 * times to the nanosecond), so asking again about a file that did not change costs nothing:
 * what a user can make the server hash is bounded by what changed since.
 */
import type { BigIntStats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { abortedError } from './abort.js';
import { hashPrefix } from './transfer.js';

export interface FileSumsOptions {
  /** Sums computed at once, across all users. Default 2. */
  maxAtOnce?: number;
  /** File versions whose sum is kept (least recently asked dropped first). Default 10,000. */
  cacheEntries?: number;
}

export interface SumOptions {
  /** Called with the bytes hashed so far, after each read. */
  progress?: (hashed: number) => void;
  /** Aborting stops waiting or hashing; the sum rejects with `ERR_ABORTED`. */
  signal?: AbortSignal;
}

interface Waiter {
  user: string;
  grant: () => void;
}

/** The identity of one version of a file: another write, rename over or link changes it. */
function versionKey(info: BigIntStats): string {
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
}

export class FileSums {
  readonly #maxAtOnce: number;
  readonly #cacheEntries: number;
  /** Sums under way, per user. */
  readonly #running = new Map<string, number>();
  #total = 0;
  readonly #waiting: Waiter[] = [];
  /** Insertion order is recency: a hit moves its key to the end. */
  readonly #known = new Map<string, string>();

  constructor(options: FileSumsOptions = {}) {
    this.#maxAtOnce = Math.max(1, options.maxAtOnce ?? 2);
    this.#cacheEntries = Math.max(0, options.cacheEntries ?? 10_000);
  }

  /** Sums under way now (for tests and metrics). */
  get running(): number {
    return this.#total;
  }

  /**
   * The hex SHA-256 of the regular file open as `handle`, whose status (taken with
   * `{ bigint: true }` from the same handle) is `info`; undefined when the file changed
   * while it was read, so that no sum of bytes that are no longer there is given.
   *
   * @example
   * ```ts
   * const handle = await files.openRead('photos/a.jpg');
   * const sha256 = await sums.sha256('ann', handle, await handle.stat({ bigint: true }));
   * ```
   */
  async sha256(
    user: string,
    handle: FileHandle,
    info: BigIntStats,
    options: SumOptions = {},
  ): Promise<string | undefined> {
    const key = versionKey(info);
    const known = this.#recall(key);
    if (known) return known;
    await this.#acquire(user, options.signal);
    try {
      const sum = await hashWhole(handle, Number(info.size), options);
      if (sum === undefined || versionKey(await handle.stat({ bigint: true })) !== key) return undefined;
      this.#remember(key, sum);
      return sum;
    } finally {
      this.#release(user);
    }
  }

  #recall(key: string): string | undefined {
    const sum = this.#known.get(key);
    if (sum === undefined) return undefined;
    this.#known.delete(key);
    this.#known.set(key, sum);
    return sum;
  }

  #remember(key: string, sum: string): void {
    if (this.#cacheEntries === 0) return;
    this.#known.set(key, sum);
    while (this.#known.size > this.#cacheEntries) {
      const oldest = this.#known.keys().next().value as string;
      this.#known.delete(oldest);
    }
  }

  async #acquire(user: string, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) throw abortedError(signal);
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const at = this.#waiting.indexOf(waiter);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(abortedError(signal as AbortSignal));
      };
      const waiter: Waiter = {
        user,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
      this.#dispatch();
    });
  }

  #release(user: string): void {
    this.#total--;
    const left = (this.#running.get(user) ?? 1) - 1;
    if (left > 0) this.#running.set(user, left);
    else this.#running.delete(user);
    this.#dispatch();
  }

  /** Starts waiters in the order they came, skipping those of a user whose sum is under way. */
  #dispatch(): void {
    for (;;) {
      if (this.#total >= this.#maxAtOnce) return;
      const at = this.#waiting.findIndex((w) => (this.#running.get(w.user) ?? 0) === 0);
      if (at < 0) return;
      const [next] = this.#waiting.splice(at, 1) as [Waiter];
      this.#total++;
      this.#running.set(next.user, 1);
      next.grant();
    }
  }
}

/** The hex SHA-256 of the first `size` bytes of `handle`; undefined when the file is shorter. */
async function hashWhole(handle: FileHandle, size: number, options: SumOptions): Promise<string | undefined> {
  return (await hashPrefix(handle, size, options))?.digest('hex');
}
