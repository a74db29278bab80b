/**
 * Address groups that logged in to an account lately: the server's memory of where an account's
 * owner comes from, by network rather than by cookie (the idea of OWASP's device cookies). An
 * attempt from such a group skips the queue for the account's slot, so a crowd that fills the
 * queue with attempts it never finishes does not keep the owner out. Memory is bounded: a few
 * groups per account, a cap on accounts, the least recently used going first.
 */
import { checkInteger } from '../runtime/service.js';

/** Options of `KnownGroups`. */
export interface KnownGroupsOptions {
  /** Groups remembered per account; default 4. */
  perAccount?: number;
  /** Accounts remembered; default 10,000. */
  maxAccounts?: number;
  /** A group is known this long after its last log-in, in ms; default 24 hours. */
  ttlMs?: number;
  /** The clock, in ms; default `performance.now`. */
  now?: () => number;
}

/**
 * Per account, the address groups of its recent successful log-ins.
 *
 * @example
 * ```ts
 * const known = new KnownGroups();
 * known.add('u:ann', '203.0.113.7'); // ann logged in from there
 * known.has('u:ann', '203.0.113.7'); // true for the next 24 hours
 * ```
 */
export class KnownGroups {
  readonly #perAccount: number;
  readonly #maxAccounts: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  /** Map order is the order of last use, the stalest first, in both levels. */
  readonly #accounts = new Map<string, Map<string, number>>();

  constructor(options: KnownGroupsOptions = {}) {
    this.#perAccount = checkInteger('perAccount', options.perAccount ?? 4, 1, 1_000);
    this.#maxAccounts = checkInteger('maxAccounts', options.maxAccounts ?? 10_000, 1, 10_000_000);
    this.#ttlMs = checkInteger('ttlMs', options.ttlMs ?? 24 * 3_600_000, 1, 2 ** 52);
    this.#now = options.now ?? (() => performance.now());
  }

  /** `group` logged in to `account` just now. */
  add(account: string, group: string): void {
    const groups = this.#accounts.get(account) ?? new Map<string, number>();
    this.#accounts.delete(account);
    this.#accounts.set(account, groups);
    groups.delete(group);
    groups.set(group, this.#now());
    for (const stale of groups.keys()) {
      if (groups.size <= this.#perAccount) break;
      groups.delete(stale);
    }
    for (const stale of this.#accounts.keys()) {
      if (this.#accounts.size <= this.#maxAccounts) break;
      this.#accounts.delete(stale);
    }
  }

  /** Whether `group` logged in to `account` within the last `ttlMs`. */
  has(account: string, group: string): boolean {
    const at = this.#accounts.get(account)?.get(group);
    return at !== undefined && this.#now() - at < this.#ttlMs;
  }

  /** Accounts remembered (at most `maxAccounts`). */
  get size(): number {
    return this.#accounts.size;
  }
}
