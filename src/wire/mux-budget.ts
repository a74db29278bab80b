/**
 * A token bucket: how much of something cheap-to-send but costly-to-handle a peer may spend.
 *
 * The mux uses two: one for channels the peer opens only to have them refused or to reset them
 * at once (HTTP/2 "rapid reset", CVE-2023-44487), one for bytes of frames it sends to channels
 * that are already gone. nghttp2 (1.57.0, `nghttp2_option_set_stream_reset_rate_limit`) limits
 * incoming RST_STREAM frames with the same kind of bucket, burst 1000 and 33 per second by
 * default; Node's http2 exposes it as `streamResetBurst` / `streamResetRate`.
 */

/** Reads a monotonic clock in milliseconds. */
export type Clock = () => number;

/**
 * Starts full with `burst` tokens, regains `perSecond` tokens each second, never above `burst`.
 *
 * @example
 * ```ts
 * const resets = new TokenBucket(1000, 33);
 * if (!resets.take()) endConnection();
 * ```
 */
export class TokenBucket {
  readonly #burst: number;
  readonly #perMs: number;
  readonly #now: Clock;
  #tokens: number;
  #at: number;

  constructor(burst: number, perSecond: number, now: Clock = () => performance.now()) {
    this.#burst = burst;
    this.#perMs = perSecond / 1000;
    this.#now = now;
    this.#tokens = burst;
    this.#at = now();
  }

  /** Tokens left now. */
  get tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Spends `n` tokens; false (and nothing spent) when fewer than `n` are left. */
  take(n = 1): boolean {
    this.#refill();
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  #refill(): void {
    const now = this.#now();
    const gained = (now - this.#at) * this.#perMs;
    this.#at = now;
    if (gained > 0) this.#tokens = Math.min(this.#burst, this.#tokens + gained);
  }
}
