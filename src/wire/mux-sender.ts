/**
 * The sending half of a `Mux`: frames onto the transport in order, DATA shared fairly.
 *
 * Channels with something to send wait in a ready queue and take turns, one DATA frame of
 * at most `chunkSize` bytes (or their EOF) per turn, so one busy channel cannot starve the
 * others (HTTP/2 leaves prioritization to the sender, RFC 9113 section 5.3; equal shares is
 * the simple fair choice). No DATA goes out while the transport's `write()` has said it is
 * full; the mux calls `drained()` on its 'drain' and the turns resume. Control frames
 * (OPEN, WINDOW, CLOSE) are small and go out at once, so credit is never stuck behind data.
 */
import type { Duplex } from 'node:stream';
import type { MuxChannel } from './mux-channel.js';
import { encodeMuxFrame, type MuxFrame, MuxFrameType, muxDataHeader } from './mux-frame.js';

/** DATA bodies below this are copied behind their header (one small buffer beats two writes). */
const COPY_BELOW = 1024;

export class MuxSender {
  readonly #transport: Duplex;
  readonly #chunkSize: number;
  #ready: MuxChannel[] = [];
  readonly #queued = new Set<MuxChannel>();
  #flushing = false;
  #blocked = false;
  #stopped = false;

  constructor(transport: Duplex, chunkSize: number) {
    this.#transport = transport;
    this.#chunkSize = chunkSize;
  }

  /** Writes one frame now (control frames, and DATA chosen by the turns). */
  write(frame: MuxFrame): void {
    if (this.#stopped || this.#transport.writableEnded) return;
    let ok: boolean;
    if (frame.type === MuxFrameType.DATA && frame.data.length >= COPY_BELOW) {
      // Header and body as two writes inside the flush's cork: one writev, no copy.
      this.#transport.write(muxDataHeader(frame.id, frame.data.length));
      ok = this.#transport.write(frame.data);
    } else {
      ok = this.#transport.write(encodeMuxFrame(frame));
    }
    if (!ok) this.#blocked = true;
  }

  /** `channel` may have DATA or EOF to send: give it a turn. */
  schedule(channel: MuxChannel): void {
    if (!this.#queued.has(channel)) {
      this.#queued.add(channel);
      this.#ready.push(channel);
    }
    this.#flush();
  }

  /** `channel` is gone: drop its turn. */
  forget(channel: MuxChannel): void {
    if (this.#queued.delete(channel)) this.#ready = this.#ready.filter((c) => c !== channel);
  }

  /** The transport emitted 'drain'. */
  drained(): void {
    this.#blocked = false;
    this.#flush();
  }

  /** The mux failed: write nothing more. */
  stop(): void {
    this.#stopped = true;
    this.#ready = [];
    this.#queued.clear();
  }

  /** Round robin over channels with sendable data, one chunk per turn, while the transport takes it. */
  #flush(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    this.#transport.cork();
    try {
      while (!this.#blocked && !this.#stopped && this.#ready.length > 0) {
        const channel = this.#ready.shift() as MuxChannel;
        this.#queued.delete(channel);
        const frame = channel.takeFrame(this.#chunkSize);
        if (frame) this.write(frame);
        if (channel.hasSendable() && !this.#queued.has(channel)) {
          this.#queued.add(channel);
          this.#ready.push(channel);
        }
      }
    } finally {
      this.#flushing = false;
      this.#transport.uncork();
    }
  }
}
