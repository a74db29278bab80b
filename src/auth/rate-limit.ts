/**
 * A fixed-window counter per key: at most `limit` events per key in each window of `windowMs`.
 * Used for registrations, which cost the server a row and a home folder each: a few per address
 * per hour, and a global ceiling that a spread-out attacker also meets. Memory is bounded: at
 * most `maxKeys` keys are kept, and the oldest windows go first.
 */
import { ErrorCode, SockitError } from '../errors.js';

export interface RateLimitOptions {
  /** Events allowed per key and window. */
  limit: number;
  /** Length of a window, in ms. */
  windowMs: number;
  /** Most keys kept; default 100,000. */
  maxKeys?: number;
  now?: () => number;
}

interface Window {
  start: number;
  count: number;
}

/**
 * @example
 * ```ts
 * const perAddress = new RateLimit({ limit: 5, windowMs: 3_600_000 });
 * const wait = perAddress.take(socket.remoteAddress);
 * if (wait > 0) refuse(`try again in ${wait} ms`);
 * ```
 */
export class RateLimit {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  /** Insertion order is the order windows started in, so the stalest come first. */
  readonly #windows = new Map<string, Window>();

  constructor(options: RateLimitOptions) {
    for (const [name, value] of Object.entries({ limit: options.limit, windowMs: options.windowMs })) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${name} must be a positive integer`);
      }
    }
    this.#limit = options.limit;
    this.#windowMs = options.windowMs;
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Counts one event for `key`: 0 when allowed, else the ms until the key's window ends. */
  take(key: string): number {
    const now = this.#now();
    let window = this.#windows.get(key);
    if (window === undefined || now - window.start >= this.#windowMs) {
      this.#windows.delete(key);
      window = { start: now, count: 0 };
      this.#windows.set(key, window);
      for (const [stale, w] of this.#windows) {
        if (this.#windows.size <= this.#maxKeys && now - w.start < this.#windowMs) break;
        this.#windows.delete(stale);
      }
    }
    if (window.count >= this.#limit) return Math.max(1, Math.ceil(window.start + this.#windowMs - now));
    window.count++;
    return 0;
  }

  /** Gives back an event that did not happen after all (e.g. refused for another reason). */
  undo(key: string): void {
    const window = this.#windows.get(key);
    if (window && window.count > 0) window.count--;
  }
}
