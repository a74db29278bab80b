/**
 * Whether a short blocking call (an fsync, a file read) is made on the event loop or through
 * Node's thread pool, decided by what the inline calls have cost so far.
 *
 * A call through the pool costs the event loop the same whatever the call: a wake-up of a
 * pool thread (a futex call; on a virtual machine an interrupt to the other core), a
 * callback back, and the pool thread's own CPU beside the loop's. Where the call itself
 * returns at once (an fsync on tmpfs, a read the page cache answers) that round trip is most
 * of what it costs, and the call is cheaper made inline. Where it waits for a device, it
 * must not stall the loop: every inline call is timed, and once `slowRun` of them in a row
 * took longer than `slowUs`, or their time, as a moving average over ~64 calls, passes
 * `meanLimitUs`, calls go through the pool: for good, or, with `retryMs`, for that long,
 * then inline again on a fresh record (a file the page cache did not hold yet may be there
 * by then), the wait doubling at each return to the pool up to 64 times `retryMs`. A call
 * preempted now and then on a busy machine is slow alone, not several times in a row; a
 * device is slow every time, or often enough to move the average (one call in five taking
 * 20 ms passes it at its first slow one).
 */

/** When inline calls are given up (see InlinePlace). */
export interface InlineRules {
  /** An inline call longer than this (µs) is slow. */
  slowUs: number;
  /** Slow inline calls in a row after which calls go through the thread pool. */
  slowRun: number;
  /** Mean time of an inline call (a moving average, weight 1/64, µs) above which the same happens. */
  meanLimitUs: number;
  /** How long (ms) calls go through the pool before inline calls are tried again; omitted: for good. */
  retryMs?: number;
}

/** The most the wait before inline calls are tried again grows: 64 times `retryMs`. */
const MAX_BACKOFF = 64;

/**
 * Where calls of one kind are made, and what the inline ones cost so far.
 *
 * @example
 * ```ts
 * const reads = new InlinePlace({ slowUs: 200, slowRun: 3, meanLimitUs: 150, retryMs: 1000 });
 * if (reads.inline) n = reads.run(() => readSync(fd, buffer, 0, buffer.length, position));
 * else n = (await handle.read(buffer, 0, buffer.length, position)).bytesRead;
 * ```
 */
export class InlinePlace {
  readonly #rules: InlineRules;
  readonly #slowNs: bigint;
  readonly #now: () => bigint;
  readonly #clockMs: () => number;
  /** Slow inline calls in a row, up to the last one. */
  #run = 0;
  /** Exponential moving average (weight 1/64) of the inline calls' time, in nanoseconds. */
  #meanNs = 0;
  /** Until when (ms, #clockMs) calls go through the pool: 0 inline, Infinity for good. */
  #pooledUntil = 0;
  /** The multiple of retryMs of the last return to the pool. */
  #backoff = 0;

  /** `now`: a clock in nanoseconds for the calls' time; `clockMs`: one in milliseconds for retryMs (both replaceable for tests). */
  constructor(
    rules: InlineRules,
    now: () => bigint = () => process.hrtime.bigint(),
    clockMs: () => number = () => performance.now(),
  ) {
    this.#rules = rules;
    this.#slowNs = BigInt(Math.round(rules.slowUs * 1000));
    this.#now = now;
    this.#clockMs = clockMs;
  }

  /** True while calls go through the thread pool. */
  get pooled(): boolean {
    return this.#pooledUntil !== 0 && this.#clockMs() < this.#pooledUntil;
  }

  /** Whether the next call is to be made inline (with run()); past a retry time, it is again. */
  get inline(): boolean {
    if (this.#pooledUntil === 0) return true;
    if (this.#clockMs() < this.#pooledUntil) return false;
    this.#pooledUntil = 0;
    this.#run = 0;
    this.#meanNs = 0;
    return true;
  }

  /** Makes `call` now, on the event loop, and counts its time (a call that throws too). */
  run<T>(call: () => T): T {
    const began = this.#now();
    try {
      return call();
    } finally {
      this.#took(this.#now() - began);
    }
  }

  #took(ns: bigint): void {
    this.#run = ns > this.#slowNs ? this.#run + 1 : 0;
    this.#meanNs += (Number(ns) - this.#meanNs) / 64;
    if (this.#run < this.#rules.slowRun && this.#meanNs <= this.#rules.meanLimitUs * 1000) return;
    const { retryMs } = this.#rules;
    this.#backoff = Math.min(Math.max(1, this.#backoff * 2), MAX_BACKOFF);
    this.#pooledUntil =
      retryMs === undefined ? Number.POSITIVE_INFINITY : this.#clockMs() + retryMs * this.#backoff;
  }
}
