/**
 * Back-off after failed log-ins, counted per key: an account name, a client address, or both under
 * two keys. A few failures are free (typos); after that each failure doubles the wait before the
 * next answer, up to a cap, which turns online password guessing from thousands of tries a second
 * into a few an hour. Keys are forgotten after a quiet period, and at most `maxKeys` are kept: the
 * least recently failed go first, so a flood of made-up names costs bounded memory.
 */

import { ErrorCode, SockitError } from '../errors.js';

/** Options of a `Throttle`. */
export interface ThrottleOptions {
  /** First delay once the free failures are used up, in ms; default 250. */
  baseMs?: number;
  /** Longest delay, in ms; default 30,000. */
  maxMs?: number;
  /** Failures that cost no delay; default 3. */
  freeFailures?: number;
  /** A key with no failure for this long starts afresh, in ms; default 15 minutes. */
  forgetMs?: number;
  /** Most keys remembered; default 100,000. */
  maxKeys?: number;
  /** The clock, in ms; default `performance.now`, which never jumps with the wall clock. */
  now?: () => number;
}

/** A key's record: its failures, and when the last one was (the throttle's clock, in ms). */
export interface ThrottleRecord {
  readonly failures: number;
  readonly last: number;
}

interface Entry {
  failures: number;
  last: number;
}

function whole(value: number, name: string, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${name} must be an integer of at least ${min}`);
  }
  return value;
}

/**
 * Failed-attempt back-off per key, with bounded memory.
 *
 * @example
 * ```ts
 * const throttle = new Throttle();
 * const user = `user:${name}`; // known or not: both must look alike
 * const addr = `addr:${socket.remoteAddress}`;
 * await sleep(Math.max(throttle.delayFor(user), throttle.delayFor(addr)));
 * if (await logIn(name, password)) {
 *   throttle.succeeded(user); // not addr: logging in to one's own account must not reset guessing at others
 * } else {
 *   throttle.failed(user);
 *   throttle.failed(addr);
 * }
 * ```
 */
export class Throttle {
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #freeFailures: number;
  readonly #forgetMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  /** Insertion order is the order of last failure, so the stalest entries are always first. */
  readonly #entries = new Map<string, Entry>();

  constructor(options: ThrottleOptions = {}) {
    this.#baseMs = whole(options.baseMs ?? 250, 'baseMs', 1);
    this.#maxMs = whole(options.maxMs ?? 30_000, 'maxMs', this.#baseMs);
    this.#freeFailures = whole(options.freeFailures ?? 3, 'freeFailures', 0);
    this.#forgetMs = whole(options.forgetMs ?? 15 * 60_000, 'forgetMs', 1);
    this.#maxKeys = whole(options.maxKeys ?? 100_000, 'maxKeys', 1);
    this.#now = options.now ?? (() => performance.now());
  }

  /** How long to wait, in ms, before answering this key's next attempt. */
  delayFor(key: string): number {
    const beyond = (this.#current(key)?.failures ?? 0) - this.#freeFailures;
    // baseMs >= 1, so a huge power of two gives Infinity and the cap, never NaN.
    return beyond <= 0 ? 0 : Math.min(this.#maxMs, this.#baseMs * 2 ** (beyond - 1));
  }

  /**
   * How long, in ms, until this key may try again: its back-off delay counted from its last
   * failure. 0 when it may try now.
   */
  waitFor(key: string): number {
    const entry = this.#current(key);
    if (entry === undefined) return 0;
    return Math.max(0, Math.ceil(entry.last + this.delayFor(key) - this.#now()));
  }

  /**
   * Takes back one failure, keeping the time of the last: for a failure recorded before the
   * answer was checked (so that parallel attempts all count), once the answer proved right.
   */
  forgive(key: string): void {
    const entry = this.#current(key);
    if (entry === undefined) return;
    if (entry.failures <= 1) this.#entries.delete(key);
    else entry.failures--;
  }

  /**
   * The key's record as it is now ({failures, last}), or undefined: taken before a failure is
   * recorded in advance, so that `restore` can undo it completely once the answer proves right.
   *
   * @example
   * ```ts
   * const before = throttle.snapshot(addr);
   * throttle.failed(addr); // counted before the proof is checked
   * if (await proofIsRight()) throttle.restore(addr, before); // as if never tried
   * ```
   */
  snapshot(key: string): ThrottleRecord | undefined {
    const entry = this.#current(key);
    return entry === undefined ? undefined : { failures: entry.failures, last: entry.last };
  }

  /**
   * Puts back a record taken by `snapshot` (undefined: forgets the key), failures and time of
   * the last failure both: an advance failure undone this way does not restart the wait.
   */
  restore(key: string, record: ThrottleRecord | undefined): void {
    this.#entries.delete(key);
    if (record === undefined) return;
    this.#entries.set(key, { failures: record.failures, last: record.last });
    while (this.#entries.size > this.#maxKeys) {
      const [stale] = this.#entries.keys();
      if (stale === undefined) break;
      this.#entries.delete(stale);
    }
  }

  /** Records a failed attempt. */
  failed(key: string): void {
    const failures = (this.#current(key)?.failures ?? 0) + 1;
    const now = this.#now();
    this.#entries.delete(key);
    this.#entries.set(key, { failures, last: now });
    for (const [stale, entry] of this.#entries) {
      if (this.#entries.size <= this.#maxKeys && now - entry.last < this.#forgetMs) break;
      this.#entries.delete(stale);
    }
  }

  /** Forgets the key's failures: the right answer was given. */
  succeeded(key: string): void {
    this.#entries.delete(key);
  }

  /** Number of keys remembered (at most `maxKeys`). */
  get size(): number {
    return this.#entries.size;
  }

  #current(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry !== undefined && this.#now() - entry.last >= this.#forgetMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }
}
