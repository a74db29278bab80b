/**
 * The chat history's schema: one table, `chat_messages`, in the same database as the user
 * store, with migrations of its own (kysely refuses a migration list that lacks ones already
 * run, so the two stores keep separate migration tables).
 *
 *   id            the message id (16 characters, sortable), primary key
 *   room          the room, for a room message; NULL for a direct message
 *   from_nick     the sender's nick as shown; from_key, folded (for lookups)
 *   from_account  the sender's account; NULL for a guest
 *   to_nick       a direct message's recipient as shown; to_key, folded
 *   text          the message (one line of UTF-8, at most MAX_STORED_TEXT_BYTES)
 *   action        1 for `/me`, else 0
 *   mentions      the room members it names, space-separated; NULL for none
 *   at_ms         server time, ms since the epoch (BIGINT: no time zones on any engine)
 *   delivered     0 for a direct message still waiting for its (offline) account, else 1
 *
 * Indexes: (room, id) for scrollback, (to_key, delivered, id) for waiting and received direct
 * messages, (from_key, id) for sent ones. Keys compare byte for byte on every engine
 * (utf8mb4_bin on MySQL, "C" on PostgreSQL), so ids sort alike everywhere.
 */
import { type ColumnType, type Kysely, type RawBuilder, sql } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';
import type { StoreKind } from '../auth/migrations.js';
import { MAX_NICK_LENGTH, MAX_ROOM_LENGTH } from './names.js';

export const CHAT_MIGRATION_TABLE = 'sockit_chat_migration';
export const CHAT_MIGRATION_LOCK_TABLE = 'sockit_chat_migration_lock';

/** The longest text the table keeps, in bytes of UTF-8 (a hub's message limit must not exceed it). */
export const MAX_STORED_TEXT_BYTES = 16_384;
/** Room members flagged in one message, at most. */
export const MAX_STORED_MENTIONS = 20;
const ID_LENGTH = 32;

export interface ChatMessagesTable {
  id: string;
  room: string | null;
  from_nick: string;
  from_key: string;
  from_account: string | null;
  to_nick: string | null;
  to_key: string | null;
  /** Added by 0002: the recipient's account; only accounts' direct messages are their history. */
  to_account: string | null;
  text: string;
  action: number;
  mentions: string | null;
  /** BIGINT: pg returns a string, mysql2 and better-sqlite3 a number. */
  at_ms: ColumnType<number | string | bigint, number, number>;
  delivered: number;
}

/** Added by 0003: when each account was last online (guests' nicks are not kept: anyone may make up thousands). */
export interface ChatSeenTable {
  /** The account's name, folded: the key. */
  account_key: string;
  /** The account's name as it spells it. */
  account: string;
  at_ms: ColumnType<number | string | bigint, number, number>;
}

export interface ChatSchema {
  chat_messages: ChatMessagesTable;
  chat_seen: ChatSeenTable;
}

/** A bounded string column that compares byte for byte. */
function key(kind: StoreKind, length: number): RawBuilder<unknown> {
  switch (kind) {
    case 'sqlite':
      return sql`text`;
    case 'mysql':
      return sql.raw(`varchar(${length}) character set utf8mb4 collate utf8mb4_bin`);
    case 'postgres':
      return sql.raw(`varchar(${length}) collate "C"`);
  }
}

function createMessages(kind: StoreKind): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const nick = key(kind, MAX_NICK_LENGTH);
      const text = kind === 'mysql' ? sql`text character set utf8mb4 collate utf8mb4_bin` : sql`text`;
      await db.schema
        .createTable('chat_messages')
        .addColumn('id', key(kind, ID_LENGTH), (c) => c.primaryKey())
        .addColumn('room', key(kind, MAX_ROOM_LENGTH))
        .addColumn('from_nick', nick, (c) => c.notNull())
        .addColumn('from_key', nick, (c) => c.notNull())
        .addColumn('from_account', nick)
        .addColumn('to_nick', nick)
        .addColumn('to_key', nick)
        .addColumn('text', text, (c) => c.notNull())
        .addColumn('action', 'smallint', (c) => c.notNull())
        .addColumn('mentions', text)
        .addColumn('at_ms', 'bigint', (c) => c.notNull())
        .addColumn('delivered', 'smallint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('chat_messages_room').on('chat_messages').columns(['room', 'id']).execute();
      await db.schema
        .createIndex('chat_messages_to')
        .on('chat_messages')
        .columns(['to_key', 'delivered', 'id'])
        .execute();
      await db.schema
        .createIndex('chat_messages_from')
        .on('chat_messages')
        .columns(['from_key', 'id'])
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('chat_messages').execute();
    },
  };
}

/**
 * The recipient's account, so that an account's direct-message history is what it sent and
 * received as that account, not whatever a guest of the same nick once did. Waiting messages
 * (delivered 0) only ever go to accounts, under the account's name: they are filled in.
 */
function addToAccount(kind: StoreKind): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .alterTable('chat_messages')
        .addColumn('to_account', key(kind, MAX_NICK_LENGTH))
        .execute();
      await sql`update chat_messages set to_account = to_nick where room is null and delivered = 0`.execute(
        db,
      );
      await db.schema
        .createIndex('chat_messages_to_account')
        .on('chat_messages')
        .columns(['to_account', 'delivered', 'id'])
        .execute();
      await db.schema
        .createIndex('chat_messages_from_account')
        .on('chat_messages')
        .columns(['from_account', 'id'])
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropIndex('chat_messages_from_account').on('chat_messages').execute();
      await db.schema.dropIndex('chat_messages_to_account').on('chat_messages').execute();
      await db.schema.alterTable('chat_messages').dropColumn('to_account').execute();
    },
  };
}

/** When each account was last seen, so that `whois` says so after a restart too. */
function createSeen(kind: StoreKind): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const name = key(kind, MAX_NICK_LENGTH);
      await db.schema
        .createTable('chat_seen')
        .addColumn('account_key', name, (c) => c.primaryKey())
        .addColumn('account', name, (c) => c.notNull())
        .addColumn('at_ms', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('chat_seen_at').on('chat_seen').columns(['at_ms']).execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('chat_seen').execute();
    },
  };
}

/** The history's migrations for one engine, oldest first; never edit one that has shipped. */
export function chatMigrationProvider(kind: StoreKind): MigrationProvider {
  return {
    getMigrations: async () => ({
      '0001_create_chat_messages': createMessages(kind),
      '0002_add_to_account': addToAccount(kind),
      '0003_create_chat_seen': createSeen(kind),
    }),
  };
}
