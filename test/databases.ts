/**
 * Fresh, throw-away databases on every engine the user store supports, for suites that run
 * once per engine. MariaDB and PostgreSQL are real local servers: when one is down the
 * suite fails and says how to start it; nothing is skipped.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';

export const DB_KINDS = ['sqlite', 'mysql', 'postgres'] as const;
export type DbKind = (typeof DB_KINDS)[number];

export interface TestDatabase {
  /** What `openUserStore` takes. */
  url: string;
  /** Drops the database (or deletes the file); safe to call twice. */
  drop(): Promise<void>;
}

const MYSQL_ADMIN = process.env.SOCKIT_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/test';
const POSTGRES_ADMIN = process.env.SOCKIT_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';

const HOW_TO_START: Record<Exclude<DbKind, 'sqlite'>, string> = {
  mysql: 'start it with: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd',
  postgres: 'start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
};

/**
 * Creates an empty database named `sockit_t_<pid>_<random>` (or a temporary SQLite file).
 *
 * @example
 * ```ts
 * describe.each(DB_KINDS)('store on %s', (kind) => {
 *   let db: TestDatabase;
 *   beforeAll(async () => { db = await createTestDatabase(kind); });
 *   afterAll(() => db.drop());
 * });
 * ```
 */
export async function createTestDatabase(kind: DbKind): Promise<TestDatabase> {
  const name = `sockit_t_${process.pid}_${randomBytes(4).toString('hex')}`;
  switch (kind) {
    case 'sqlite': {
      const dir = await mkdtemp(path.join(tmpdir(), 'sockit-db-'));
      return {
        url: `sqlite:${path.join(dir, `${name}.db`)}`,
        drop: once(() => rm(dir, { recursive: true, force: true })),
      };
    }
    case 'mysql': {
      await adminMysql(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
      return {
        url: withDatabase(MYSQL_ADMIN, name),
        drop: once(() => adminMysql(`DROP DATABASE IF EXISTS \`${name}\``)),
      };
    }
    case 'postgres': {
      await adminPostgres(`CREATE DATABASE "${name}"`);
      return {
        url: withDatabase(POSTGRES_ADMIN, name),
        // WITH (FORCE) ends sessions a failed test left open (PostgreSQL 13+).
        drop: once(() => adminPostgres(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)),
      };
    }
  }
}

/** The admin URL with its database replaced: same server and user. */
function withDatabase(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Where a URL points, without its password. */
function serverOf(adminUrl: string): string {
  const url = new URL(adminUrl);
  return `${url.protocol}//${url.username ? `${url.username}@` : ''}${url.host}${url.pathname}`;
}

// The statements below are fixed DDL around a name this file generated (hex and digits
// only); database names cannot be bound as parameters.
async function adminMysql(statement: string): Promise<void> {
  let connection: Awaited<ReturnType<typeof createConnection>>;
  try {
    connection = await createConnection({ uri: MYSQL_ADMIN, connectTimeout: 5000 });
  } catch (err) {
    throw unreachable('MariaDB/MySQL', MYSQL_ADMIN, 'SOCKIT_TEST_MYSQL', HOW_TO_START.mysql, err);
  }
  try {
    await connection.query(statement);
  } finally {
    await connection.end();
  }
}

async function adminPostgres(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw unreachable('PostgreSQL', POSTGRES_ADMIN, 'SOCKIT_TEST_POSTGRES', HOW_TO_START.postgres, err);
  }
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

function unreachable(
  service: string,
  adminUrl: string,
  envName: string,
  howToStart: string,
  err: unknown,
): Error {
  const reason =
    err instanceof AggregateError && err.errors.length > 0
      ? String((err.errors[0] as Error).message)
      : (err as Error).message;
  return new Error(
    `${service} is unreachable at ${serverOf(adminUrl)} (${reason}); these tests need it running: ` +
      `${howToStart} (or point ${envName} at another server)`,
    { cause: err },
  );
}

function once(action: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= action();
    return done;
  };
}
