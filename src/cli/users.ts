/** `sockit users`: add, change, list and remove the accounts that log in to sockit services. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { defaultDatabase } from '../auth/connect.js';
import { GRANTS, type Grant, isGrant } from '../auth/grants.js';
import { checkUserName } from '../auth/names.js';
import { deriveCredentials } from '../auth/scram.js';
import type { Quota, UserRecord, UserStore } from '../auth/store.js';
import { ErrorCode, SockitError } from '../errors.js';
import { iterationsOption } from './args.js';
import { dataDirOption, describeDatabase } from './data-dir.js';
import { type OutputFlags, outputOptions, printResult } from './output.js';
import { readPassword } from './password.js';
import { formatBytes } from './progress.js';
import { describeQuota, parseUserQuota } from './quota.js';

interface StoreFlags extends OutputFlags {
  db?: string;
  dataDir: string;
}

interface AddFlags extends StoreFlags {
  iterations: number;
  quota?: Quota | null;
  admin?: boolean;
}

interface PasswdFlags extends StoreFlags {
  iterations: number;
}

interface ListFlags extends StoreFlags {
  json?: boolean;
}

const PASSWORD_HELP = `
The password is read from the environment variable SOCKIT_PASSWORD when it is set
(for scripts), otherwise asked for twice on the terminal without echo. With neither,
the command fails with ERR_NO_PASSWORD. Only SCRAM-SHA-256 keys derived from it are
stored (PBKDF2-HMAC-SHA256 with a random salt), never the password itself.`;

const DB_HELP = `
The user database (--db, or the environment variable SOCKIT_DB):
  (none)                                     SQLite file DATA-DIR/sockit.db (the default)
  sqlite:PATH, or a plain PATH               a SQLite file (its folder is created)
  mysql://USER[:PASSWORD]@HOST[:PORT]/DB     MySQL or MariaDB (also mariadb://)
  postgres://USER[:PASSWORD]@HOST[:PORT]/DB  PostgreSQL (also postgresql://)
Tables are created or upgraded when the database is opened. A password in --db is
visible to other local users in the process list; prefer SOCKIT_DB for it.
DATA-DIR is --data-dir, else SOCKIT_DATA_DIR, else $XDG_DATA_HOME/sockit, else
~/.local/share/sockit: the same folder from any working folder. Every users command
says on stderr which database it used ("database: ..."), unless -q.`;

/**
 * The `users` command group.
 *
 * @example
 * ```ts
 * new Command('sockit').addCommand(usersCommand());
 * // sockit users add ann --quota 5GiB
 * ```
 */
export function usersCommand(): Command {
  const users = new Command('users')
    .description('manage the accounts that log in to sockit services')
    .addHelpText('after', `${DB_HELP}\n${PASSWORD_HELP}`)
    .addHelpText(
      'after',
      `
Examples:
  sockit users add ann --quota 5GiB
  sockit users add root-ann --admin
  sockit users grant ann exec
  sockit users list`,
    );

  withStore(users.command('add'))
    .description('add a user; the password is asked for (or taken from SOCKIT_PASSWORD)')
    .argument('<name>', "1-32 characters of A-Z a-z 0-9 _ . -, not starting with '.' or '-'")
    .addOption(iterationsOption())
    .option(
      '--quota <bytes>',
      "this user's quota: a size such as 5GiB, 0 (nothing may be stored), 'unlimited' or 'default'",
      parseUserQuota,
    )
    .option(
      '--admin',
      "an admin: the dashboard's admin view, operator of every chat room (sockit users grant NAME admin)",
    )
    .addHelpText(
      'after',
      `${PASSWORD_HELP}\n\nExamples:\n  sockit users add ann --quota 5GiB\n  sockit users add root-ann --admin\n  SOCKIT_PASSWORD=... sockit users add build-bot --db postgres://sockit@db/sockit`,
    )
    .action(async (name: string, flags: AddFlags) => {
      checkUserName(name);
      await withUserStore(flags, async (store) => {
        // Checked before asking for a password, so nobody types one in vain; add() still
        // refuses a name taken meanwhile.
        if ((await store.get(name)) !== undefined) {
          throw new SockitError(ErrorCode.USER_EXISTS, `user ${name} already exists`);
        }
        const credentials = await newCredentials(name, flags.iterations);
        await store.add(name, credentials, {
          quotaBytes: flags.quota ?? null,
          grants: flags.admin ? ['admin'] : [],
        });
        confirm(flags, `added user ${name}${flags.admin ? ' (admin)' : ''}`);
      });
    });

  withStore(users.command('passwd'))
    .description("set a user's password; the password is asked for (or taken from SOCKIT_PASSWORD)")
    .argument('<name>', 'an existing user')
    .addOption(iterationsOption())
    .addHelpText(
      'after',
      `${PASSWORD_HELP}\n\nExamples:\n  sockit users passwd ann\n  SOCKIT_PASSWORD=... sockit users passwd build-bot`,
    )
    .action(async (name: string, flags: PasswdFlags) => {
      await withUserStore(flags, async (store) => {
        if ((await store.get(name)) === undefined) {
          throw new SockitError(ErrorCode.USER_NOT_FOUND, `no user named ${name}`);
        }
        await store.setCredentials(name, await newCredentials(name, flags.iterations));
        confirm(flags, `changed the password of ${name}`);
      });
    });

  withStore(users.command('remove'))
    .description('delete a user (their files, if any, stay where they are)')
    .argument('<name>', 'an existing user')
    .addHelpText(
      'after',
      '\nExamples:\n  sockit users remove ann\n  sockit users remove ann --db postgres://sockit@db/sockit',
    )
    .action(async (name: string, flags: StoreFlags) => {
      await withUserStore(flags, async (store) => {
        await store.remove(name);
        confirm(flags, `removed user ${name}`);
      });
    });

  withStore(users.command('list'))
    .description('list users: name, quota, bytes used, created, grants (never keys or salts)')
    .option(
      '--json',
      "print a JSON array of {name, quotaBytes (bytes, 'unlimited' or null: the server's), usageBytes, createdAt, grants}",
    )
    .addHelpText('after', '\nExamples:\n  sockit users list\n  sockit users list --json')
    .action(async (flags: ListFlags) => {
      await withUserStore(flags, async (store) => {
        const all = await store.list();
        printResult(flags, all.map(publicFields), () => formatList(all));
      });
    });

  withStore(users.command('quota'))
    .description("set a user's quota: a size, 0, 'unlimited', or 'default' for the server's")
    .argument('<name>', 'an existing user')
    .argument(
      '<bytes>',
      "a size such as 500MiB or 5GiB; 0: nothing may be stored; 'unlimited'; 'default': the server's --quota",
      parseUserQuota,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  sockit users quota ann 10GiB\n  sockit users quota ann unlimited\n  sockit users quota ann default',
    )
    .action(async (name: string, quotaBytes: Quota | null, flags: StoreFlags) => {
      await withUserStore(flags, async (store) => {
        await store.setQuota(name, quotaBytes);
        confirm(flags, `quota of ${name}: ${describeQuota(quotaBytes)}`);
      });
    });

  for (const [verb, gives] of [
    ['grant', true],
    ['revoke', false],
  ] as const) {
    withStore(users.command(verb))
      .description(
        gives
          ? `let a user do more: ${GRANTS.join(', ')} (admin: the dashboard's admin view and every chat room; exec: sockit exec serve)`
          : 'take grants back from a user',
      )
      .argument('<name>', 'an existing user')
      .argument('<grant...>', GRANTS.join(' or '), (value: string, list: Grant[] | undefined) => [
        ...(list ?? []),
        parseGrant(value),
      ])
      .addHelpText(
        'after',
        `\nExamples:\n  sockit users ${verb} ann admin\n  sockit users ${verb} build-bot exec`,
      )
      .action(async (name: string, grants: Grant[], flags: StoreFlags) => {
        await withUserStore(flags, async (store) => {
          const user = await store.get(name);
          if (user === undefined) throw new SockitError(ErrorCode.USER_NOT_FOUND, `no user named ${name}`);
          const next = gives ? [...user.grants, ...grants] : user.grants.filter((g) => !grants.includes(g));
          await store.setGrants(name, next);
          const now = (await store.get(name))?.grants ?? [];
          confirm(flags, `grants of ${name}: ${now.length === 0 ? 'none' : now.join(', ')}`);
        });
      });
  }

  return users;
}

function parseGrant(value: string): Grant {
  if (isGrant(value)) return value;
  throw new InvalidArgumentError(`expected ${GRANTS.join(' or ')}`);
}

function withStore(command: Command): Command {
  outputOptions(command, { quiet: 'no database line on stderr, no confirmation on stdout' });
  return command
    .addOption(
      new Option(
        '--db <url>',
        'user database URL or SQLite path (see below; default: DATA-DIR/sockit.db)',
      ).env('SOCKIT_DB'),
    )
    .addOption(dataDirOption('where sockit keeps its data, as for sockit serve'))
    .addHelpText('after', DB_HELP);
}

async function withUserStore(flags: StoreFlags, use: (store: UserStore) => Promise<void>): Promise<void> {
  const { openUserStore } = await import('../auth/store.js');
  const target = flags.db ?? defaultDatabase(flags.dataDir);
  // Which database, every time: a second one made by mistake (another --data-dir, another
  // SOCKIT_DB) is otherwise found only when a log-in fails. Never the password of a URL.
  if (!flags.quiet) process.stderr.write(`database: ${describeDatabase(target)}\n`);
  const store = await openUserStore(target);
  try {
    await use(store);
  } finally {
    await store.close();
  }
}

async function newCredentials(name: string, iterations: number) {
  const password = await readPassword({ prompt: `Password for ${name}: `, confirm: true });
  return deriveCredentials(password, { iterations });
}

/** A change done: one line on stdout, none with -q. */
function confirm(flags: OutputFlags, line: string): void {
  if (!flags.quiet) process.stdout.write(`${line}\n`);
}

function publicFields(user: UserRecord) {
  return {
    name: user.name,
    quotaBytes: user.quotaBytes,
    usageBytes: user.usageBytes,
    createdAt: user.createdAt.toISOString(),
    grants: user.grants,
  };
}

/** A quota in a table cell: short, but 0 still says what it means. */
function quotaCell(quota: Quota | null): string {
  if (quota === null) return 'default';
  return quota === 0 ? '0 B (none allowed)' : describeQuota(quota);
}

function formatList(all: UserRecord[]): string {
  if (all.length === 0) return 'no users\n';
  const rows = all.map((u) => [
    u.name,
    quotaCell(u.quotaBytes),
    // Counted by the file service at a user's first upload under a quota.
    u.usageBytes === null ? '-' : formatBytes(u.usageBytes),
    u.createdAt
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, 'Z'),
    u.grants.length === 0 ? '-' : u.grants.join(','),
  ]);
  const header = ['NAME', 'QUOTA', 'USED', 'CREATED', 'GRANTS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return `${[header, ...rows].map(line).join('\n')}\n`;
}
