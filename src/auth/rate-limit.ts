/**
 * Rate limits per key: a fixed window (`RateLimit`: at most `limit` events per `windowMs`) and a
 * token bucket (`TokenBucket`: a burst, then a steady refill).
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

/** What registration limits need of a limiter: `RateLimit` and `TokenBucket` both fit. */
export interface Limiter {
  /** Counts one event for `key`: 0 when allowed, else the ms to wait. */
  take(key: string): number;
  /** Gives back an event that did not happen after all. */
  undo(key: string): void;
}

export interface TokenBucketOptions {
  /** Events a key may have at once after a quiet spell (the bucket's size). */
  capacity: number;
  /** One event comes back every `refillMs`, up to `capacity`. */
  refillMs: number;
  /** Most keys kept; default 100,000 (the least recently used go first; a forgotten key is full). */
  maxKeys?: number;
  now?: () => number;
}

/**
 * A token bucket per key: `capacity` events at once, then one per `refillMs`. Unlike a fixed
 * window, a used-up limit is back in step with its refill rate, not at the end of an hour:
 * a crowd that empties the bucket delays a newcomer by one refill, not by the window.
 *
 * @example
 * ```ts
 * const global = new TokenBucket({ capacity: 100, refillMs: 36_000 }); // 100 an hour, steadily
 * const wait = global.take('all');
 * if (wait > 0) refuse(`try again in ${wait} ms`);
 * ```
 */
export class TokenBucket implements Limiter {
  readonly #capacity: number;
  readonly #refillMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  /** Tokens as of `at`; insertion order is the order of last use. */
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: TokenBucketOptions) {
    for (const [name, value] of Object.entries({ capacity: options.capacity, refillMs: options.refillMs })) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${name} must be a positive integer`);
      }
    }
    this.#capacity = options.capacity;
    this.#refillMs = options.refillMs;
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#now = options.now ?? (() => performance.now());
  }

  take(key: string): number {
    const bucket = this.#current(key);
    if (bucket.tokens < 1) {
      return Math.max(1, Math.ceil((1 - bucket.tokens) * this.#refillMs));
    }
    bucket.tokens -= 1;
    return 0;
  }

  undo(key: string): void {
    const bucket = this.#buckets.get(key);
    if (bucket) bucket.tokens = Math.min(this.#capacity, bucket.tokens + 1);
  }

  /** Forgets `key` (e.g. its connection closed): it starts full if it comes again. */
  delete(key: string): void {
    this.#buckets.delete(key);
  }

  /** The key's bucket, refilled to now and moved to the end of the use order. */
  #current(key: string): { tokens: number; at: number } {
    const now = this.#now();
    const seen = this.#buckets.get(key);
    const tokens = seen
      ? Math.min(this.#capacity, seen.tokens + (now - seen.at) / this.#refillMs)
      : this.#capacity;
    const bucket = { tokens, at: now };
    this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    for (const stale of this.#buckets.keys()) {
      if (this.#buckets.size <= this.#maxKeys) break;
      this.#buckets.delete(stale);
    }
    return bucket;
  }
}
