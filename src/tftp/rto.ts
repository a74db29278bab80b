/**
 * The retransmission timer. With a timeout negotiated (RFC 2349) it is that, fixed; without,
 * it adapts to the measured round trip as TCP does (RFC 6298 §2): RTO = SRTT + 4 RTTVAR,
 * within [minMs, maxMs], doubling on each timeout (§5.5) and sampled only from blocks that
 * were sent once (Karn's rule, §3).
 *
 * How long to wait before giving up is a separate matter (`exhausted`): a timer adapted to
 * a near peer fires after tens of milliseconds, and a few of those in a row are no evidence
 * that the peer is gone.
 */
/** The shortest adapted timeout: no sender of ours repeats a block sooner. */
export const MIN_RTO_MS = 20;

export interface RtoOptions {
  /** Start value, and the value when fixed. */
  initialMs: number;
  /** Use `initialMs` always (a negotiated timeout). */
  fixed?: boolean;
  minMs?: number;
  maxMs?: number;
}

export class Rto {
  #srtt: number | undefined;
  #rttvar = 0;
  #backoff = 1;
  readonly #initial: number;
  readonly #fixed: boolean;
  readonly #min: number;
  readonly #max: number;

  constructor(options: RtoOptions) {
    this.#initial = options.initialMs;
    this.#fixed = options.fixed ?? false;
    this.#min = options.minMs ?? MIN_RTO_MS;
    this.#max = options.maxMs ?? Math.max(options.initialMs, 5000);
  }

  /** The timeout it started with (the negotiated one when fixed), in ms. */
  get initialMs(): number {
    return this.#initial;
  }

  /** The current timeout, in ms. */
  get ms(): number {
    if (this.#fixed) return this.#initial;
    const base = this.#srtt === undefined ? this.#initial : this.#srtt + 4 * this.#rttvar;
    return Math.min(this.#max, Math.max(this.#min, base) * this.#backoff);
  }

  /** A round trip measured on a block sent once. */
  sample(rttMs: number): void {
    this.#backoff = 1;
    if (this.#srtt === undefined) {
      this.#srtt = rttMs;
      this.#rttvar = rttMs / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - rttMs);
      this.#srtt = 0.875 * this.#srtt + 0.125 * rttMs;
    }
  }

  /** A timeout fired: back off. */
  expired(): void {
    if (!this.#fixed) this.#backoff = Math.min(this.#backoff * 2, 64);
  }

  /**
   * The peer was heard from again (new data in order): the back-off ends. A receiver times
   * only ACKs sent once, so after losses a fresh sample may be a while coming; new data in
   * order is as good a sign that the path works (RFC 6298 §5.7 ends the back-off on one).
   */
  resetBackoff(): void {
    this.#backoff = 1;
  }

  /**
   * Whether a side that has timed out `failures` times in a row, `waitedMs` in all, should
   * give up: after more than `retries` timeouts, and, for an adapted timer, not before the
   * silence that `retries` timeouts backing off from the initial one would have waited
   * (1 + 2 + 4 + 5 + 5 + 5 s = 22 s by default). An adapted timer of 20 ms would otherwise
   * give up after 1.3 s (20 + 40 + ... + 640 ms): sooner than a peer whose own timer has not
   * adapted (tftpd-hpa's starts at 1 s and doubles) repeats a lost block for the third
   * time, or a receiver holding its ACK while its disk catches up lets go.
   */
  exhausted(failures: number, waitedMs: number, retries: number): boolean {
    if (failures <= retries) return false;
    if (this.#fixed) return true;
    let patience = 0;
    for (let i = 0; i <= retries; i++) patience += Math.min(this.#max, this.#initial * 2 ** Math.min(i, 6));
    return waitedMs >= patience;
  }
}
