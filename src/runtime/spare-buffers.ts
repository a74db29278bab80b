/**
 * Buffers of one size kept between short uses that follow one another, instead of a fresh
 * one each time: fresh memory outside the heap costs page faults, and tens of megabytes a
 * second of it a full garbage collection every few seconds. The spares are let go once none
 * has been given back for `idleMs`, so an idle process keeps none.
 *
 * @example
 * ```ts
 * const spares = new SpareBuffers(64 * 1024, 16);
 * const buffer = spares.take();
 * // ... use it, keep no view of it ...
 * spares.give(buffer);
 * ```
 */
export class SpareBuffers {
  readonly #spares: Buffer[] = [];
  #release: NodeJS.Timeout | undefined;

  constructor(
    /** The size of every buffer. */
    readonly size: number,
    /** Spares kept at most. */
    readonly max: number,
    /** How long spares outlive the last one given back, in ms. */
    readonly idleMs = 1000,
  ) {}

  /** A spare, or a fresh buffer when there is none (its bytes are not cleared). */
  take(): Buffer {
    return this.#spares.pop() ?? Buffer.allocUnsafe(this.size);
  }

  /** Keeps `buffer` for a next `take()`; nothing may use it afterwards. Other sizes are dropped. */
  give(buffer: Buffer): void {
    if (buffer.length !== this.size || this.#spares.length >= this.max) return;
    this.#spares.push(buffer);
    if (this.#release) this.#release.refresh();
    else {
      this.#release = setTimeout(() => {
        this.#spares.length = 0;
        this.#release = undefined;
      }, this.idleMs).unref();
    }
  }

  /** Spares held now. */
  get held(): number {
    return this.#spares.length;
  }
}
