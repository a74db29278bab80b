/**
 * Where a client resumes a room after a lost connection, so that it misses nothing and shows
 * nothing twice, even across server nodes.
 *
 * On one server, "every message after the last id seen" would do. With several nodes
 * (`cluster.ts`) a client sees its own node's messages at once and the others' a moment
 * later, through Redis: the last id it saw may be newer than a message of another node that
 * was still on its way when the connection broke. So it asks again from `marginMs` before
 * the last message it saw, and drops what it has already shown: it remembers the ids shown
 * within that margin.
 */
import { firstIdAt, idTime } from './ids.js';

/** How far back a resumption asks, in ms: far more than a message takes between nodes. */
export const RESUME_MARGIN_MS = 5000;

export class Resume {
  readonly #marginMs: number;
  /** Ids shown within the margin before the newest (and some older, until pruned). */
  readonly #shown = new Set<string>();
  #newest: string | undefined;

  constructor(marginMs = RESUME_MARGIN_MS) {
    this.#marginMs = marginMs;
  }

  /** Ids remembered now (those shown within the margin, and some older until pruned). */
  get remembered(): number {
    return this.#shown.size;
  }

  /** The newest id shown, if any. */
  get newest(): string | undefined {
    return this.#newest;
  }

  /** What a join's `after` should say on a resumption (undefined before any message). */
  after(): string | undefined {
    return this.#newest === undefined ? undefined : firstIdAt(idTime(this.#newest) - this.#marginMs);
  }

  /**
   * Whether message `id` is to be shown: not shown already, and not older than the margin
   * (history that came before). Records it when it is.
   */
  take(id: string): boolean {
    if (this.#shown.has(id)) return false;
    const floor = this.after();
    if (floor !== undefined && id < floor) return false;
    this.#shown.add(id);
    if (this.#newest === undefined || id > this.#newest) this.#newest = id;
    if (this.#shown.size > this.#pruneAt) {
      // Now and then, not per message: a busy room shows thousands within the margin.
      const keep = this.after() as string;
      for (const old of this.#shown) if (old < keep) this.#shown.delete(old);
      this.#pruneAt = Math.max(1024, 2 * this.#shown.size);
    }
    return true;
  }

  #pruneAt = 1024;
}
