/**
 * `sockit users`, run as the built command against a SQLite file (the store suite covers
 * MariaDB and PostgreSQL). Every change is checked in the database itself, and every
 * password is checked by deriving its keys again.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveCredentials } from '../../src/auth/scram.js';
import { openUserStore, type UserRecord } from '../../src/auth/store.js';
import { ExitStatus } from '../../src/cli/exit-status.js';
import { CLI, type RunResult, requireTools, sockit } from '../helpers.js';

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'tr0ub4dor&3 but longer';

let dir: string;
let dataDir: string;

beforeAll(async () => {
  requireTools();
  dir = await mkdtemp(path.join(tmpdir(), 'sockit-users-'));
  dataDir = path.join(dir, 'data');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The environment without SOCKIT_PASSWORD or SOCKIT_DB, plus `extra`. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { SOCKIT_PASSWORD: _p, SOCKIT_DB: _d, ...rest } = process.env;
  return { ...rest, ...extra };
}

/** Runs `sockit users ARGS --data-dir DIR` with `password` in SOCKIT_PASSWORD (`null`: none). */
function users(args: string[], password: string | null = PASSWORD): Promise<RunResult> {
  return sockit(['users', ...args, '--data-dir', dataDir], {
    env: env(password === null ? {} : { SOCKIT_PASSWORD: password }),
  });
}

/** The line every users command prints on stderr: the database it used. */
function databaseLine(file: string = path.join(dataDir, 'sockit.db')): string {
  return `database: SQLite file ${file}\n`;
}

function ok(result: RunResult): string {
  expect(result.stderr).toBe(databaseLine());
  expect(result.code).toBe(0);
  const out = result.stdout.toString();
  expect(out).not.toContain(PASSWORD);
  expect(out).not.toContain(NEW_PASSWORD);
  return out;
}

/** A failure: the status of its kind and one line naming the code, with no stack trace. */
function failed(result: RunResult, code: string, status: ExitStatus): string {
  expect(result.code).toBe(status);
  const lines = result.stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('database: '));
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^sockit: /);
  expect(lines[0]).toContain(`[${code}]`);
  expect(result.stderr).not.toContain(PASSWORD);
  return lines[0] as string;
}

async function stored(name: string): Promise<UserRecord | undefined> {
  const store = await openUserStore(path.join(dataDir, 'sockit.db'));
  try {
    return await store.get(name);
  } finally {
    await store.close();
  }
}

/** True when `password` derives exactly the stored keys. */
async function proves(user: UserRecord | undefined, password: string): Promise<boolean> {
  if (user === undefined) return false;
  const { salt, iterations, storedKey, serverKey } = user.credentials;
  const again = await deriveCredentials(password, { salt, iterations });
  return again.storedKey.equals(storedKey) && again.serverKey.equals(serverKey);
}

describe('sockit users (SQLite)', () => {
  it('adds a user from SOCKIT_PASSWORD into DATA-DIR/sockit.db, keeping only derived keys', async () => {
    expect(ok(await users(['add', 'ann', '--iterations', '4096']))).toBe('added user ann\n');
    expect(existsSync(path.join(dataDir, 'sockit.db'))).toBe(true);
    const ann = await stored('ann');
    expect(ann?.credentials.iterations).toBe(4096);
    expect(ann?.quotaBytes).toBeNull();
    expect(await proves(ann, PASSWORD)).toBe(true);
    expect(await proves(ann, NEW_PASSWORD)).toBe(false);
  });

  it('adds a user with a quota', async () => {
    ok(await users(['add', 'bob', '--iterations', '4096', '--quota', '5GiB']));
    expect((await stored('bob'))?.quotaBytes).toBe(5 * 1024 ** 3);
  });

  it('lists users as text and as JSON, without secrets', async () => {
    const text = ok(await users(['list']));
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+QUOTA\s+USED\s+CREATED\s+GRANTS$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([
      ['ann', 'default'],
      ['bob', '5.0'],
    ]);
    // USED is '-' until the file service first counts the user's bytes.
    expect(lines[2]).toMatch(/^bob\s+5\.0 GiB\s+-\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+-$/);

    const json = JSON.parse(ok(await users(['list', '--json']))) as Array<Record<string, unknown>>;
    expect(json.map((u) => Object.keys(u).sort())).toEqual([
      ['createdAt', 'grants', 'name', 'quotaBytes', 'usageBytes'],
      ['createdAt', 'grants', 'name', 'quotaBytes', 'usageBytes'],
    ]);
    expect(json.map((u) => [u.name, u.quotaBytes])).toEqual([
      ['ann', null],
      ['bob', 5 * 1024 ** 3],
    ]);
    const ann = await stored('ann');
    expect(json[0]?.createdAt).toBe(ann?.createdAt.toISOString());
    const salt = ann?.credentials.salt as Buffer;
    for (const output of [text, JSON.stringify(json)]) {
      expect(output).not.toContain(salt.toString('hex'));
      expect(output).not.toContain(salt.toString('base64'));
    }
  });

  it('changes a password: the new one proves, the old one no longer does', async () => {
    expect(ok(await users(['passwd', 'ann', '--iterations', '5000'], NEW_PASSWORD))).toBe(
      'changed the password of ann\n',
    );
    const ann = await stored('ann');
    expect(ann?.credentials.iterations).toBe(5000);
    expect(await proves(ann, NEW_PASSWORD)).toBe(true);
    expect(await proves(ann, PASSWORD)).toBe(false);
  });

  it('sets a quota of bytes, of none at all, unlimited, and back to the default, saying which applies', async () => {
    expect(ok(await users(['quota', 'ann', '1GiB']))).toBe('quota of ann: 1.0 GiB\n');
    expect((await stored('ann'))?.quotaBytes).toBe(1024 ** 3);
    expect(ok(await users(['quota', 'ann', '0']))).toBe('quota of ann: 0 B (nothing may be stored)\n');
    expect((await stored('ann'))?.quotaBytes).toBe(0);
    expect(ok(await users(['quota', 'ann', 'unlimited']))).toBe('quota of ann: unlimited\n');
    expect((await stored('ann'))?.quotaBytes).toBe('unlimited');
    const text = ok(await users(['list']));
    expect(text).toMatch(/^ann\s+unlimited\s/m);
    const json = JSON.parse(ok(await users(['list', '--json']))) as Array<Record<string, unknown>>;
    expect(json.find((u) => u.name === 'ann')?.quotaBytes).toBe('unlimited');
    expect(ok(await users(['quota', 'ann', 'default']))).toBe("quota of ann: the server's default\n");
    expect((await stored('ann'))?.quotaBytes).toBeNull();
  });

  it("refuses 'none' as a user's quota: it used to mean the default, and reads as unlimited", async () => {
    await users(['quota', 'ann', '5GiB']);
    const none = await users(['quota', 'ann', 'none']);
    expect(none.code).not.toBe(0);
    expect((await stored('ann'))?.quotaBytes).toBe(5 * 1024 ** 3);
    await users(['quota', 'ann', 'default']);
  });

  it('takes the database from --db, as sqlite:PATH', async () => {
    const other = path.join(dir, 'other', 'users.db');
    const added = await sockit(['users', 'add', 'cy', '--iterations', '4096', '--db', `sqlite:${other}`], {
      env: env({ SOCKIT_PASSWORD: PASSWORD, SOCKIT_DATA_DIR: dataDir }),
    });
    expect(added.code, added.stderr).toBe(0);
    expect(added.stderr).toBe(databaseLine(other));
    const store = await openUserStore(other);
    expect((await store.list()).map((u) => u.name)).toEqual(['cy']);
    await store.close();
    expect(await stored('cy')).toBeUndefined();
  });

  it('removes a user', async () => {
    expect(ok(await users(['remove', 'bob']))).toBe('removed user bob\n');
    expect(await stored('bob')).toBeUndefined();
    const names = (JSON.parse(ok(await users(['list', '--json']))) as Array<{ name: string }>).map(
      (u) => u.name,
    );
    expect(names).toEqual(['ann']);
  });

  it('with -q, add, passwd, quota and remove print nothing and do their work; list prints only the list', async () => {
    const silent = (result: RunResult): void => {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toBe('');
      expect(result.stdout.toString()).toBe('');
    };
    silent(await users(['add', 'dee', '--iterations', '4096', '-q']));
    expect(await proves(await stored('dee'), PASSWORD)).toBe(true);
    silent(await users(['passwd', 'dee', '--iterations', '4096', '--quiet'], NEW_PASSWORD));
    expect(await proves(await stored('dee'), NEW_PASSWORD)).toBe(true);
    silent(await users(['quota', 'dee', '1GiB', '-q']));
    expect((await stored('dee'))?.quotaBytes).toBe(1024 ** 3);
    const list = await users(['list', '--json', '-q']);
    expect(list.stderr).toBe('');
    expect((JSON.parse(list.stdout.toString()) as Array<{ name: string }>).map((u) => u.name)).toContain(
      'dee',
    );
    silent(await users(['remove', 'dee', '-q']));
    expect(await stored('dee')).toBeUndefined();
    // A failure still says so.
    failed(await users(['remove', 'dee', '-q']), 'ERR_USER_NOT_FOUND', ExitStatus.NOT_FOUND);
  });

  it('adds an admin, grants and revokes, and refuses a grant that does not exist', async () => {
    expect(ok(await users(['add', 'ada', '--iterations', '4096', '--admin']))).toBe(
      'added user ada (admin)\n',
    );
    expect((await stored('ada'))?.grants).toEqual(['admin']);
    expect(ok(await users(['grant', 'ada', 'exec', 'admin']))).toBe('grants of ada: admin, exec\n');
    expect(ok(await users(['revoke', 'ada', 'admin']))).toBe('grants of ada: exec\n');
    expect(ok(await users(['revoke', 'ada', 'exec']))).toBe('grants of ada: none\n');
    const list = JSON.parse(ok(await users(['list', '--json']))) as Array<{ name: string; grants: string[] }>;
    expect(list.find((u) => u.name === 'ada')?.grants).toEqual([]);
    const bad = await users(['grant', 'ada', 'root']);
    expect(bad.code).toBe(ExitStatus.USAGE);
    expect(bad.stderr).toMatch(/expected admin or exec.*\[ERR_USAGE\]/);
    failed(await users(['grant', 'nobody', 'admin']), 'ERR_USER_NOT_FOUND', ExitStatus.NOT_FOUND);
    ok(await users(['remove', 'ada']));
  });

  it('refuses a duplicate add before asking for a password, and keeps the first', async () => {
    const before = await stored('ann');
    failed(await users(['add', 'ann', '--iterations', '4096'], null), 'ERR_USER_EXISTS', ExitStatus.REFUSED);
    expect((await stored('ann'))?.credentials.storedKey).toEqual(before?.credentials.storedKey);
  });

  it('refuses to remove, re-key or set the quota of an unknown user', async () => {
    failed(await users(['remove', 'nobody']), 'ERR_USER_NOT_FOUND', ExitStatus.NOT_FOUND);
    failed(
      await users(['passwd', 'nobody', '--iterations', '4096']),
      'ERR_USER_NOT_FOUND',
      ExitStatus.NOT_FOUND,
    );
    failed(await users(['quota', 'nobody', '1GiB']), 'ERR_USER_NOT_FOUND', ExitStatus.NOT_FOUND);
  });

  it('refuses a bad name', async () => {
    for (const name of ['../etc', '.hidden', 'a b', 'x'.repeat(33)]) {
      failed(await users(['add', name, '--iterations', '4096']), 'ERR_BAD_USER_NAME', ExitStatus.USAGE);
    }
    expect(await stored('.hidden')).toBeUndefined();
  });

  it('fails without a password when there is no terminal to ask on', async () => {
    failed(await users(['add', 'dee', '--iterations', '4096'], null), 'ERR_NO_PASSWORD', ExitStatus.AUTH);
    expect(await stored('dee')).toBeUndefined();
  });

  it('refuses too few iterations and a bad quota', async () => {
    const few = await users(['add', 'dee', '--iterations', '1000']);
    expect(few.code).not.toBe(0);
    expect(few.stderr).toContain('4096');
    const quota = await users(['quota', 'ann', 'lots']);
    expect(quota.code).not.toBe(0);
    expect(await stored('dee')).toBeUndefined();
  });

  it('reports an unreachable database in one line without its password', async () => {
    const result = await users(['list', '--db', 'postgres://sockit:hunter2secret@127.0.0.1:1/sockit']);
    const line = failed(result, 'ERR_DATABASE', ExitStatus.FAILURE);
    expect(line).toContain('127.0.0.1:1');
    expect(line).not.toContain('hunter2secret');
  });

  it('explains where the password and the database come from in --help', async () => {
    const shown = await users(['add', '--help']);
    expect(shown.code).toBe(0);
    const help = shown.stdout.toString();
    expect(help).toContain('SOCKIT_DATA_DIR');
    expect(help).toContain('SOCKIT_PASSWORD');
    expect(help).toContain('--iterations');
    for (const form of ['sqlite:PATH', 'mysql://', 'mariadb://', 'postgres://']) expect(help).toContain(form);
  });

  it('names the database of a URL without its password', async () => {
    const result = await users(['list', '--db', 'postgres://sockit:hunter2secret@127.0.0.1:1/sockit']);
    expect(result.stderr.split('\n')[0]).toBe('database: postgres://sockit@127.0.0.1:1/sockit');
  });
});

describe('sockit users: the default data folder', () => {
  /** Runs `sockit users ARGS` in `cwd` with HOME and the data variables as given, nothing else of ours. */
  function usersIn(cwd: string, args: string[], vars: Record<string, string>) {
    const {
      SOCKIT_PASSWORD: _p,
      SOCKIT_DB: _d,
      SOCKIT_DATA_DIR: _s,
      XDG_DATA_HOME: _x,
      ...rest
    } = process.env;
    return spawnSync(process.execPath, [CLI, 'users', ...args], {
      cwd,
      env: { ...rest, ...vars },
      encoding: 'utf8',
      timeout: 20_000,
    });
  }

  it('is one per-user folder (XDG), not the working folder, and every command says which database', () => {
    const home = path.join(dir, 'home');
    const here = path.join(dir, 'somewhere');
    const elsewhere = path.join(dir, 'elsewhere');
    for (const d of [home, here, elsewhere]) mkdirSync(d, { recursive: true });
    const expected = path.join(home, '.local', 'share', 'sockit', 'sockit.db');

    const listed = usersIn(here, ['list'], { HOME: home });
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stderr).toBe(`database: SQLite file ${expected}\n`);
    expect(readdirSync(here)).toEqual([]);

    const added = usersIn(here, ['add', 'eve', '--iterations', '4096'], {
      HOME: home,
      SOCKIT_PASSWORD: PASSWORD,
    });
    expect(added.status, added.stderr).toBe(0);
    // Another folder finds the same account.
    const found = usersIn(elsewhere, ['list', '--json'], { HOME: home });
    expect((JSON.parse(found.stdout) as Array<{ name: string }>).map((u) => u.name)).toEqual(['eve']);
    expect(readdirSync(here)).toEqual([]);
    expect(readdirSync(elsewhere)).toEqual([]);

    const xdg = path.join(dir, 'xdg');
    const viaXdg = usersIn(here, ['list'], { HOME: home, XDG_DATA_HOME: xdg });
    expect(viaXdg.stderr).toBe(`database: SQLite file ${path.join(xdg, 'sockit', 'sockit.db')}\n`);
    const own = path.join(dir, 'own');
    const viaEnv = usersIn(here, ['list'], { HOME: home, XDG_DATA_HOME: xdg, SOCKIT_DATA_DIR: own });
    expect(viaEnv.stderr).toBe(`database: SQLite file ${path.join(own, 'sockit.db')}\n`);
    const flag = path.join(dir, 'flag');
    const viaFlag = usersIn(here, ['list', '--data-dir', flag], { HOME: home, SOCKIT_DATA_DIR: own });
    expect(viaFlag.stderr).toBe(`database: SQLite file ${path.join(flag, 'sockit.db')}\n`);
    // A relative --data-dir is the working folder's, resolved once.
    const relative = usersIn(here, ['list', '--data-dir', 'rel'], { HOME: home });
    expect(relative.stderr).toBe(`database: SQLite file ${path.join(here, 'rel', 'sockit.db')}\n`);
    expect(readdirSync(here)).toEqual(['rel']);
  });
});
