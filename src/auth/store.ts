/**
 * The user store: one set of kysely queries over SQLite (the embedded default), MySQL/MariaDB
 * and PostgreSQL. Every statement is built by kysely with bound parameters; the only SQL
 * text written by hand is schema DDL and fixed PRAGMAs, neither of which carries a value.
 */
import { Kysely, sql } from 'kysely';
import { type MigrationProvider, Migrator } from 'kysely/migration';
import { ErrorCode, SockitError } from '../errors.js';
import { type Connection, connect, databaseError } from './connect.js';
import type { ScramCredentials } from './credentials.js';
import { GRANTS, type Grant, isGrant } from './grants.js';
import {
  MAX_KEY_BYTES,
  MAX_SALT_BYTES,
  MIGRATION_LOCK_TABLE,
  MIGRATION_TABLE,
  migrationProvider,
  QUOTA_UNLIMITED,
  type StoreKind,
  type StoreSchema,
} from './migrations.js';
import { checkUserName } from './names.js';

/** A quota: a number of bytes (0: nothing may be stored), or no limit at all. */
export type Quota = number | 'unlimited';

export { GRANTS, type Grant, isGrant } from './grants.js';

/** One user as the store keeps it: never a password, only SCRAM's salted keys. */
export interface UserRecord {
  name: string;
  credentials: ScramCredentials;
  /** This user's own quota; `null` means the server's default applies. */
  quotaBytes: Quota | null;
  /**
   * Bytes the user's files and unfinished uploads hold, as the file service counted them;
   * `null` until it first counts them (a walk of the home, once).
   */
  usageBytes: number | null;
  createdAt: Date;
  /** What else this user may do, sorted; empty for most. */
  grants: Grant[];
}

/**
 * Users and their credentials, on whichever engine `openUserStore` was given.
 *
 * @example
 * ```ts
 * const store = await openUserStore(defaultDatabase('sockit-data'));
 * await store.add('ann', await deriveCredentials(password), { quotaBytes: 1 << 30 });
 * const ann = await store.get('ann'); // UserRecord, or undefined
 * await store.close();
 * ```
 */
export interface UserStore {
  readonly kind: StoreKind;
  /** The user of exactly this name, or `undefined`; any string may be asked for. */
  get(name: string): Promise<UserRecord | undefined>;
  /** Adds a user; `ERR_BAD_USER_NAME` for a bad name, `ERR_USER_EXISTS` when taken. */
  add(
    name: string,
    credentials: ScramCredentials,
    options?: { quotaBytes?: Quota | null; grants?: readonly Grant[] },
  ): Promise<void>;
  /** Replaces a user's credentials (a new password); `ERR_USER_NOT_FOUND` when there is none. */
  setCredentials(name: string, credentials: ScramCredentials): Promise<void>;
  /**
   * Sets a user's quota: bytes (0: nothing may be stored), `'unlimited'`, or `null` for the
   * server's default; `ERR_USER_NOT_FOUND`.
   */
  setQuota(name: string, quotaBytes: Quota | null): Promise<void>;
  /** Replaces a user's grants (`[]`: none); `ERR_USER_NOT_FOUND`, `ERR_INVALID_ARGUMENT` for an unknown grant. */
  setGrants(name: string, grants: readonly Grant[]): Promise<void>;
  /**
   * Adds `deltaBytes` (negative: subtracts) to a user's usage in one statement, so that
   * several processes may count at once. Nothing happens while the usage is unknown; a sum
   * below 0 (files removed that were never counted) makes it unknown, to be counted again.
   */
  addUsage(name: string, deltaBytes: number): Promise<void>;
  /**
   * Sets a user's usage (`null`: unknown). With `ifUnknown`, only when it is unknown: a
   * count that raced with `addUsage` does not replace the newer value.
   */
  setUsage(name: string, usageBytes: number | null, options?: { ifUnknown?: boolean }): Promise<void>;
  /** Deletes a user; `ERR_USER_NOT_FOUND` when there is none. */
  remove(name: string): Promise<void>;
  /** Every user, sorted by name (byte order on every engine). */
  list(): Promise<UserRecord[]>;
  /** Closes the connections; the store cannot be used afterwards. */
  close(): Promise<void>;
}

export { defaultDatabase } from './connect.js';
export type { StoreKind } from './migrations.js';

/**
 * Opens the user store at `target` and brings its schema up to date. `target` is
 * `mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (or `mariadb://`), `postgres://...`
 * (or `postgresql://`), `sqlite:PATH`, or a plain file path (its folder is created).
 * Any failure is `ERR_DATABASE`, in one line that names the server but never the password.
 *
 * @example
 * ```ts
 * const store = await openUserStore('postgres://sockit@db.example:5432/sockit');
 * ```
 */
export async function openUserStore(target: string): Promise<UserStore> {
  const { db, connection } = await openMigrated<StoreSchema>(target, {
    provider: migrationProvider,
    table: MIGRATION_TABLE,
    lockTable: MIGRATION_LOCK_TABLE,
  });
  return new KyselyUserStore(db, connection);
}

/**
 * Opens the database at `target` (as `openUserStore` takes it) and runs a store's migrations,
 * kept in their own tables: the user store and the chat history share one database this way.
 * Any failure is `ERR_DATABASE`.
 *
 * @example
 * ```ts
 * const { db, connection } = await openMigrated<ChatSchema>(target, {
 *   provider: chatMigrationProvider, table: 'sockit_chat_migration', lockTable: 'sockit_chat_migration_lock' });
 * ```
 */
export async function openMigrated<Schema>(
  target: string,
  migrations: { provider: (kind: StoreKind) => MigrationProvider; table: string; lockTable: string },
): Promise<{ db: Kysely<Schema>; connection: Connection }> {
  const connection = await connect(target);
  const db = new Kysely<Schema>({ dialect: connection.dialect });
  const migrator = new Migrator({
    db,
    provider: migrations.provider(connection.kind),
    migrationTableName: migrations.table,
    migrationLockTableName: migrations.lockTable,
  });
  let { error } = await migrator.migrateToLatest();
  // SQLite has no migration lock between processes: two servers starting on one file (the
  // workers of a cluster, two chat nodes) both find the schema old, and the second to write
  // fails (the table exists, or its snapshot is stale). Its transaction was rolled back, and
  // once the first has committed, a second look finds nothing left to do.
  for (let attempt = 1; error !== undefined && connection.kind === 'sqlite' && attempt <= 3; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 200 * attempt));
    ({ error } = await migrator.migrateToLatest());
  }
  if (error !== undefined) {
    await db.destroy().catch(() => {});
    throw databaseError(connection, 'cannot open', error);
  }
  return { db, connection };
}

/** Records kept by a SQLite store between reads, at most (then all are let go). */
const KEPT_RECORDS = 1024;

class KyselyUserStore implements UserStore {
  readonly kind: StoreKind;
  #closed: Promise<void> | undefined;
  /**
   * SQLite only: records read, each with the database's change marks of when it was read,
   * served again while neither moved (see get). The file service reads its user's record
   * at every upload, for the quota: for a folder of small files that read (Kysely's query
   * and the driver's call, ~40 µs) was a tenth of the server's CPU.
   */
  #records = new Map<string, { record: UserRecord | undefined; others: number; writes: number }>();
  /** Writes this store made (finished or failed), counted after each. */
  #writes = 0;

  constructor(
    private readonly db: Kysely<StoreSchema>,
    private readonly connection: Connection,
  ) {
    this.kind = connection.kind;
  }

  async get(name: string): Promise<UserRecord | undefined> {
    // PostgreSQL text cannot hold U+0000, so asking would be an encoding error; no stored
    // name (each passed checkUserName) contains it.
    if (name.includes('\u0000')) return undefined;
    const others = this.connection.othersChanges?.();
    const writes = this.#writes;
    const kept = this.#records.get(name);
    if (kept && kept.others === others && kept.writes === writes) return copyRecord(kept.record);
    const row = await this.#run('read', () => this.#select().where('name', '=', name).executeTakeFirst());
    // MySQL's collations ignore trailing spaces ('ann ' = 'ann'): only the exact name counts.
    const record = row !== undefined && row.name === name ? toRecord(row) : undefined;
    if (others !== undefined) {
      // Marks taken before the read: a change that lands during it makes the next get read again.
      if (this.#records.size >= KEPT_RECORDS) this.#records.clear();
      this.#records.set(name, { record: copyRecord(record), others, writes });
    }
    return record;
  }

  async add(
    name: string,
    credentials: ScramCredentials,
    options: { quotaBytes?: Quota | null; grants?: readonly Grant[] } = {},
  ): Promise<void> {
    checkUserName(name);
    checkCredentials(credentials);
    const quotaBytes = checkQuota(options.quotaBytes ?? null);
    const grants = grantsColumn(options.grants ?? []);
    const now = new Date();
    // Names that differ only in case are one person's elsewhere (the chat folds nicks, IRC
    // compares them without regard to case): a second spelling would take the first's nick,
    // its waiting direct messages and its history, so it is refused. (A race of two adds of
    // two spellings at once is not caught here; one spelling twice is, by the unique key.)
    const twin = await this.#run('read', () =>
      this.db
        .selectFrom('users')
        .select('name')
        .where(sql<string>`lower(${sql.ref('name')})`, '=', name.toLowerCase())
        .executeTakeFirst(),
    );
    if (twin !== undefined) {
      throw new SockitError(
        ErrorCode.USER_EXISTS,
        twin.name === name
          ? `user ${name} already exists`
          : `user ${name} cannot be made: ${twin.name} exists, and names are compared without regard to case`,
      );
    }
    try {
      // The unique constraint decides between two racing adds of one name.
      await this.#written(() =>
        this.db
          .insertInto('users')
          .values({
            name,
            ...credentialColumns(credentials),
            quota_bytes: quotaBytes,
            grants,
            created_at: this.kind === 'sqlite' ? now.toISOString() : now,
          })
          .execute(),
      );
    } catch (err) {
      if (isUniqueViolation(this.kind, err)) {
        throw new SockitError(ErrorCode.USER_EXISTS, `user ${name} already exists`, { cause: err });
      }
      throw databaseError(this.connection, 'cannot add a user to', err);
    }
  }

  async setCredentials(name: string, credentials: ScramCredentials): Promise<void> {
    checkUserName(name);
    checkCredentials(credentials);
    await this.#update(name, credentialColumns(credentials));
  }

  async setQuota(name: string, quotaBytes: Quota | null): Promise<void> {
    checkUserName(name);
    await this.#update(name, { quota_bytes: checkQuota(quotaBytes) });
  }

  async setGrants(name: string, grants: readonly Grant[]): Promise<void> {
    checkUserName(name);
    await this.#update(name, { grants: grantsColumn(grants) });
  }

  async addUsage(name: string, deltaBytes: number): Promise<void> {
    checkUserName(name);
    checkBytes('a usage change', deltaBytes, -Number.MAX_SAFE_INTEGER);
    if (deltaBytes === 0) return;
    const sum = sql<number>`${sql.ref('usage_bytes')} + ${deltaBytes}`;
    await this.#run('write', () =>
      this.db
        .updateTable('users')
        .set({ usage_bytes: sql<number | null>`case when ${sum} < 0 then null else ${sum} end` })
        .where('name', '=', name)
        .where('usage_bytes', 'is not', null)
        .execute(),
    );
  }

  async setUsage(
    name: string,
    usageBytes: number | null,
    options: { ifUnknown?: boolean } = {},
  ): Promise<void> {
    checkUserName(name);
    if (usageBytes !== null) checkBytes('usage', usageBytes, 0);
    if (!options.ifUnknown) return this.#update(name, { usage_bytes: usageBytes });
    await this.#run('write', () =>
      this.db
        .updateTable('users')
        .set({ usage_bytes: usageBytes })
        .where('name', '=', name)
        .where('usage_bytes', 'is', null)
        .execute(),
    );
  }

  async remove(name: string): Promise<void> {
    checkUserName(name);
    const result = await this.#run('write', () =>
      this.db.deleteFrom('users').where('name', '=', name).executeTakeFirst(),
    );
    if (result.numDeletedRows === 0n) throw notFound(name);
  }

  async list(): Promise<UserRecord[]> {
    const rows = await this.#run('read', () => this.#select().orderBy('name').execute());
    return rows.map(toRecord);
  }

  close(): Promise<void> {
    this.#closed ??= this.db.destroy();
    return this.#closed;
  }

  #select() {
    return this.db
      .selectFrom('users')
      .select([
        'name',
        'salt',
        'iterations',
        'stored_key',
        'server_key',
        'quota_bytes',
        'usage_bytes',
        'created_at',
        'grants',
      ]);
  }

  async #update(
    name: string,
    values: Partial<Pick<StoreSchema['users'], 'salt' | 'iterations' | 'stored_key' | 'server_key'>> & {
      quota_bytes?: number | null;
      usage_bytes?: number | null;
      grants?: string;
    },
  ): Promise<void> {
    // Names are valid here, so MySQL's trailing-space rule cannot match another user.
    // The mysql2 connection flags include FOUND_ROWS: an update that changes nothing
    // still counts its matched row.
    const result = await this.#run('write', () =>
      this.db.updateTable('users').set(values).where('name', '=', name).executeTakeFirst(),
    );
    if (result.numUpdatedRows === 0n) throw notFound(name);
  }

  /** Runs a write, counted for the kept records whether it succeeds or not (see #records). */
  async #written<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } finally {
      this.#writes++;
    }
  }

  async #run<T>(what: 'read' | 'write', query: () => Promise<T>): Promise<T> {
    try {
      return await (what === 'write' ? this.#written(query) : query());
    } catch (err) {
      throw databaseError(this.connection, what === 'read' ? 'cannot read' : 'cannot write', err);
    }
  }
}

type UserRow = Pick<StoreSchema['users'], 'name' | 'salt' | 'iterations' | 'stored_key' | 'server_key'> & {
  quota_bytes: number | string | bigint | null;
  usage_bytes: number | string | bigint | null;
  created_at: Date | string;
  grants: string;
};

/** A record no other holder of it shares (a kept one is handed out as a copy). */
function copyRecord(r: UserRecord | undefined): UserRecord | undefined {
  if (r === undefined) return undefined;
  const c = r.credentials;
  return {
    ...r,
    credentials: {
      salt: Buffer.from(c.salt),
      iterations: c.iterations,
      storedKey: Buffer.from(c.storedKey),
      serverKey: Buffer.from(c.serverKey),
    },
    createdAt: new Date(r.createdAt),
    grants: [...r.grants],
  };
}

function toRecord(row: UserRow): UserRecord {
  return {
    name: row.name,
    credentials: {
      salt: toBuffer(row.salt),
      iterations: Number(row.iterations),
      storedKey: toBuffer(row.stored_key),
      serverKey: toBuffer(row.server_key),
    },
    // pg returns BIGINT as a string; the value was checked to be a safe integer on the way in.
    quotaBytes: toQuota(row.quota_bytes),
    usageBytes: row.usage_bytes === null ? null : Number(row.usage_bytes),
    createdAt: row.created_at instanceof Date ? row.created_at : new Date(row.created_at),
    // A grant this version does not know (written by a newer one) is not a grant here.
    grants: row.grants.split(',').filter(isGrant),
  };
}

/** The column value of a set of grants: known names only, each once, sorted, joined by commas. */
function grantsColumn(grants: readonly Grant[]): string {
  for (const g of grants) {
    if (!isGrant(g)) {
      throw new SockitError(
        ErrorCode.INVALID_ARGUMENT,
        `unknown grant ${JSON.stringify(g)}: one of ${GRANTS.join(', ')}`,
      );
    }
  }
  return [...new Set(grants)].sort().join(',');
}

function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value);
}

function credentialColumns(c: ScramCredentials) {
  return { salt: c.salt, iterations: c.iterations, stored_key: c.storedKey, server_key: c.serverKey };
}

function checkCredentials(c: ScramCredentials): void {
  const bad = (what: string): never => {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `credentials: ${what}`);
  };
  if (!Number.isInteger(c.iterations) || c.iterations < 1 || c.iterations > 0x7fffffff) {
    bad('iterations must be a whole number from 1 to 2147483647');
  }
  if (!Buffer.isBuffer(c.salt) || c.salt.length === 0 || c.salt.length > MAX_SALT_BYTES) {
    bad(`the salt must be 1 to ${MAX_SALT_BYTES} bytes`);
  }
  for (const key of [c.storedKey, c.serverKey]) {
    if (!Buffer.isBuffer(key) || key.length === 0 || key.length > MAX_KEY_BYTES) {
      bad(`keys must be 1 to ${MAX_KEY_BYTES} bytes`);
    }
  }
}

function toQuota(stored: number | string | bigint | null): Quota | null {
  if (stored === null) return null;
  const bytes = Number(stored);
  return bytes === QUOTA_UNLIMITED ? 'unlimited' : bytes;
}

/** The column value of a quota (see QUOTA_UNLIMITED). */
function checkQuota(quotaBytes: Quota | null): number | null {
  if (quotaBytes === null) return null;
  if (quotaBytes === 'unlimited') return QUOTA_UNLIMITED;
  if (Number.isSafeInteger(quotaBytes) && quotaBytes >= 0) return quotaBytes;
  throw new SockitError(
    ErrorCode.INVALID_ARGUMENT,
    `quota must be a whole number of bytes from 0 to ${Number.MAX_SAFE_INTEGER}, 'unlimited', or null`,
  );
}

function checkBytes(what: string, bytes: number, least: number): void {
  if (Number.isSafeInteger(bytes) && bytes >= least) return;
  throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${what} must be a whole number of bytes`);
}

function notFound(name: string): SockitError {
  return new SockitError(ErrorCode.USER_NOT_FOUND, `no user named ${name}`);
}

/** Each driver's code for a broken UNIQUE constraint. */
function isUniqueViolation(kind: StoreKind, err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  switch (kind) {
    case 'sqlite':
      return code === 'SQLITE_CONSTRAINT_UNIQUE';
    case 'mysql':
      return code === 'ER_DUP_ENTRY';
    case 'postgres':
      return code === '23505';
  }
}
