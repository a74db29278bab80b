/**
 * The opening side of a `Mux` keeps within the peer's announced channel limit.
 *
 * The peer refuses an OPEN beyond its `maxChannels` and charges the refusal to its rapid-reset
 * budget (see `mux.ts`), so a client that simply opened 1,200 channels at once would lose the
 * whole mux. As HTTP/2 clients honour SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 section
 * 5.1.2), channels beyond the limit wait here, in the order they were opened, and their OPEN
 * goes out when one of this side's channels is done on both sides (both CLOSEs exchanged: the
 * peer counts a channel until its handler has let it go, and only then answers CLOSE). Until
 * the peer's SETTINGS arrives its limit is unknown, so every OPEN waits for it.
 */
import type { MuxChannel } from './mux-channel.js';

/**
 * A FIFO of channels waiting for a free slot under the peer's limit.
 *
 * @example
 * ```ts
 * const gate = new OpenGate((channel) => sendOpen(channel));
 * gate.request(channel);   // waits: no SETTINGS yet
 * gate.settings(100);      // sends it
 * gate.released();         // one of ours is done on both sides: the next may go
 * ```
 */
export class OpenGate {
  readonly #send: (channel: MuxChannel) => void;
  #limit: number | undefined;
  #open = 0;
  #waiting: MuxChannel[] = [];

  constructor(send: (channel: MuxChannel) => void) {
    this.#send = send;
  }

  /** Channels opened here whose OPEN has not gone out yet. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Channels of ours the peer counts now (OPEN sent, not yet closed on both sides). */
  get open(): number {
    return this.#open;
  }

  /** The peer announced its limit; false if it had already done so (it may announce once). */
  settings(maxChannels: number): boolean {
    if (this.#limit !== undefined) return false;
    this.#limit = maxChannels;
    this.#pump();
    return true;
  }

  /** A new channel: its OPEN goes out now if there is room, else when there is. */
  request(channel: MuxChannel): void {
    channel.held = true;
    this.#waiting.push(channel);
    this.#pump();
  }

  /** One of ours whose OPEN went out is closed on both sides: its slot is free. */
  released(): void {
    this.#open--;
    this.#pump();
  }

  /** A waiting channel was destroyed before its OPEN went out: it never will. */
  drop(channel: MuxChannel): void {
    channel.held = false;
    this.#waiting = this.#waiting.filter((c) => c !== channel);
  }

  /** The mux ended: every waiting channel, to be destroyed. */
  clear(): MuxChannel[] {
    const all = this.#waiting;
    this.#waiting = [];
    return all;
  }

  #pump(): void {
    while (this.#limit !== undefined && this.#open < this.#limit && this.#waiting.length > 0) {
      const channel = this.#waiting.shift() as MuxChannel;
      channel.held = false;
      this.#open++;
      this.#send(channel);
    }
  }
}
