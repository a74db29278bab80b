/**
 * Which nicks belong to accounts, so that a guest cannot take one. The hub asks synchronously
 * (it does no I/O); its owner keeps the answer at hand, e.g. with `AccountNames` filled from
 * the user store at start and kept up to date when accounts are added or removed. Accounts
 * that log in to the hub are known to it anyway.
 */
import type { UserStore } from '../auth/store.js';
import { foldNick } from './names.js';

export interface AccountDirectory {
  /** The account whose name is `nick` when folded alike (see `foldNick`), as the account spells it. */
  lookup(nick: string): string | undefined;
}

/**
 * A set of account names, compared as nicks are.
 *
 * @example
 * ```ts
 * const accounts = await AccountNames.fromStore(store);
 * const hub = new ChatHub({ accounts });
 * accounts.add('newcomer'); // after `sockit users add newcomer`
 * ```
 */
export class AccountNames implements AccountDirectory {
  readonly #names = new Map<string, string>();

  constructor(names: Iterable<string> = []) {
    for (const name of names) this.add(name);
  }

  /** The names of every account in `store`. */
  static async fromStore(store: Pick<UserStore, 'list'>): Promise<AccountNames> {
    return new AccountNames((await store.list()).map((user) => user.name));
  }

  lookup(nick: string): string | undefined {
    return this.#names.get(foldNick(nick));
  }

  add(name: string): void {
    this.#names.set(foldNick(name), name);
  }

  delete(name: string): void {
    this.#names.delete(foldNick(name));
  }

  /** Replaces every name, e.g. with a fresh read of the store. */
  replace(names: Iterable<string>): void {
    this.#names.clear();
    for (const name of names) this.add(name);
  }

  get size(): number {
    return this.#names.size;
  }
}
