/**
 * Opening a user database from a URL or a path: which engine, its kysely dialect, and
 * failures as one-line ERR_DATABASE errors that name the server but never the password.
 * Each engine's driver is loaded when a database of its kind is opened, not before: a
 * process that opens none (a TFTP server, a client) does not carry three drivers.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Dialect, SqliteDatabase, SqliteStatement } from 'kysely';
import { ErrorCode, SockitError } from '../errors.js';
import type { StoreKind } from './migrations.js';

/** SQLite waits this long for another process's write lock before failing. */
const SQLITE_BUSY_TIMEOUT_MS = 5000;
/** A server that does not answer within this time counts as unreachable. */
const CONNECT_TIMEOUT_MS = 10_000;

export interface Connection {
  kind: StoreKind;
  /** Where the data lives, for messages: never includes a password. */
  where: string;
  /** Redacted from driver messages, just in case one quotes it. */
  secret: string;
  dialect: Dialect;
  /**
   * A number that changes whenever another connection, in this process or another, commits a
   * change to the database (SQLite's `PRAGMA data_version`, read in microseconds); changes
   * made through this connection do not move it. Only SQLite has one.
   */
  othersChanges?: () => number;
}

/**
 * The SQLite file used when no `--db` is given: `<dataDir>/sockit.db`.
 *
 * @example
 * ```ts
 * defaultDatabase('sockit-data'); // 'sockit-data/sockit.db'
 * ```
 */
export function defaultDatabase(dataDir: string): string {
  return path.join(dataDir, 'sockit.db');
}

const URL_SCHEMES: Partial<Record<string, StoreKind>> = {
  mysql: 'mysql',
  mariadb: 'mysql',
  postgres: 'postgres',
  postgresql: 'postgres',
};

/**
 * Loads a database driver on first use. The drivers are optional peer dependencies: a library
 * user installs only the one they use, and a missing one is named in the error.
 *
 * @example
 * ```ts
 * const pg = await loadDriver('pg', () => import('pg')); // ERR_DATABASE "npm install pg" if absent
 * ```
 */
export async function loadDriver<T>(
  name: 'better-sqlite3' | 'mysql2' | 'pg',
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new SockitError(
        ErrorCode.DATABASE,
        `this database needs the "${name}" package, which is not installed: npm install ${name}`,
        { cause: err },
      );
    }
    throw err;
  }
}

export async function connect(target: string): Promise<Connection> {
  if (target.startsWith('sqlite:')) return openSqlite(target.slice('sqlite:'.length));
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(target)?.[1]?.toLowerCase();
  if (scheme === undefined) return openSqlite(target);
  const kind = URL_SCHEMES[scheme];
  if (kind === undefined) {
    throw new SockitError(
      ErrorCode.DATABASE,
      `unsupported database URL scheme "${scheme}:": use mysql://, mariadb://, postgres://, postgresql:// or sqlite:PATH`,
    );
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    // The URL is not echoed: it may hold a password.
    throw new SockitError(ErrorCode.DATABASE, `the ${scheme}:// database URL is malformed`);
  }
  return kind === 'mysql' ? await openMysql(url) : await openPostgres(url, target);
}

async function openSqlite(file: string): Promise<Connection> {
  const base = { kind: 'sqlite' as const, where: `SQLite file ${file}`, secret: '' };
  if (file === '')
    throw new SockitError(ErrorCode.DATABASE, 'sqlite: needs a file path, e.g. sqlite:users.db');
  const [{ default: Database }, { SqliteDialect }] = await Promise.all([
    loadDriver('better-sqlite3', () => import('better-sqlite3')),
    import('kysely'),
  ]);
  let database: InstanceType<typeof Database> | undefined;
  try {
    if (file !== ':memory:') await mkdir(path.dirname(path.resolve(file)), { recursive: true });
    database = new Database(file, { timeout: SQLITE_BUSY_TIMEOUT_MS });
    // WAL lets readers run while one process writes; the busy timeout queues writers
    // instead of failing them at once with SQLITE_BUSY.
    database.pragma('journal_mode = WAL');
    database.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  } catch (err) {
    database?.close();
    throw databaseError(base, 'cannot open', err);
  }
  const dataVersion = database.prepare('PRAGMA data_version').pluck();
  return {
    ...base,
    dialect: new SqliteDialect({ database: keepStatements(database) }),
    othersChanges: () => dataVersion.get() as number,
  };
}

/** Compiled statements kept per database, at most. */
const KEPT_STATEMENTS = 256;

/**
 * Kysely prepares every query it runs, and better-sqlite3 compiles SQL on every prepare (tens
 * of microseconds, more than running a small query): the statements are kept compiled, by
 * their SQL text, the least recently used let go past KEPT_STATEMENTS. A statement is
 * reset after each run; Kysely runs one query at a time per connection (and this one is
 * never streamed from), so a kept statement is never asked for while it still runs.
 */
function keepStatements(database: SqliteDatabase): SqliteDatabase {
  const kept = new Map<string, SqliteStatement>();
  const prepare = (sql: string): SqliteStatement => {
    let statement = kept.get(sql);
    if (statement === undefined) {
      statement = database.prepare(sql);
      if (kept.size >= KEPT_STATEMENTS) kept.delete(kept.keys().next().value as string);
    } else {
      kept.delete(sql);
    }
    kept.set(sql, statement);
    return statement;
  };
  return { close: () => database.close(), prepare };
}

async function openMysql(url: URL): Promise<Connection> {
  const host = hostOf(url, 'localhost');
  const port = url.port === '' ? 3306 : Number(url.port);
  const database = decode(url.pathname.slice(1));
  const secret = decode(url.password);
  const where = `MySQL at ${host}:${port}/${database}`;
  if (database === '') throw new SockitError(ErrorCode.DATABASE, `${where}: the URL names no database`);
  const [{ createPool }, { MysqlDialect }] = await Promise.all([
    loadDriver('mysql2', () => import('mysql2')),
    import('kysely'),
  ]);
  // Query parameters pass through as mysql2 options (e.g. ?ssl={...}), as mysql2 itself does.
  const extra: Record<string, unknown> = {};
  for (const [key, value] of url.searchParams) {
    try {
      extra[key] = JSON.parse(value);
    } catch {
      extra[key] = value;
    }
  }
  const pool = createPool({
    ...extra,
    host,
    port,
    user: decode(url.username),
    password: secret,
    database,
    connectTimeout: CONNECT_TIMEOUT_MS,
    connectionLimit: 5,
    // DATETIME values are written and read as UTC, whatever the server's or client's zone.
    timezone: 'Z',
  });
  return { kind: 'mysql', where, secret, dialect: new MysqlDialect({ pool }) };
}

async function openPostgres(url: URL, target: string): Promise<Connection> {
  const host = hostOf(url, url.searchParams.get('host') ?? 'localhost');
  const port = url.port === '' ? 5432 : Number(url.port);
  const database = decode(url.pathname.slice(1));
  const secret = decode(url.password);
  const [{ default: pg }, { PostgresDialect }] = await Promise.all([
    loadDriver('pg', () => import('pg')),
    import('kysely'),
  ]);
  const pool = new pg.Pool({
    connectionString: target,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    max: 5,
  });
  // A server that drops an idle connection makes the pool emit 'error'; the next query
  // simply takes a new connection, so this must not crash the process.
  pool.on('error', () => {});
  return {
    kind: 'postgres',
    where: `PostgreSQL at ${host}:${port}/${database}`,
    secret,
    dialect: new PostgresDialect({ pool }),
  };
}

/** Percent-decoding that keeps a malformed sequence as written instead of throwing. */
function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function hostOf(url: URL, fallback: string): string {
  const host = url.hostname === '' ? fallback : decode(url.hostname);
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

export function databaseError(
  connection: Pick<Connection, 'where' | 'secret'>,
  doing: string,
  err: unknown,
): SockitError {
  if (err instanceof SockitError) return err;
  let reason = describeCause(err);
  if (connection.secret !== '') reason = reason.split(connection.secret).join('***');
  return new SockitError(ErrorCode.DATABASE, `${doing} the user database (${connection.where}): ${reason}`, {
    cause: err,
  });
}

/** The driver's reason in one line. Node reports a refused dual-stack connect as an AggregateError with no message. */
function describeCause(err: unknown): string {
  if (err instanceof AggregateError && err.message === '' && err.errors.length > 0) {
    return describeCause(err.errors[0]);
  }
  const { message, code } = (err ?? {}) as { message?: unknown; code?: unknown };
  const text = typeof message === 'string' && message !== '' ? message : String(code ?? err);
  return text.replace(/\s+/g, ' ').trim();
}
