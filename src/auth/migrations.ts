/**
 * The user store's schema, as kysely migrations kept in code (no migration folder to ship).
 * Column types differ per engine where the engines differ; the store reads every engine's
 * values back into the same JavaScript types.
 */
import { type ColumnType, type Generated, type Kysely, type RawBuilder, sql } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';
import { MAX_USER_NAME_LENGTH } from './names.js';

export type StoreKind = 'sqlite' | 'mysql' | 'postgres';

/** Where kysely records which migrations ran; prefixed so a shared database stays readable. */
export const MIGRATION_TABLE = 'sockit_migration';
export const MIGRATION_LOCK_TABLE = 'sockit_migration_lock';

/** The longest salt and key the store accepts, in bytes (bounded columns on MySQL). */
export const MAX_SALT_BYTES = 255;
export const MAX_KEY_BYTES = 64;

/**
 * `quota_bytes` of a user without a limit. A sentinel in the one column keeps "default",
 * "unlimited" and "N bytes" apart on all three engines with one nullable BIGINT, where a
 * second column would allow contradictory pairs.
 */
export const QUOTA_UNLIMITED = -1;

/** The `users` table as the drivers see it. */
export interface UsersTable {
  id: Generated<number>;
  name: string;
  salt: Buffer;
  iterations: number;
  stored_key: Buffer;
  server_key: Buffer;
  /**
   * BIGINT: pg returns a string, mysql2 and better-sqlite3 a number. NULL: the server's
   * default; QUOTA_UNLIMITED (-1): no limit; 0 or more: that many bytes.
   */
  quota_bytes: ColumnType<number | string | bigint | null, number | null, number | null>;
  /** BIGINT: bytes the user's files and upload parts hold; NULL until first counted. */
  usage_bytes: ColumnType<number | string | bigint | null, number | null, number | null>;
  /** SQLite keeps ISO 8601 text; MySQL and PostgreSQL return a `Date`. */
  created_at: ColumnType<Date | string, Date | string, never>;
  /** What the user may do beyond the file service and chat: grant names joined by commas, sorted. */
  grants: ColumnType<string, string | undefined, string>;
}

export interface StoreSchema {
  users: UsersTable;
}

interface ColumnTypes {
  name: RawBuilder<unknown>;
  salt: RawBuilder<unknown>;
  key: RawBuilder<unknown>;
  createdAt: RawBuilder<unknown>;
}

/**
 * User names compare byte for byte on every engine, so a name is found only by itself and
 * `list()` sorts alike everywhere: MySQL's default collations ignore case and trailing
 * spaces, and PostgreSQL's follow the locale, hence the explicit binary collations.
 */
function columnTypes(kind: StoreKind): ColumnTypes {
  const name = sql.raw(`varchar(${MAX_USER_NAME_LENGTH})`);
  switch (kind) {
    case 'sqlite':
      return { name: sql`text`, salt: sql`blob`, key: sql`blob`, createdAt: sql`text` };
    case 'mysql':
      return {
        name: sql`${name} character set utf8mb4 collate utf8mb4_bin`,
        salt: sql.raw(`varbinary(${MAX_SALT_BYTES})`),
        key: sql.raw(`varbinary(${MAX_KEY_BYTES})`),
        createdAt: sql`datetime(3)`,
      };
    case 'postgres':
      return {
        name: sql`${name} collate "C"`,
        salt: sql`bytea`,
        key: sql`bytea`,
        createdAt: sql`timestamptz`,
      };
  }
}

function createUsers(kind: StoreKind): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const types = columnTypes(kind);
      await db.schema
        .createTable('users')
        .addColumn('id', kind === 'postgres' ? 'serial' : 'integer', (c) =>
          kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('name', types.name, (c) => c.notNull())
        .addColumn('salt', types.salt, (c) => c.notNull())
        .addColumn('iterations', 'integer', (c) => c.notNull())
        .addColumn('stored_key', types.key, (c) => c.notNull())
        .addColumn('server_key', types.key, (c) => c.notNull())
        .addColumn('quota_bytes', 'bigint')
        .addColumn('created_at', types.createdAt, (c) => c.notNull())
        .addUniqueConstraint('users_name_unique', ['name'])
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('users').execute();
    },
  };
}

/**
 * Per-user usage, and quotas that mean what they say. Before this migration a stored quota
 * of 0 meant "no limit" (the server skipped the check); 0 now means that nothing may be
 * stored, so existing zeros become QUOTA_UNLIMITED and keep their old effect.
 */
const usageAndUnlimited: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('users').addColumn('usage_bytes', 'bigint').execute();
    await (db as Kysely<StoreSchema>)
      .updateTable('users')
      .set({ quota_bytes: QUOTA_UNLIMITED })
      .where('quota_bytes', '=', 0)
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await (db as Kysely<StoreSchema>)
      .updateTable('users')
      .set({ quota_bytes: 0 })
      .where('quota_bytes', '=', QUOTA_UNLIMITED)
      .execute();
    await db.schema.alterTable('users').dropColumn('usage_bytes').execute();
  },
};

/** The longest `grants` value: every grant there is, joined, fits with room to spare. */
export const MAX_GRANTS_LENGTH = 128;

/** Grants (admin, exec, ...): none for every existing user. */
const grants: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('users')
      .addColumn('grants', sql.raw(`varchar(${MAX_GRANTS_LENGTH})`), (c) => c.notNull().defaultTo(''))
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('users').dropColumn('grants').execute();
  },
};

/**
 * The store's migrations for one engine, oldest first. Names sort in order; never rename or
 * edit one that has shipped: add a new one.
 *
 * @example
 * ```ts
 * const migrator = new Migrator({ db, provider: migrationProvider('sqlite'),
 *   migrationTableName: MIGRATION_TABLE, migrationLockTableName: MIGRATION_LOCK_TABLE });
 * const { error } = await migrator.migrateToLatest();
 * ```
 */
export function migrationProvider(kind: StoreKind): MigrationProvider {
  return {
    getMigrations: async () => ({
      '0001_create_users': createUsers(kind),
      '0002_usage_and_unlimited_quota': usageAndUnlimited,
      '0003_grants': grants,
    }),
  };
}
