/**
 * Bounded busy polling for request/answer traffic over fast paths (loopback, a LAN).
 *
 * In a lock-step exchange (a TFTP block, then its ACK) a process that sleeps in epoll between
 * its send and the answer pays a wake-up each time; on a virtual machine that costs tens of
 * microseconds, more than the exchange itself. After a send, `AnswerPoll` keeps the event
 * loop polling with a zero timeout (a chain of setImmediate) for a short budget, so that an
 * answer arriving within it is picked up without a sleep. The budget is spent only while
 * answers have been coming back within it: each exchange's answer time is averaged, and a
 * peer slower than the budget (a real network) is waited for in epoll as usual.
 *
 * The budget grows with the size of what was sent (see `sent`): a peer that must copy and
 * write 64 KiB before it answers takes longer than one that acknowledges 512 bytes, and a
 * fixed budget below its answer time would stop polling just where a wake-up per block costs
 * most (measured: a 64 KiB lock-step TFTP download 0.88x tftpd-hpa with 100 µs, 1.08x with
 * 500 µs).
 *
 * One chain of immediates serves every poller of the process: it runs until the latest
 * deadline any of them asked for.
 */

/** Default polling budget after a send, in microseconds (for a small datagram; see budgetFor). */
export const DEFAULT_POLL_US = 100;

/** Bytes sent per budget added: 16 KiB doubles it, 64 KiB makes it five times as long. */
const BYTES_PER_BUDGET = 16 * 1024;

/** The polling budget after sending `bytes`, for a base budget of `us`. */
export function budgetFor(us: number, bytes: number): number {
  return us * (1 + bytes / BYTES_PER_BUDGET);
}

let deadline = 0;
let polling = false;

function poll(): void {
  if (performance.now() >= deadline) {
    polling = false;
    return;
  }
  setImmediate(poll);
}

/** Whether the event loop is being kept from sleeping now. */
export function busyPolling(): boolean {
  return polling;
}

/** Keeps the event loop from sleeping for the next `us` microseconds. */
export function pollFor(us: number): void {
  const until = performance.now() + us / 1000;
  if (until > deadline) deadline = until;
  if (!polling) {
    polling = true;
    setImmediate(poll);
  }
}

export class AnswerPoll {
  readonly #budgetUs: number;
  /** When the last send left (ms, performance.now()); 0 once answered. */
  #sentAt = 0;
  /** Smoothed answer time in microseconds (1/8 weight per sample, as TCP's SRTT). */
  #answerUs = 0;
  /** The budget of the last send (it grows with its size). */
  #lastBudgetUs: number;

  /** `budgetUs` 0 turns polling off. */
  constructor(budgetUs = DEFAULT_POLL_US) {
    this.#budgetUs = budgetUs;
    this.#lastBudgetUs = budgetUs;
  }

  /** The smoothed time the peer takes to answer, in microseconds (0 before any answer). */
  get answerUs(): number {
    return this.#answerUs;
  }

  /** Whether the next send (of the size of the last) will be followed by polling. */
  get active(): boolean {
    return this.#budgetUs > 0 && this.#answerUs < this.#lastBudgetUs;
  }

  /** A datagram of `bytes` that expects an answer went out. */
  sent(bytes = 0): void {
    if (this.#budgetUs <= 0) return;
    this.#sentAt = performance.now();
    this.#lastBudgetUs = budgetFor(this.#budgetUs, bytes);
    if (this.#answerUs < this.#lastBudgetUs) pollFor(this.#lastBudgetUs);
  }

  /** A datagram came in: the answer to the last send, if it has none yet. */
  answered(): void {
    if (this.#sentAt === 0) return;
    // A lost packet's wait (a retransmission timeout) counts as a slow answer, not as seconds.
    const us = Math.min((performance.now() - this.#sentAt) * 1000, 4 * this.#lastBudgetUs);
    this.#sentAt = 0;
    this.#answerUs = this.#answerUs === 0 ? us : this.#answerUs + (us - this.#answerUs) / 8;
  }
}
