/**
 * The server's transfer slots: how many transfers run at once, how many per client address,
 * and how long a client that does not answer may hold one.
 *
 * A TFTP request costs its sender one datagram, and its source may be forged; the transfer
 * it starts holds a socket, a file and a timer until the client answers or the retries run
 * out, and RFC 2349 lets the request stretch that to 255 s a retry (about 25 minutes in
 * all). So a slot is bounded three ways:
 * - a transfer whose client has never answered is dropped after `firstAnswerMs`, whatever
 *   timeout it negotiated: a real client answers the first DATA, OACK or ACK at once, and
 *   the default timer has sent it four times by then;
 * - one that was answered and then hears nothing for `maxSilenceMs` is dropped too, so a
 *   negotiated timeout cannot make a slot outlive the client by much more than that;
 * - when every slot is taken, a new request takes the place of the oldest transfer whose
 *   client has never answered (as OpenSSH's MaxStartups drops connections that have not
 *   authenticated); failing that, of the transfer silent longest, provided it has been silent
 *   for more than twice its retransmission timeout (and at least 1 s): a client answers each
 *   packet as it arrives (RFC 1350 lock-step), so such a transfer is not moving, while one
 *   that is moving is never dropped. Only then is the request refused.
 * A cap per client address group keeps one host from taking every slot with answers of its
 * own: IPv6 addresses count per /64 (a host is handed a whole /64, RFC 7421), IPv4 addresses
 * one by one (`runtime/netgroup.ts`). A group at its cap makes room among its own answered
 * transfers that have stopped moving (silent past the same bound: a client gone, a last ACK
 * that never came), so that they do not lock that host out until the silence bound drops
 * them; requests of its that were never answered keep counting against the cap.
 */
import { addressGroup } from '../runtime/netgroup.js';
import type { TransferInfo } from './transfer-info.js';

export type { TransferInfo } from './transfer-info.js';

/** The least silence that lets a newer request take an answered transfer's slot. */
export const MIN_TAKEOVER_SILENCE_MS = 1000;

/** A transfer's hold on a slot, from its request on. */
export interface Slot {
  /** Address and port of the client: a repeated request from it starts no other transfer. */
  readonly key: string;
  /** The client's address group (the /64 of an IPv6 address), counted against the cap. */
  readonly address: string;
  /** When the request arrived (ms, the slots' clock). */
  readonly began: number;
  /** When the client was last heard from on the transfer's port; undefined: never. */
  heard: () => number | undefined;
  /** The transfer's current retransmission timeout, in ms. */
  rtoMs: () => number;
  /**
   * The client sent its request again: it has not heard the transfer's first packet, which
   * the transfer may send once more (bounded, see `Transfer`).
   */
  repeated: () => void;
  /**
   * Ends the transfer: `tell` sends ERROR 0 with the reason to the client (the server is
   * closing); without it the transfer ends quietly (the client is gone, or never was).
   */
  stop: (reason: string, tell: boolean) => void;
  /** What the transfer is and how far it got (see `TransferInfo`), once it has begun. */
  info?: () => TransferInfo;
}

export interface SlotLimits {
  maxTransfers: number;
  /** Transfers at once per address group: an IPv4 address, or an IPv6 /64. */
  maxPerAddress: number;
  /** How long a client may stay silent before its first answer, in ms. */
  firstAnswerMs: number;
  /** How long a client that has answered may then stay silent, in ms. */
  maxSilenceMs: number;
  /** A slot's retransmission timeout until its transfer says (the server's starting one). */
  timeoutMs?: number;
  /**
   * The most of a transfer's retransmission timeout that counts toward the silence that
   * protects it from a newer request: a timeout the client negotiated (RFC 2349, up to 255 s)
   * paces its retransmissions, not how fast it answers. Default 5000 ms (where an adapted
   * timeout stops too).
   */
  maxTakeoverRtoMs?: number;
  now?: () => number;
}

export type Taken =
  | { ok: true; slot: Slot }
  | { ok: false; why: 'repeat'; slot: Slot }
  | { ok: false; why: 'busy' | 'address' };

export class TransferSlots {
  readonly #limits: Required<SlotLimits>;
  /** In the order the requests came: the first silent one is the oldest. */
  readonly #slots = new Map<string, Slot>();
  readonly #perAddress = new Map<string, number>();
  #sweeper: NodeJS.Timeout | undefined;
  /** Transfers dropped for silence, before or after an answer, or to make room. */
  dropped = 0;

  constructor(limits: SlotLimits) {
    this.#limits = { now: Date.now, timeoutMs: 1000, maxTakeoverRtoMs: 5000, ...limits };
  }

  get size(): number {
    return this.#slots.size;
  }

  /** The transfers under way that can say what they are, in the order they were asked for. */
  list(): TransferInfo[] {
    const infos: TransferInfo[] = [];
    for (const slot of this.#slots.values()) {
      const info = slot.info?.();
      if (info !== undefined) infos.push(info);
    }
    return infos;
  }

  /** Whether `slot` still holds its place (it was neither released nor dropped). */
  holds(slot: Slot): boolean {
    return this.#slots.get(slot.key) === slot;
  }

  /**
   * A slot for a request from `address`:`port`, or why there is none. A full server first
   * drops its oldest transfer whose client has never answered, then the one silent longest
   * if that silence is more than twice its retransmission timeout (at least 1 s).
   *
   * @example
   * ```ts
   * const taken = slots.take('192.0.2.7', 2048);
   * if (taken.ok) taken.slot.stop = (reason) => transfer.abort(reason);
   * ```
   */
  take(address: string, port: number): Taken {
    const key = `${address}|${port}`;
    const held = this.#slots.get(key);
    if (held) return { ok: false, why: 'repeat', slot: held };
    const group = addressGroup(address);
    // A full group makes room among its own transfers first, as a full server does among all.
    if ((this.#perAddress.get(group) ?? 0) >= this.#limits.maxPerAddress && !this.#makeRoom(group))
      return { ok: false, why: 'address' };
    if (this.#slots.size >= this.#limits.maxTransfers && !this.#makeRoom()) return { ok: false, why: 'busy' };
    const timeoutMs = this.#limits.timeoutMs;
    const slot: Slot = {
      key,
      address: group,
      began: this.#limits.now(),
      heard: () => undefined,
      rtoMs: () => timeoutMs,
      repeated: () => {},
      stop: () => this.release(slot),
    };
    this.#slots.set(key, slot);
    this.#perAddress.set(group, (this.#perAddress.get(group) ?? 0) + 1);
    this.#sweep();
    return { ok: true, slot };
  }

  /** Gives the slot back: its client may ask again. */
  release(slot: Slot): void {
    if (!this.holds(slot)) return;
    this.#slots.delete(slot.key);
    const left = (this.#perAddress.get(slot.address) ?? 1) - 1;
    if (left > 0) this.#perAddress.set(slot.address, left);
    else this.#perAddress.delete(slot.address);
    if (this.#slots.size === 0) this.#stopSweeping();
  }

  /**
   * Ends the transfer with the client `client` (`address:port`, as `TransferInfo` names it),
   * telling it why; false when there is none.
   */
  stop(client: string, reason: string): boolean {
    for (const slot of this.#slots.values()) {
      if (slot.info?.().client !== client) continue;
      slot.stop(reason, true);
      this.release(slot);
      return true;
    }
    return false;
  }

  /** Ends every transfer, telling its client why (the server is closing). */
  stopAll(reason: string): void {
    this.#stopSweeping();
    for (const slot of [...this.#slots.values()]) {
      slot.stop(reason, true);
      this.release(slot);
    }
  }

  /**
   * Drops the transfer a full server can best spare; false if every one is moving. For a
   * full address `group`, only among that group's transfers, and only one that was answered
   * and then stopped: its requests that were never answered keep counting against its cap.
   */
  #makeRoom(group?: string): boolean {
    const slots = [...this.#slots.values()].filter((s) => group === undefined || s.address === group);
    const never = group === undefined ? slots.find((s) => s.heard() === undefined) : undefined;
    if (never) {
      this.#drop(never, 'a newer request took the slot of a client that never answered');
      return true;
    }
    const now = this.#limits.now();
    let longest: Slot | undefined;
    let longestSilence = 0;
    for (const slot of slots) {
      const silence = now - (slot.heard() ?? now);
      const rto = Math.min(slot.rtoMs(), this.#limits.maxTakeoverRtoMs);
      if (silence <= Math.max(MIN_TAKEOVER_SILENCE_MS, 2 * rto) || silence <= longestSilence) continue;
      longest = slot;
      longestSilence = silence;
    }
    if (!longest) return false;
    this.#drop(longest, `a newer request took the slot of a client silent for ${longestSilence} ms`);
    return true;
  }

  #drop(slot: Slot, reason: string): void {
    this.dropped++;
    slot.stop(reason, false);
    this.release(slot);
  }

  /** Checks the slots for silence while any is taken, a few times per shortest bound. */
  #sweep(): void {
    if (this.#sweeper) return;
    const every = Math.max(10, Math.min(1000, this.#limits.firstAnswerMs / 4));
    this.#sweeper = setInterval(() => {
      const now = this.#limits.now();
      for (const slot of [...this.#slots.values()]) {
        const heard = slot.heard();
        if (heard === undefined && now - slot.began >= this.#limits.firstAnswerMs)
          this.#drop(slot, `no answer in ${this.#limits.firstAnswerMs} ms`);
        else if (heard !== undefined && now - heard >= this.#limits.maxSilenceMs)
          this.#drop(slot, `silent for ${this.#limits.maxSilenceMs} ms`);
      }
    }, every);
    this.#sweeper.unref();
  }

  #stopSweeping(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}
