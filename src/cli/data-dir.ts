/**
 * Where sockit keeps its data when no `--data-dir` is given: one folder per user, so that
 * `sockit users add` and `sockit serve` find the same accounts from any working folder.
 */
import path from 'node:path';
import { Option } from 'commander';
import type { Logger } from '../runtime/log.js';
import { homeDir } from './user-dirs.js';

/**
 * The per-user data folder: `$SOCKIT_DATA_DIR`, else `$XDG_DATA_HOME/sockit` (an absolute
 * `XDG_DATA_HOME` only, as the XDG Base Directory specification requires), else
 * `~/.local/share/sockit`.
 *
 * @example
 * ```ts
 * defaultDataDir({ XDG_DATA_HOME: '/data' }, '/home/ann'); // '/data/sockit'
 * defaultDataDir({}, '/home/ann'); // '/home/ann/.local/share/sockit'
 * ```
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, home: string = homeDir()): string {
  const own = env.SOCKIT_DATA_DIR;
  if (own) return path.resolve(own);
  const xdg = env.XDG_DATA_HOME;
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'sockit');
  return path.join(home, '.local', 'share', 'sockit');
}

/**
 * The `--data-dir` option every command that keeps data shares. `SOCKIT_DATA_DIR` is read
 * when the command runs (commander's `.env()`), the XDG default when the option is built.
 *
 * @example
 * ```ts
 * new Command('serve').addOption(dataDirOption('where services keep their files'));
 * ```
 */
export function dataDirOption(description: string): Option {
  const xdg = defaultDataDir({ ...process.env, SOCKIT_DATA_DIR: undefined });
  return new Option('--data-dir <dir>', description)
    .default(xdg, xdg.replace(homeDir(), '~'))
    .argParser((dir: string) => path.resolve(dir))
    .env('SOCKIT_DATA_DIR');
}

/**
 * `--db URL` (or `SOCKIT_DB`): the database of a server command; `holds` says what it keeps.
 *
 * @example
 * ```ts
 * new Command('serve').addOption(databaseOption('accounts'));
 * ```
 */
export function databaseOption(holds: string): Option {
  return new Option(
    '--db <url>',
    `${holds}: mysql://, mariadb://, postgres:// or sqlite:FILE (default: DATA-DIR/sockit.db)`,
  ).env('SOCKIT_DB');
}

/**
 * A database target for a message: the absolute SQLite file, or a URL without its password.
 *
 * @example
 * ```ts
 * describeDatabase('postgres://ann:secret@db/sockit'); // 'postgres://ann@db/sockit'
 * ```
 */
export function describeDatabase(target: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(target)?.[1];
  if (scheme === undefined) {
    const file = target.startsWith('sqlite:') ? target.slice('sqlite:'.length) : target;
    return `SQLite file ${path.resolve(file)}`;
  }
  try {
    const url = new URL(target);
    url.password = '';
    url.search = '';
    return url.toString();
  } catch {
    return `a ${scheme}:// URL`;
  }
}

/** With --redis, a word when the history is a SQLite file, which other hosts' nodes cannot share. */
export function warnIfHistoryLocal(database: string, redis: string | undefined, log: Logger): void {
  if (redis !== undefined && !/^(postgres|postgresql|mysql|mariadb):/i.test(database)) {
    log.warn(
      { database },
      'history is in a SQLite file: only servers on this host that use the same file share it; give every node one --db',
    );
  }
}
