/**
 * The PBKDF2 iteration counts that unknown names are shown. If every unknown name got the
 * default while some accounts were made with another count (4096, say), that count would mark
 * them as real. So an unknown name gets a count drawn from the store's own counts, in their
 * proportions, chosen by HMAC(fakeKey, name): the same name always gets the same count, and over
 * many names the counts occur about as often as among the accounts.
 *
 * The proportions are rounded to sixteenths (a count present at all gets at least one), and
 * the HMAC is read as a point in [0, 1): an account added or removed rarely moves a rounded
 * boundary, so a fake name keeps its count when the table is re-read, as a real one does. (A
 * draw modulo the number of accounts changed most fake names' counts at every new account.)
 */
import { createHmac } from 'node:crypto';
import type { UserStore } from './store.js';

export interface IterationMixOptions {
  /** Where the accounts are. Only `list()` is used, at most once per `refreshMs`. */
  store: Pick<UserStore, 'list'>;
  /** The server's fake-salt key: the draw is keyed by it, so it cannot be predicted. */
  fakeKey: Buffer;
  /** The count used while the store has no account yet (the count new accounts get). */
  fallback: number;
  /** Re-read the store's counts this often, in ms; default 10 minutes. */
  refreshMs?: number;
  now?: () => number;
}

/** Sixteenths of the draw each count gets. */
const SHARES = 16;

/** Counts with their cumulative shares, for a draw in [0, total). */
interface Mix {
  counts: number[];
  cumulative: number[];
  total: number;
}

/**
 * The counts of a store's accounts, and a stable keyed draw from them.
 *
 * @example
 * ```ts
 * const mix = new IterationMix({ store, fakeKey, fallback: DEFAULT_ITERATIONS });
 * await mix.refresh();
 * new ScramServer({ lookup, fakeKey, iterations: (name) => mix.countFor(name) });
 * ```
 */
export class IterationMix {
  readonly #options: IterationMixOptions;
  readonly #refreshMs: number;
  readonly #now: () => number;
  #mix: Mix | undefined;
  #loadedAt = Number.NEGATIVE_INFINITY;
  #loading: Promise<void> | undefined;

  constructor(options: IterationMixOptions) {
    this.#options = options;
    this.#refreshMs = options.refreshMs ?? 10 * 60_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Re-reads the store's counts now (also done by `countFor` when they are stale). */
  refresh(): Promise<void> {
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  async #load(): Promise<void> {
    const weights = new Map<number, number>();
    for (const user of await this.#options.store.list()) {
      const n = user.credentials.iterations;
      weights.set(n, (weights.get(n) ?? 0) + 1);
    }
    // Sorted, so the draw does not depend on the order the store lists accounts in.
    const counts = [...weights.keys()].sort((a, b) => a - b);
    const accounts = [...weights.values()].reduce((a, b) => a + b, 0);
    let total = 0;
    const cumulative = counts.map((n) => {
      total += Math.max(1, Math.round(((weights.get(n) ?? 0) * SHARES) / accounts));
      return total;
    });
    this.#mix = total === 0 ? undefined : { counts, cumulative, total };
    this.#loadedAt = this.#now();
  }

  /**
   * The count to show for an unknown `name`. Synchronous (it runs inside the exchange); a stale
   * table is refreshed in the background, and the fallback serves until the first load.
   */
  countFor(name: string): number {
    if (this.#now() - this.#loadedAt >= this.#refreshMs) void this.refresh().catch(() => {});
    const mix = this.#mix;
    if (mix === undefined) return this.#options.fallback;
    const digest = createHmac('sha256', this.#options.fakeKey).update(`iterations:${name}`).digest();
    // 48 bits of the HMAC as a point in [0, 1), scaled to the shares.
    const draw = (digest.readUIntBE(0, 6) / 2 ** 48) * mix.total;
    const at = mix.cumulative.findIndex((upTo) => draw < upTo);
    return mix.counts[at] as number;
  }
}
