/**
 * One suite, run against every engine: a real SQLite file, a real MariaDB and a real
 * PostgreSQL, each in a fresh database of its own (see test/databases.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kysely } from 'kysely';
import { Migrator } from 'kysely/migration';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, DB_KINDS, type DbKind, type TestDatabase } from '../../test/databases.js';
import { ErrorCode, SockitError } from '../errors.js';
import { connect } from './connect.js';
import type { ScramCredentials } from './credentials.js';
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, migrationProvider, type StoreSchema } from './migrations.js';
import { defaultDatabase, openUserStore, type UserRecord, type UserStore } from './store.js';

/** Random keys, plus a salt whose edges are the bytes engines like to trim or pad. */
function credentials(iterations = 4096): ScramCredentials {
  return {
    salt: Buffer.concat([Buffer.from([0x00, 0x20]), randomBytes(12), Buffer.from([0xff, 0x20, 0x00])]),
    iterations,
    storedKey: randomBytes(32),
    serverKey: Buffer.concat([randomBytes(31), Buffer.from([0x00])]),
  };
}

function expectSameCredentials(actual: ScramCredentials | undefined, expected: ScramCredentials): void {
  expect(actual).toBeDefined();
  const a = actual as ScramCredentials;
  for (const key of ['salt', 'storedKey', 'serverKey'] as const) {
    expect(Buffer.isBuffer(a[key]), `${key} is a Buffer`).toBe(true);
    expect(a[key].toString('hex'), key).toBe(expected[key].toString('hex'));
  }
  expect(a.iterations).toBe(expected.iterations);
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<SockitError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(SockitError);
  expect((err as SockitError).code).toBe(code);
  return err as SockitError;
}

const HOSTILE_NAMES = [
  "x' OR '1'='1",
  "x'; DROP TABLE users; --",
  'x"; DROP TABLE users; --',
  "ann' --",
  'ann\u0000',
  '\u0000',
  'ann ',
  ' ann',
  'ANN',
  'Ann',
  'ann\n',
  'ann%',
  'an_',
  '%',
  '',
  '\\',
  '\ud800',
  'a'.repeat(10_000),
];

describe.each(DB_KINDS)('user store on %s', (kind: DbKind) => {
  let database: TestDatabase;
  let store: UserStore;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    store = await openUserStore(database.url);
  });

  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  beforeEach(async () => {
    for (const user of await store.list()) await store.remove(user.name);
  });

  it(`is a ${kind} store`, () => {
    expect(store.kind).toBe(kind);
  });

  it('returns what was added, keys byte for byte as Buffers', async () => {
    const added = credentials();
    const before = Date.now();
    await store.add('ann', added);
    const after = Date.now();
    const ann = await store.get('ann');
    expect(ann?.name).toBe('ann');
    expectSameCredentials(ann?.credentials, added);
    expect(ann?.quotaBytes).toBeNull();
    expect(ann?.createdAt).toBeInstanceOf(Date);
    // Engines keep milliseconds (MySQL DATETIME(3)) or finer.
    expect(ann?.createdAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(ann?.createdAt.getTime()).toBeLessThanOrEqual(after);
  });

  it('keeps a quota given at add as a number, up to the largest safe integer', async () => {
    await store.add('big', credentials(), { quotaBytes: Number.MAX_SAFE_INTEGER });
    await store.add('small', credentials(), { quotaBytes: 0 });
    const big = await store.get('big');
    expect(typeof big?.quotaBytes).toBe('number');
    expect(big?.quotaBytes).toBe(Number.MAX_SAFE_INTEGER);
    expect((await store.get('small'))?.quotaBytes).toBe(0);
  });

  it('refuses a second user of the same name and keeps the first', async () => {
    const first = credentials();
    await store.add('bob', first);
    await expectCode(store.add('bob', credentials()), ErrorCode.USER_EXISTS);
    expectSameCredentials((await store.get('bob'))?.credentials, first);
    expect((await store.list()).map((u) => u.name)).toEqual(['bob']);
  });

  it('lets exactly one of many concurrent adds of one name win, across two connections', async () => {
    const other = await openUserStore(database.url);
    try {
      const attempts = Array.from({ length: 8 }, (_, i) => ({
        store: i % 2 ? other : store,
        c: credentials(),
      }));
      const outcomes = await Promise.allSettled(attempts.map((a) => a.store.add('race', a.c)));
      const winners = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
      expect(winners).toHaveLength(1);
      for (const o of outcomes) {
        if (o.status === 'rejected') expect((o.reason as SockitError).code).toBe(ErrorCode.USER_EXISTS);
      }
      const winner = attempts[winners[0] as number];
      expectSameCredentials((await other.get('race'))?.credentials, winner?.c as ScramCredentials);
    } finally {
      await other.close();
    }
  });

  it('sees every change, made through another connection or through itself, at the next get', async () => {
    const other = await openUserStore(database.url);
    try {
      const first = credentials();
      await store.add('kim', first);
      expect((await store.get('kim'))?.quotaBytes).toBeNull();
      expect((await store.get('kim'))?.quotaBytes).toBeNull();
      await other.setQuota('kim', 5000);
      expect((await store.get('kim'))?.quotaBytes).toBe(5000);
      await other.setUsage('kim', 100);
      expect((await store.get('kim'))?.usageBytes).toBe(100);
      await store.addUsage('kim', 20);
      expect((await store.get('kim'))?.usageBytes).toBe(120);
      await store.setQuota('kim', 'unlimited');
      expect((await store.get('kim'))?.quotaBytes).toBe('unlimited');
      await other.remove('kim');
      expect(await store.get('kim')).toBeUndefined();
      expect(await store.get('kim')).toBeUndefined();
      const second = credentials();
      await other.add('kim', second);
      expectSameCredentials((await store.get('kim'))?.credentials, second);
      // What a caller does to a record it was given is not what the next caller gets.
      const given = (await store.get('kim')) as UserRecord;
      given.credentials.storedKey.fill(0);
      given.grants.push('admin');
      given.quotaBytes = 1;
      const again = await store.get('kim');
      expectSameCredentials(again?.credentials, second);
      expect(again?.grants).toEqual([]);
      expect(again?.quotaBytes).toBeNull();
    } finally {
      await other.close();
    }
  });

  it('replaces credentials, and says when the user does not exist', async () => {
    await store.add('cy', credentials());
    const fresh = credentials(5000);
    await store.setCredentials('cy', fresh);
    expectSameCredentials((await store.get('cy'))?.credentials, fresh);
    // The same credentials again change nothing but still find the user.
    await store.setCredentials('cy', fresh);
    await expectCode(store.setCredentials('nobody', credentials()), ErrorCode.USER_NOT_FOUND);
    expect(await store.get('nobody')).toBeUndefined();
  });

  it('sets and clears a quota', async () => {
    await store.add('dee', credentials());
    await store.setQuota('dee', 5 * 1024 ** 3);
    expect((await store.get('dee'))?.quotaBytes).toBe(5 * 1024 ** 3);
    await store.setQuota('dee', 5 * 1024 ** 3);
    await store.setQuota('dee', null);
    expect((await store.get('dee'))?.quotaBytes).toBeNull();
    await expectCode(store.setQuota('nobody', 1), ErrorCode.USER_NOT_FOUND);
    await expectCode(store.setQuota('dee', -1), ErrorCode.INVALID_ARGUMENT);
    await expectCode(store.setQuota('dee', 1.5), ErrorCode.INVALID_ARGUMENT);
    await expectCode(store.setQuota('dee', 2 ** 53), ErrorCode.INVALID_ARGUMENT);
    expect((await store.get('dee'))?.quotaBytes).toBeNull();
  });

  it('keeps grants: none by default, given at add, replaced, sorted and each once', async () => {
    await store.add('gus', credentials());
    await store.add('ada', credentials(), { grants: ['exec', 'admin', 'exec'] });
    expect((await store.get('gus'))?.grants).toEqual([]);
    expect((await store.get('ada'))?.grants).toEqual(['admin', 'exec']);
    await store.setGrants('gus', ['admin']);
    await store.setGrants('ada', []);
    expect((await store.list()).map((u) => [u.name, u.grants])).toEqual([
      ['ada', []],
      ['gus', ['admin']],
    ]);
    await expectCode(store.setGrants('gus', ['root' as never]), ErrorCode.INVALID_ARGUMENT);
    await expectCode(store.add('hal', credentials(), { grants: ['' as never] }), ErrorCode.INVALID_ARGUMENT);
    expect(await store.get('hal')).toBeUndefined();
    expect((await store.get('gus'))?.grants).toEqual(['admin']);
    await expectCode(store.setGrants('nobody', ['admin']), ErrorCode.USER_NOT_FOUND);
  });

  it("keeps 'unlimited' apart from 0 bytes and from the server's default", async () => {
    await store.add('uma', credentials(), { quotaBytes: 'unlimited' });
    await store.add('zed', credentials(), { quotaBytes: 0 });
    await store.add('dex', credentials());
    expect((await store.get('uma'))?.quotaBytes).toBe('unlimited');
    expect((await store.get('zed'))?.quotaBytes).toBe(0);
    expect((await store.get('dex'))?.quotaBytes).toBeNull();
    await store.setQuota('dex', 'unlimited');
    expect((await store.get('dex'))?.quotaBytes).toBe('unlimited');
    await store.setQuota('uma', 0);
    expect((await store.get('uma'))?.quotaBytes).toBe(0);
    await expectCode(store.setQuota('uma', 'lots' as never), ErrorCode.INVALID_ARGUMENT);
  });

  it('counts usage: unknown until set, moved by deltas, unknown again below zero', async () => {
    await store.add('use', credentials());
    expect((await store.get('use'))?.usageBytes).toBeNull();
    // Unknown usage is not moved: a walk will count it.
    await store.addUsage('use', 100);
    expect((await store.get('use'))?.usageBytes).toBeNull();
    await store.setUsage('use', 1000, { ifUnknown: true });
    expect((await store.get('use'))?.usageBytes).toBe(1000);
    // A late walk does not replace a known count.
    await store.setUsage('use', 5, { ifUnknown: true });
    expect((await store.get('use'))?.usageBytes).toBe(1000);
    await store.addUsage('use', 2 ** 40);
    await store.addUsage('use', -500);
    expect((await store.get('use'))?.usageBytes).toBe(2 ** 40 + 500);
    // Many deltas at once from two connections: none is lost.
    const other = await openUserStore(database.url);
    try {
      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? other : store).addUsage('use', 1)));
    } finally {
      await other.close();
    }
    expect((await store.get('use'))?.usageBytes).toBe(2 ** 40 + 520);
    await store.addUsage('use', -(2 ** 41));
    expect((await store.get('use'))?.usageBytes).toBeNull();
    await store.setUsage('use', 7);
    await store.setUsage('use', null);
    expect((await store.get('use'))?.usageBytes).toBeNull();
    await expectCode(store.setUsage('use', -1), ErrorCode.INVALID_ARGUMENT);
    await expectCode(store.addUsage('use', 0.5), ErrorCode.INVALID_ARGUMENT);
    await expectCode(store.setUsage('nobody', 1), ErrorCode.USER_NOT_FOUND);
  });

  it('removes one user and leaves the others', async () => {
    await store.add('eve', credentials());
    await store.add('fay', credentials());
    await store.remove('eve');
    expect(await store.get('eve')).toBeUndefined();
    expect((await store.list()).map((u) => u.name)).toEqual(['fay']);
    await expectCode(store.remove('eve'), ErrorCode.USER_NOT_FOUND);
  });

  it('lists users in byte order of their names on every engine', async () => {
    const names = ['b', 'C', 'a-1', 'a.1', 'a_1', 'A2', '0', 'ann', 'an', 'Z9', 'z'];
    for (const name of names) await store.add(name, credentials(), { quotaBytes: name.length });
    const listed = await store.list();
    expect(listed.map((u) => u.name)).toEqual([...names].sort());
    expect(listed.find((u) => u.name === 'ann')?.quotaBytes).toBe(3);
    for (const user of listed) expect(Buffer.isBuffer(user.credentials.salt)).toBe(true);
  });

  it('refuses a name that differs from an account only in case', async () => {
    await store.add('ann', credentials());
    await expect(store.add('ANN', credentials())).rejects.toMatchObject({
      code: ErrorCode.USER_EXISTS,
      message: expect.stringContaining('ann exists, and names are compared without regard to case'),
    });
    await expect(store.add('ann', credentials())).rejects.toMatchObject({ code: ErrorCode.USER_EXISTS });
    expect((await store.list()).map((u) => u.name)).toEqual(['ann']);
  });

  it('finds only the exact name: hostile, unknown and near-miss names are undefined', async () => {
    const ann = credentials();
    await store.add('ann', ann);
    await store.add('an', credentials());
    for (const name of HOSTILE_NAMES) {
      expect(await store.get(name), JSON.stringify(name.slice(0, 40))).toBeUndefined();
    }
    expect(await store.get('nobody')).toBeUndefined();
    expect((await store.list()).map((u) => u.name)).toEqual(['an', 'ann']);
    expectSameCredentials((await store.get('ann'))?.credentials, ann);
  });

  it('refuses bad names on add and on changes, storing nothing', async () => {
    for (const name of ['', '.x', '-x', 'a/b', 'a b', 'x'.repeat(33), "x' OR '1'='1", 'ann\u0000']) {
      await expectCode(store.add(name, credentials()), ErrorCode.BAD_USER_NAME);
      await expectCode(store.remove(name), ErrorCode.BAD_USER_NAME);
    }
    expect(await store.list()).toEqual([]);
  });

  it('refuses credentials it cannot keep', async () => {
    const good = credentials();
    await expectCode(store.add('gil', { ...good, iterations: 0 }), ErrorCode.INVALID_ARGUMENT);
    await expectCode(store.add('gil', { ...good, salt: Buffer.alloc(0) }), ErrorCode.INVALID_ARGUMENT);
    await expectCode(store.add('gil', { ...good, storedKey: randomBytes(65) }), ErrorCode.INVALID_ARGUMENT);
    expect(await store.get('gil')).toBeUndefined();
  });

  it('opens an already migrated database again with its users intact', async () => {
    const kept = credentials();
    await store.add('hal', kept);
    for (let i = 0; i < 2; i++) {
      const again = await openUserStore(database.url);
      expectSameCredentials((await again.get('hal'))?.credentials, kept);
      await again.close();
    }
    expect((await store.list()).map((u) => u.name)).toEqual(['hal']);
  });

  it('reports an unreachable server as ERR_DATABASE in one line, naming the host, not the password', async () => {
    // For SQLite, "unreachable" is a folder that cannot exist: its parent is a file.
    const dir = await mkdtemp(path.join(tmpdir(), 'sockit-store-'));
    await writeFile(path.join(dir, 'plain-file'), 'a file, not a folder');
    const target = {
      sqlite: `sqlite:${path.join(dir, 'plain-file', 'x.db')}`,
      mysql: 'mysql://root:hunter2secret@127.0.0.1:1/test',
      postgres: 'postgres://postgres:hunter2secret@127.0.0.1:1/test',
    }[kind];
    try {
      const err = await expectCode(openUserStore(target), ErrorCode.DATABASE);
      expect(err.message).not.toContain('\n');
      expect(err.message).not.toContain('hunter2secret');
      expect(err.message).toContain(kind === 'sqlite' ? path.join(dir, 'plain-file') : '127.0.0.1:1');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.each(DB_KINDS)('user store migrations on %s', (kind: DbKind) => {
  it('adds usage and turns the old "0 = no limit" quotas into unlimited ones', async () => {
    const database = await createTestDatabase(kind);
    try {
      // A database as the first schema left it, with the quotas it could hold.
      const connection = await connect(database.url);
      const db = new Kysely<StoreSchema>({ dialect: connection.dialect });
      try {
        const migrator = new Migrator({
          db,
          provider: migrationProvider(kind),
          migrationTableName: MIGRATION_TABLE,
          migrationLockTableName: MIGRATION_LOCK_TABLE,
        });
        expect((await migrator.migrateTo('0001_create_users')).error).toBeUndefined();
        const c = credentials();
        const row = (name: string, quota: number | null) => ({
          name,
          salt: c.salt,
          iterations: c.iterations,
          stored_key: c.storedKey,
          server_key: c.serverKey,
          quota_bytes: quota,
          created_at: kind === 'sqlite' ? new Date().toISOString() : new Date(),
        });
        await db
          .insertInto('users')
          .values([row('free', 0), row('five', 5), row('dflt', null)])
          .execute();
      } finally {
        await db.destroy();
      }
      const store = await openUserStore(database.url);
      try {
        const quotas = (await store.list()).map((u) => [u.name, u.quotaBytes, u.usageBytes, u.grants]);
        expect(quotas).toEqual([
          ['dflt', null, null, []],
          ['five', 5, null, []],
          ['free', 'unlimited', null, []],
        ]);
      } finally {
        await store.close();
      }
    } finally {
      await database.drop();
    }
  });
});

describe('openUserStore targets', () => {
  it('refuses unknown schemes and malformed URLs as ERR_DATABASE without echoing a password', async () => {
    await expectCode(openUserStore('redis://127.0.0.1:6379'), ErrorCode.DATABASE);
    const err = await expectCode(openUserStore('mysql://root:hunter2secret@[bad/test'), ErrorCode.DATABASE);
    expect(err.message).not.toContain('hunter2secret');
    await expectCode(openUserStore('mariadb://127.0.0.1:3306/'), ErrorCode.DATABASE);
    await expectCode(openUserStore('sqlite:'), ErrorCode.DATABASE);
  });

  it('refuses a wrong MariaDB password without showing it', async () => {
    const err = await expectCode(
      openUserStore('mariadb://sockit_nobody:hunter2secret@127.0.0.1:3306/test'),
      ErrorCode.DATABASE,
    );
    expect(err.message).toContain('MySQL at 127.0.0.1:3306/test');
    expect(err.message).not.toContain('hunter2secret');
  });

  it('answers a SQLite get again without a query while the database has not changed', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sockit-store-'));
    const store = await openUserStore(path.join(dir, 'users.db'));
    const other = await openUserStore(path.join(dir, 'users.db'));
    // better-sqlite3 runs every SELECT through Statement.prototype.all (Kysely's SQLite driver).
    const { default: Database } = await import('better-sqlite3');
    const probe = new Database(':memory:');
    const statement = Object.getPrototypeOf(probe.prepare('select 1')) as { all: () => unknown };
    probe.close();
    const queries = vi.spyOn(statement, 'all');
    try {
      await store.add('lee', credentials());
      await store.get('lee');
      queries.mockClear();
      for (let i = 0; i < 20; i++) expect((await store.get('lee'))?.name).toBe('lee');
      expect(queries).not.toHaveBeenCalled();
      await other.setQuota('lee', 77);
      expect((await store.get('lee'))?.quotaBytes).toBe(77);
      expect(queries).toHaveBeenCalledTimes(1);
    } finally {
      queries.mockRestore();
      await store.close();
      await other.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('creates the folder of a plain SQLite path, the default under a data directory', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sockit-store-'));
    try {
      const file = defaultDatabase(path.join(dir, 'data', 'nested'));
      expect(file).toBe(path.join(dir, 'data', 'nested', 'sockit.db'));
      const store = await openUserStore(file);
      await store.add('ivy', credentials());
      await store.close();
      const again = await openUserStore(`sqlite:${file}`);
      expect((await again.list()).map((u) => u.name)).toEqual(['ivy']);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
