/**
 * Chat history: every room message and direct message, in the user store's database (SQLite
 * by default, MySQL/MariaDB or PostgreSQL by URL), through kysely with bound parameters only.
 * Every read is bounded (`MAX_PAGE` messages).
 *
 * Writes are queued and written in batches, in the order they were made; a read waits for
 * every write made before it on the same object, so a join's scrollback holds each message
 * the hub numbered before the join. Writing a message twice (same id) keeps the first.
 */
import { type Insertable, type Kysely, type SelectQueryBuilder, sql } from 'kysely';
import type { Connection } from '../auth/connect.js';
import { databaseError } from '../auth/connect.js';
import { openMigrated, type StoreKind } from '../auth/store.js';
import { ErrorCode, SockitError } from '../errors.js';
import { checkIds, checkPage, type Row, toMessage, toRow } from './history-rows.js';
import {
  CHAT_MIGRATION_LOCK_TABLE,
  CHAT_MIGRATION_TABLE,
  type ChatMessagesTable,
  type ChatSchema,
  chatMigrationProvider,
} from './history-schema.js';
import { firstIdAt } from './ids.js';
import { foldNick, normalizeRoom } from './names.js';
import type { ChatMessage } from './protocol.js';

/** Most messages one read returns. */
export const MAX_PAGE = 500;
/** Rows per INSERT when writes queue up. */
const BATCH = 200;
/**
 * How long writes gather before they go: a busy room's messages then cost one INSERT and one
 * commit together instead of one each (a read, `close` or a full batch ends the wait at once).
 */
const GATHER_MS = 10;
/** Rows one DELETE of `prune` takes: a long one would hold the database (on SQLite, the thread too). */
export const PRUNE_BATCH = 1000;

/** Which page: `before`/`after` are exclusive message ids; `limit` defaults to 50. */
export interface PageQuery {
  before?: string;
  after?: string;
  limit?: number;
}

/**
 * Messages oldest first. Without `after`: the newest `limit` before `before` (or the end), and
 * `more` when older ones exist. With `after`: the oldest `limit` after it, and `more` when
 * newer ones exist (before `before`, if given): page on with the last id.
 */
export interface HistoryPage {
  messages: ChatMessage[];
  more: boolean;
}

/**
 * @example
 * ```ts
 * const history = await openChatHistory(defaultDatabase('sockit-data'));
 * await history.append(message);                                  // from a `store` effect
 * const { messages } = await history.room('lobby', { limit: 50 }); // scrollback
 * const older = await history.room('lobby', { before: messages[0]?.id });
 * ```
 */
export interface ChatHistory {
  readonly kind: StoreKind;
  /** Stores a message; `delivered: false` for a direct message that waits for its account. */
  append(message: ChatMessage, options?: { delivered?: boolean }): Promise<void>;
  /** A room's messages. */
  room(room: string, page?: PageQuery): Promise<HistoryPage>;
  /**
   * The direct messages the account `account` sent or received as that account (its name
   * exactly): not those of a guest who once had the same nick.
   */
  direct(account: string, page?: PageQuery): Promise<HistoryPage>;
  /** Direct messages to the account `account` still waiting, oldest first, at most `limit` (default 100). */
  undelivered(account: string, limit?: number): Promise<ChatMessage[]>;
  /** Marks direct messages delivered (at most MAX_PAGE ids a call). */
  markDelivered(ids: readonly string[]): Promise<void>;
  /** The greatest id stored: a restarted hub's ids continue after it. */
  latestId(): Promise<string | undefined>;
  /** Records that the account `account` was last online at `at` (ms since the epoch). */
  recordSeen(account: string, at: number): Promise<void>;
  /** The accounts last seen most recently, newest first, at most `limit` (at most MAX_PAGE). */
  lastSeen(limit: number): Promise<{ account: string; at: number }[]>;
  /**
   * Deletes every message made before `before` (ms since the epoch), direct messages still
   * waiting included, `PRUNE_BATCH` at a time; resolves how many went.
   */
  prune(before: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * Opens the history in the database at `target` (what `openUserStore` takes) and brings its
 * table up to date. Failures are `ERR_DATABASE`, naming the server but never the password.
 */
export async function openChatHistory(target: string): Promise<ChatHistory> {
  const { db, connection } = await openMigrated<ChatSchema>(target, {
    provider: chatMigrationProvider,
    table: CHAT_MIGRATION_TABLE,
    lockTable: CHAT_MIGRATION_LOCK_TABLE,
  });
  return new KyselyChatHistory(db, connection);
}

interface Pending {
  row: Insertable<ChatMessagesTable>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

class KyselyChatHistory implements ChatHistory {
  readonly kind: StoreKind;
  readonly #queue: Pending[] = [];
  #writing: Promise<void> | undefined;
  /** Ends the current gathering of writes early. */
  #wake: (() => void) | undefined;
  #closed: Promise<void> | undefined;

  constructor(
    private readonly db: Kysely<ChatSchema>,
    private readonly connection: Connection,
  ) {
    this.kind = connection.kind;
  }

  async append(message: ChatMessage, options: { delivered?: boolean } = {}): Promise<void> {
    const row = toRow(message, options.delivered ?? true);
    // Queued at the call, not later: writes keep the order of the calls.
    await new Promise<void>((resolve, reject) => {
      this.#queue.push({ row, resolve, reject });
      this.#writing ??= this.#drain();
      if (this.#queue.length >= BATCH) this.#wake?.();
    });
  }

  /** Writes the queue in batches until it is empty; never rejects (each write's caller hears). */
  async #drain(): Promise<void> {
    // Runs after the caller's push: the queue is not empty on entry.
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        if (this.#wake === wake) this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(wake, GATHER_MS);
      this.#wake = wake;
    });
    for (;;) {
      const batch = this.#queue.splice(0, BATCH);
      if (batch.length === 0) {
        this.#writing = undefined;
        return;
      }
      try {
        await this.#insert(batch.map((p) => p.row));
        for (const p of batch) p.resolve();
      } catch (err) {
        const failure = databaseError(this.connection, 'cannot write chat history to', err);
        for (const p of batch) p.reject(failure);
      }
    }
  }

  #insert(rows: Insertable<ChatMessagesTable>[]) {
    const insert = this.db.insertInto('chat_messages').values(rows);
    return this.kind === 'mysql'
      ? insert.onDuplicateKeyUpdate({ id: sql.ref('chat_messages.id') }).execute()
      : insert.onConflict((oc) => oc.column('id').doNothing()).execute();
  }

  async room(room: string, page: PageQuery = {}): Promise<HistoryPage> {
    const name = normalizeRoom(room);
    if (name === undefined)
      throw new SockitError(ErrorCode.INVALID_ARGUMENT, 'chat history: not a room name');
    return this.#page(page, (q) => q.where('room', '=', name));
  }

  async direct(account: string, page: PageQuery = {}): Promise<HistoryPage> {
    checkKey(account);
    return this.#page(page, (q) =>
      q
        .where('room', 'is', null)
        .where((eb) => eb.or([eb('from_account', '=', account), eb('to_account', '=', account)])),
    );
  }

  async #page(page: PageQuery, filter: (q: Select) => Select): Promise<HistoryPage> {
    const { before, after, limit } = checkPage(page, MAX_PAGE);
    await this.#settled();
    let query = filter(this.db.selectFrom('chat_messages').selectAll());
    if (before !== undefined) query = query.where('id', '<', before);
    if (after !== undefined) query = query.where('id', '>', after);
    query = query.orderBy('id', after === undefined ? 'desc' : 'asc').limit(limit + 1);
    const rows = await this.#run(() => query.execute());
    const more = rows.length > limit;
    const kept = rows.slice(0, limit).map(toMessage);
    return { messages: after === undefined ? kept.reverse() : kept, more };
  }

  async undelivered(account: string, limit = 100): Promise<ChatMessage[]> {
    checkKey(account);
    const { limit: n } = checkPage({ limit }, MAX_PAGE);
    await this.#settled();
    const rows = await this.#run(() =>
      this.db
        .selectFrom('chat_messages')
        .selectAll()
        .where('to_account', '=', account)
        .where('delivered', '=', 0)
        .where('room', 'is', null)
        .orderBy('id', 'asc')
        .limit(n)
        .execute(),
    );
    return rows.map(toMessage);
  }

  async markDelivered(ids: readonly string[]): Promise<void> {
    checkIds(ids, MAX_PAGE);
    if (ids.length === 0) return;
    await this.#settled();
    await this.#run(
      () =>
        this.db
          .updateTable('chat_messages')
          .set({ delivered: 1 })
          .where('id', 'in', [...ids])
          .execute(),
      'cannot write chat history to',
    );
  }

  async latestId(): Promise<string | undefined> {
    await this.#settled();
    const row = await this.#run(() =>
      this.db.selectFrom('chat_messages').select('id').orderBy('id', 'desc').limit(1).executeTakeFirst(),
    );
    return row?.id;
  }

  async recordSeen(account: string, at: number): Promise<void> {
    const accountKey = checkKey(account);
    if (!Number.isSafeInteger(at) || at < 0)
      throw new SockitError(ErrorCode.INVALID_ARGUMENT, 'chat history: bad time');
    const row = { account_key: accountKey, account, at_ms: at };
    const insert = this.db.insertInto('chat_seen').values(row);
    // The later time wins: two nodes may record one account's quits out of order.
    const later =
      this.kind === 'sqlite'
        ? sql<number>`max(chat_seen.at_ms, ${at})`
        : sql<number>`greatest(chat_seen.at_ms, ${at})`;
    await this.#run(
      () =>
        this.kind === 'mysql'
          ? insert.onDuplicateKeyUpdate({ account, at_ms: later }).execute()
          : insert
              .onConflict((oc) => oc.column('account_key').doUpdateSet({ account, at_ms: later }))
              .execute(),
      'cannot write chat history to',
    );
  }

  async lastSeen(limit: number): Promise<{ account: string; at: number }[]> {
    const { limit: n } = checkPage({ limit }, MAX_PAGE);
    const rows = await this.#run(() =>
      this.db
        .selectFrom('chat_seen')
        .select(['account', 'at_ms'])
        .orderBy('at_ms', 'desc')
        .limit(n)
        .execute(),
    );
    return rows.map((r) => ({ account: r.account, at: Number(r.at_ms) }));
  }

  async prune(before: number): Promise<number> {
    if (!Number.isSafeInteger(before) || before < 0)
      throw new SockitError(ErrorCode.INVALID_ARGUMENT, 'chat history: bad time');
    await this.#settled();
    // Ids begin with their time: the primary key finds the old ones, no index on time needed.
    const limit = firstIdAt(before);
    let removed = 0;
    for (;;) {
      const edge = await this.#run(() =>
        this.db
          .selectFrom('chat_messages')
          .select('id')
          .where('id', '<', limit)
          .orderBy('id', 'asc')
          .limit(1)
          .offset(PRUNE_BATCH - 1)
          .executeTakeFirst(),
      );
      const deleted = await this.#run(
        () =>
          this.db
            .deleteFrom('chat_messages')
            .where('id', edge === undefined ? '<' : '<=', edge?.id ?? limit)
            .executeTakeFirst(),
        'cannot write chat history to',
      );
      removed += Number(deleted.numDeletedRows);
      if (edge === undefined) return removed;
      // Others' queries get their turn between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  close(): Promise<void> {
    this.#closed ??= this.#settled().then(() => this.db.destroy());
    return this.#closed;
  }

  /** Resolves once every write made so far has been tried. */
  async #settled(): Promise<void> {
    this.#wake?.();
    while (this.#writing !== undefined) await this.#writing;
  }

  async #run<T>(query: () => Promise<T>, doing = 'cannot read chat history from'): Promise<T> {
    try {
      return await query();
    } catch (err) {
      throw databaseError(this.connection, doing, err);
    }
  }
}

type Select = SelectQueryBuilder<ChatSchema, 'chat_messages', Row>;

function checkKey(nick: string): string {
  if (typeof nick !== 'string' || nick.length === 0 || nick.length > 64 || !/^[\x21-\x7e]+$/.test(nick)) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, 'chat history: not a nick');
  }
  return foldNick(nick);
}
