/**
 * The receiving side of a transfer (a server taking WRQ, a client doing RRQ), as a state
 * machine without a socket. In-order blocks are written and acknowledged at the end of
 * each of the sender's windows (RFC 7440; every block in lockstep) and at the end of the
 * file. The sender starts a window after the block an ACK acknowledges, so a window ends
 * `windowsize` blocks after the last ACK sent, whenever that ACK went out. Blocks out of
 * order:
 * - one received but not yet acknowledged: the sender went back to the last ACK sent and
 *   repeats what came after it, or a block came late; it is dropped, nothing is said;
 * - one already acknowledged (the sender missed that ACK) or one past a gap (its window lost
 *   a block): answered with the ACK of the last block in order, once per round of the
 *   sender: in lockstep every repeat, in a window only the first stray of each resend, so a
 *   broken window never draws a burst of ACKs;
 * - in a window, one already acknowledged that comes sooner after that ACK than half the
 *   shortest time in which a sender repeats a block (MIN_RTO_MS; half, as a clock of whole
 *   milliseconds may read a 20 ms wait as 19): a late or duplicated copy, not a repeat;
 *   dropped. Were it answered, the second ACK would tell the sender its next window was
 *   lost, the resend of that window would draw the same answer, and so on to the end.
 *
 * After the last block the final ACK is repeated to any repeat of that block for a dally
 * period, so that a lost final ACK does not fail the sender (RFC 1350 §6).
 *
 * Flow control: when the sink's `write` returns false (its storage lags behind), the next
 * ACK that falls due is held, and the sender with it, until `resume()`; repeats that arrive
 * meanwhile are ignored. Held time counts as timeouts: a sink that stays stuck past the
 * retries fails the transfer.
 */
import { ErrorCode, SockitError } from '../errors.js';
import { fromWire, toWire } from './blocks.js';
import { localError, type TftpError, timeoutError } from './errors.js';
import { encodeAck, encodeError, TftpErrorCode } from './packet.js';
import { MIN_RTO_MS } from './rto.js';
import type { SessionOptions, TransferStats } from './sender.js';

export interface ReceiverSink {
  send(packet: Buffer): void;
  arm(ms: number): void;
  disarm(): void;
  /** The next bytes of the file, in order; false to hold the next ACK until `resume()`. */
  write(data: Buffer): boolean;
  /**
   * Every block is in. Return a promise to hold the final ACK until the data is stored;
   * a rejection ends the transfer with ERROR 3. The dally period follows the final ACK.
   */
  complete(): void | Promise<void>;
  /** The dally period is over: the transfer's socket may close. */
  close(): void;
  fail(error: TftpError): void;
}

export interface ReceiverOptions extends SessionOptions {
  /** Sent first and repeated until block 1 arrives (a client's RRQ, a server's OACK). */
  initial?: Buffer;
  /** How long to stay after the final ACK to repeat it, in ms. Default: twice the timeout. */
  dallyMs?: number;
  /** Refuse (ERROR 3) a file growing past this many bytes. */
  maxBytes?: number;
}

export class TftpReceiver {
  readonly stats: TransferStats = { blocks: 0, bytes: 0, retransmits: 0 };
  #opts: ReceiverOptions;
  #sink: ReceiverSink;
  #expected = 1;
  /** The block the last ACK sent acknowledged: the sender's window starts after it. */
  #acked = 0;
  /** When that ACK went out (SessionOptions.now). */
  #ackedAt = 0;
  /** The ACK being timed until the block after it arrives; -1 when none (Karn's rule). */
  #timed = -1;
  /** The latest block out of order since the last one in order; -1: none. */
  #stray = -1;
  /** Timeouts in a row, and the time they took. */
  #failures = 0;
  #waitedMs = 0;
  /** The control packet to repeat on a timeout: the initial one, then the latest ACK. */
  #last: Buffer | undefined;
  #final = -1;
  #backlogged = false;
  #state: 'receiving' | 'held' | 'finishing' | 'dallying' | 'done' = 'receiving';

  constructor(options: ReceiverOptions, sink: ReceiverSink) {
    this.#opts = options;
    this.#sink = sink;
  }

  get finished(): boolean {
    return this.#state !== 'receiving' && this.#state !== 'held';
  }

  /** True while an ACK is held because the sink lags behind. */
  get holding(): boolean {
    return this.#state === 'held';
  }

  /** The sink has caught up: the held ACK, if any, goes out. */
  resume(): void {
    this.#backlogged = false;
    if (this.#state !== 'held') return;
    this.#state = 'receiving';
    this.#heard();
    this.#acknowledge();
  }

  /** Changes blksize and windowsize after an OACK, before the first block. */
  configure(blksize: number, windowsize: number): void {
    if (this.#expected !== 1) throw new SockitError(ErrorCode.INTERNAL, 'configure() after data arrived');
    this.#opts = { ...this.#opts, blksize, windowsize };
  }

  /** Sends the initial packet, or ACK 0 when there is none (a server's plain WRQ answer). */
  start(): void {
    if (this.#opts.initial) this.#control(this.#opts.initial);
    else this.acknowledgeOptions();
  }

  /** ACK 0: a client's answer to an OACK, or a server's to a WRQ without options. */
  acknowledgeOptions(): void {
    this.#control(encodeAck(0));
  }

  data(wire: number, payload: Buffer): void {
    if (this.#state === 'done' || this.#state === 'finishing' || this.#state === 'held') return;
    const block = fromWire(wire, this.#expected, this.#opts.rollover);
    if (this.#state === 'dallying') {
      // The sender did not get the final ACK: repeat it, and give it a whole dally again.
      if (block === this.#final && this.#last) {
        this.stats.retransmits++;
        this.#sink.send(this.#last);
        this.#sink.arm(this.#dallyMs());
      }
      return;
    }
    if (block !== this.#expected) {
      if (this.#tellsNothing(block)) return;
      // A sender's round sends its blocks in increasing order: a stray not above the
      // previous one belongs to a new round (in lockstep, each repeat of one block).
      if (this.#stray < 0 || block <= this.#stray) {
        this.stats.retransmits++;
        this.#acknowledge();
      }
      this.#stray = block;
      return;
    }
    const { blksize, windowsize, maxBytes } = this.#opts;
    if (payload.length > blksize) {
      this.#abort(
        TftpErrorCode.ILLEGAL_OPERATION,
        `block ${block} has ${payload.length} bytes, blksize is ${blksize}`,
      );
      return;
    }
    if (maxBytes !== undefined && this.stats.bytes + payload.length > maxBytes) {
      this.#abort(TftpErrorCode.DISK_FULL, `the file exceeds the limit of ${maxBytes} bytes`);
      return;
    }
    this.stats.blocks = block;
    this.stats.bytes += payload.length;
    if (this.#sink.write(payload) === false) this.#backlogged = true;
    this.#expected = block + 1;
    this.#stray = -1;
    this.#heard();
    this.#opts.rto.resetBackoff();
    if (block === this.#timed + 1) {
      // The sender's answer to an ACK sent once: a round trip, so that this side's timer
      // fits the path as the sender's does (a timer of a whole second here would answer a
      // lost ACK late, and the sender would take that second for its round trip).
      this.#opts.rto.sample(this.#opts.now() - this.#ackedAt);
      this.#timed = -1;
    }
    if (payload.length < blksize) {
      this.#finishWith(block);
      return;
    }
    if (block - this.#acked >= windowsize) {
      if (this.#backlogged) {
        this.#state = 'held';
        this.#sink.arm(this.#opts.rto.ms);
      } else this.#acknowledge();
    } else {
      this.#sink.arm(this.#opts.rto.ms);
    }
  }

  /**
   * The last block is in. Its ACK waits until the sink has stored everything (a promise
   * from `complete()`): a sender told "done" can rely on the file being in place.
   */
  #finishWith(block: number): void {
    this.#final = block;
    this.#state = 'finishing';
    this.#sink.disarm();
    const acknowledge = (): void => {
      if (this.#state !== 'finishing') return;
      this.#state = 'dallying';
      this.#last = this.#ack(block);
      this.#sink.send(this.#last);
      // Stay for a while to repeat the final ACK should the sender not have received it.
      this.#sink.arm(this.#dallyMs());
    };
    const stored = this.#sink.complete();
    if (!stored) {
      acknowledge();
      return;
    }
    stored.then(acknowledge, (err: unknown) => {
      if (this.#state === 'finishing')
        this.#abort(TftpErrorCode.DISK_FULL, `cannot store the file: ${(err as Error).message}`);
    });
  }

  /**
   * The peer asked again (a repeat of its request): it has not heard our first answer (the
   * OACK or ACK 0), which goes out once more now, the timer left as it is.
   */
  repeat(): void {
    if (this.#expected > 1 || this.#state === 'done' || this.#last === undefined) return;
    this.stats.retransmits++;
    this.#sink.send(this.#last);
  }

  timeout(): void {
    if (this.#state === 'done' || this.#state === 'finishing') return;
    if (this.#state === 'dallying') {
      this.#state = 'done';
      this.#sink.disarm();
      this.#sink.close();
      return;
    }
    this.#waitedMs += this.#opts.rto.ms;
    if (this.#opts.rto.exhausted(++this.#failures, this.#waitedMs, this.#opts.retries)) {
      const held = this.#state === 'held';
      this.#state = 'done';
      if (held) {
        this.#sink.send(encodeError(TftpErrorCode.DISK_FULL, 'storage too slow'));
        this.#sink.fail(
          localError(TftpErrorCode.DISK_FULL, `storage did not keep up for ${this.#waitedMs} ms`),
        );
      } else this.#sink.fail(timeoutError(this.#failures - 1, this.#waitedMs));
      return;
    }
    if (this.#state === 'held') {
      this.#sink.arm(this.#opts.rto.ms);
      return;
    }
    this.#opts.rto.expired();
    this.#stray = -1;
    this.stats.retransmits++;
    // Before any data, the request (or ACK 0) again; after, the ACK of the last block in
    // order, which may be past the last ACK sent when a window broke off part way.
    if (this.#expected > 1) this.#acknowledge();
    else if (this.#last) this.#control(this.#last);
  }

  /** The dally; longer on a path that lost packets, where the sender's timer has likely backed off. */
  #dallyMs(): number {
    // From the initial timeout, not the adapted one: a sender that missed the final ACK
    // repeats its last block when its own timer says, which may not have adapted.
    const dally = this.#opts.dallyMs ?? Math.max(this.#opts.rto.initialMs * 2, 200);
    return this.stats.retransmits > 0 ? Math.max(dally, 2000) : dally;
  }

  #ack(block: number): Buffer {
    return encodeAck(toWire(block, this.#opts.rollover));
  }

  /** A block out of order that is dropped without an answer (see the top of this file). */
  #tellsNothing(block: number): boolean {
    // Received, not yet acknowledged: the sender went back to our last ACK, or it came late.
    if (block > this.#acked) return block < this.#expected;
    // Acknowledged, and too soon after that ACK to be the sender's repeat.
    return this.#opts.windowsize > 1 && this.#opts.now() - this.#ackedAt < MIN_RTO_MS / 2;
  }

  /** ACKs the last block in order: the sender's next round starts after it. */
  #acknowledge(): void {
    const block = this.#expected - 1;
    // Karn's rule (RFC 6298 §3): time only an ACK sent for the first time.
    this.#timed = block === this.#acked ? -1 : block;
    this.#acked = block;
    this.#ackedAt = this.#opts.now();
    this.#control(this.#ack(this.#acked));
  }

  /** The sender was heard from: the count of timeouts in a row starts again. */
  #heard(): void {
    this.#failures = 0;
    this.#waitedMs = 0;
  }

  #control(packet: Buffer): void {
    this.#last = packet;
    this.#sink.send(packet);
    this.#sink.arm(this.#opts.rto.ms);
  }

  #abort(code: TftpErrorCode, text: string): void {
    this.#state = 'done';
    this.#sink.send(encodeError(code, text));
    this.#sink.disarm();
    this.#sink.fail(localError(code, text));
  }
}
