/**
 * The sending side of a transfer (a server answering RRQ, a client doing WRQ), as a state
 * machine without a socket: blocks and ACKs go in, datagrams and timer requests come out
 * through a sink. Implements RFC 1350 lockstep and RFC 7440 windows:
 *
 * - a window of `windowsize` blocks is sent, then the sender waits for an ACK;
 * - an ACK for block k acknowledges every block up to k and starts the next window at k+1
 *   (so a receiver that saw a gap after k makes the sender go back to k+1);
 * - an ACK that acknowledges nothing new is ignored, except once per window when windows
 *   are in use (the receiver's way of saying the first block was lost): answering every
 *   duplicate ACK with data is the Sorcerer's Apprentice bug (RFC 1123 §4.2.3.1);
 * - a timeout resends the window from the first unacknowledged block, with back-off, and
 *   gives up after `retries` timeouts in a row, and not sooner than Rto.exhausted allows.
 */
import { ErrorCode, SockitError } from '../errors.js';
import { fromWire, type Rollover, toWire } from './blocks.js';
import { type TftpError, timeoutError } from './errors.js';
import { dataHeader } from './packet.js';
import type { Rto } from './rto.js';

export interface SenderSink {
  send(packet: Buffer | readonly Buffer[]): void;
  /** (Re)arms the one retransmission timer. */
  arm(ms: number): void;
  disarm(): void;
  /** The last block is acknowledged. */
  complete(): void;
  fail(error: TftpError): void;
}

/** What both ends of a transfer run with. */
export interface SessionOptions {
  blksize: number;
  windowsize: number;
  rollover: Rollover;
  rto: Rto;
  /** Timeouts in a row before giving up (and not sooner than Rto.exhausted allows). */
  retries: number;
  now: () => number;
}

export interface SenderOptions extends SessionOptions {
  /** Block 0: sent first and repeated until ACK 0 (a server's OACK, a client's WRQ). */
  initial?: Buffer;
}

export interface TransferStats {
  /** Blocks of the file sent or received (not counting repeats). */
  blocks: number;
  bytes: number;
  /** Packets sent again after a timeout or a request to go back. */
  retransmits: number;
}

export class TftpSender {
  readonly stats: TransferStats = { blocks: 0, bytes: 0, retransmits: 0 };
  #opts: SenderOptions;
  #sink: SenderSink;
  /** The first unacknowledged block; 0 while block 0 (`initial`) awaits its ACK. */
  #base: number;
  /** Payloads of blocks #base, #base+1, ... supplied and not yet acknowledged. */
  #queue: Buffer[] = [];
  /** How many blocks from the start of #queue went out in the current round. */
  #sent = 0;
  #final: number | undefined;
  #ended = false;
  #lastLength = -1;
  /** Timeouts in a row, and the time they took. */
  #failures = 0;
  #waitedMs = 0;
  #nackUsed = false;
  /** Karn's rule: the block being timed and when it left; -1 when none. */
  #timed = -1;
  #timedAt = 0;
  #done = false;

  constructor(options: SenderOptions, sink: SenderSink) {
    this.#opts = options;
    this.#sink = sink;
    this.#base = options.initial ? 0 : 1;
  }

  /** How many more blocks `supply` takes now: two windows, to have the next ready. */
  get room(): number {
    return this.#ended ? 0 : Math.max(0, 2 * this.#opts.windowsize - this.#queue.length);
  }

  get finished(): boolean {
    return this.#done;
  }

  /** Blocks of the file acknowledged so far: their payloads are no longer needed. */
  get acknowledged(): number {
    return Math.max(0, this.#base - 1);
  }

  get windowsize(): number {
    return this.#opts.windowsize;
  }

  /** Changes blksize and windowsize: only before any block was supplied (after an OACK). */
  configure(blksize: number, windowsize: number): void {
    if (this.#queue.length > 0 || this.stats.blocks > 0)
      throw new SockitError(ErrorCode.INTERNAL, 'configure() after blocks were supplied');
    this.#opts = { ...this.#opts, blksize, windowsize };
  }

  start(): void {
    if (this.#opts.initial) {
      this.#sink.send(this.#opts.initial);
      this.#time(0);
      this.#sink.arm(this.#opts.rto.ms);
    } else {
      this.#sendWindow();
    }
  }

  /** The next block of the file: exactly blksize bytes, or fewer for the last one. */
  supply(payload: Buffer): void {
    this.#queue.push(payload);
    this.#lastLength = payload.length;
    if (payload.length < this.#opts.blksize) this.end();
    else if (this.#base > 0) this.#sendWindow();
  }

  /** No more blocks. A file that is a whole number of blocks ends with an empty one. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#lastLength === this.#opts.blksize || this.#lastLength < 0) this.#queue.push(Buffer.alloc(0));
    this.#final = (this.#base === 0 ? 1 : this.#base) + this.#queue.length - 1;
    if (this.#base > 0) this.#sendWindow();
  }

  ack(wire: number): void {
    if (this.#done) return;
    if (this.#base === 0) {
      if (wire !== 0) return;
      this.#sample(0);
      this.#base = 1;
      this.#heard();
      this.#sendWindow();
      return;
    }
    const acked = fromWire(wire, this.#base - 1, this.#opts.rollover) - this.#base + 1;
    if (acked > 0 && acked <= this.#sent) {
      this.#sample(this.#base + acked - 1);
      this.#queue.splice(0, acked);
      this.#base += acked;
      this.#sent = 0;
      this.#heard();
      this.#nackUsed = false;
      if (this.#final !== undefined && this.#base > this.#final) {
        this.#done = true;
        this.#sink.disarm();
        this.#sink.complete();
        return;
      }
      this.#sendWindow();
    } else if (acked === 0 && this.#opts.windowsize > 1 && !this.#nackUsed && this.#sent > 0) {
      this.#nackUsed = true;
      this.#resend();
    }
    // Anything else is a duplicate or a stray: answering it would double the traffic.
  }

  /**
   * The peer asked again (a repeat of its request): it has not heard our first packet. That
   * packet (the OACK, or the first window) goes out once more now, the timer left as it is.
   */
  repeat(): void {
    if (this.#done || this.#base > 1) return;
    this.stats.retransmits++;
    if (this.#base === 0 && this.#opts.initial) {
      this.#timed = -1; // Karn: a block sent twice gives no sample
      this.#sink.send(this.#opts.initial);
      return;
    }
    if (this.#sent === 0) return;
    if (this.#timed >= this.#base) this.#timed = -1;
    const { rollover } = this.#opts;
    const limit = Math.min(this.#queue.length, this.#sent);
    for (let i = 0; i < limit; i++) {
      this.#sink.send([dataHeader(toWire(this.#base + i, rollover)), this.#queue[i] as Buffer]);
    }
  }

  timeout(): void {
    if (this.#done) return;
    this.#waitedMs += this.#opts.rto.ms;
    if (this.#opts.rto.exhausted(++this.#failures, this.#waitedMs, this.#opts.retries)) {
      this.#done = true;
      // RFC 1350 §6: with only the last ACK missing, the receiver may well have everything.
      const onlyLast =
        this.#final !== undefined && this.#base === this.#final && this.stats.blocks >= this.#final;
      this.#sink.fail(timeoutError(this.#failures - 1, this.#waitedMs, onlyLast));
      return;
    }
    this.#opts.rto.expired();
    if (this.#base === 0 && this.#opts.initial) {
      this.#timed = -1;
      this.stats.retransmits++;
      this.#sink.send(this.#opts.initial);
      this.#sink.arm(this.#opts.rto.ms);
      return;
    }
    this.#resend();
  }

  #resend(): void {
    if (this.#timed >= this.#base) this.#timed = -1;
    this.#sent = 0;
    this.#sendWindow();
  }

  /** Sends the blocks of the current window that have not gone out in this round. */
  #sendWindow(): void {
    const limit = Math.min(this.#queue.length, this.#opts.windowsize);
    if (this.#sent >= limit) return;
    const { rollover } = this.#opts;
    for (let i = this.#sent; i < limit; i++) {
      const block = this.#base + i;
      const payload = this.#queue[i] as Buffer;
      this.#sink.send([dataHeader(toWire(block, rollover)), payload]);
      if (block > this.stats.blocks) {
        this.stats.blocks = block;
        this.stats.bytes += payload.length;
        this.#time(block);
      } else {
        this.stats.retransmits++;
      }
    }
    this.#sent = limit;
    this.#sink.arm(this.#opts.rto.ms);
  }

  /** The receiver answered: the count of timeouts in a row starts again. */
  #heard(): void {
    this.#failures = 0;
    this.#waitedMs = 0;
  }

  #time(block: number): void {
    if (this.#timed >= 0) return;
    this.#timed = block;
    this.#timedAt = this.#opts.now();
  }

  #sample(ackedUpTo: number): void {
    if (this.#timed >= 0 && this.#timed <= ackedUpTo) {
      this.#opts.rto.sample(this.#opts.now() - this.#timedAt);
      this.#timed = -1;
    }
  }
}
