/**
 * The retransmission timer. With a timeout negotiated (RFC 2349) it is that, fixed; without,
 * it adapts to the measured round trip as TCP does (RFC 6298 §2): RTO = SRTT + 4 RTTVAR,
 * within [minMs, maxMs], doubling on each timeout (§5.5) and sampled only from blocks that
 * were sent once (Karn's rule, §3).
 */
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
    this.#min = options.minMs ?? 20;
    this.#max = options.maxMs ?? Math.max(options.initialMs, 5000);
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
}
