/**
 * The user's own folders that several commands share, kept free of commander and of the
 * error classes: the entry point (main.cjs) takes its code cache folder from here.
 */
import { lstatSync, mkdirSync, type Stats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The user's cache folder for sockit: $SOCKIT_CACHE_DIR, else $XDG_CACHE_HOME/sockit, else ~/.cache/sockit. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env, home?: string): string {
  if (env.SOCKIT_CACHE_DIR) return env.SOCKIT_CACHE_DIR;
  const xdg = env.XDG_CACHE_HOME;
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(home ?? homeDir(), '.cache'), 'sockit');
}

/**
 * os.homedir(), which is $HOME whenever HOME is set (libuv's uv_os_homedir), without loading
 * node:os for it: that module costs every command half a millisecond at start.
 */
export function homeDir(): string {
  return process.env.HOME ?? os.homedir();
}

/**
 * Whether `dir` is this user's own folder that no one else may enter, as ssh checks ~/.ssh:
 * `mine`, `missing` (only without `create`), or `not-private` (another user's, open to
 * others, or not a folder: a link is not followed). With `create` it is made, mode 0700,
 * when missing; other failures to make or examine it are thrown.
 */
export function privateFolder(dir: string, create: boolean): 'mine' | 'missing' | 'not-private' {
  // Examined first: a folder that is there (the usual case) costs one system call.
  let st = lstatSync(dir, { throwIfNoEntry: false });
  if (st === undefined) {
    if (!create) return 'missing';
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    st = lstatSync(dir);
  }
  return isPrivate(st) ? 'mine' : 'not-private';
}

/**
 * Whether `st` (from lstat) is a folder of the effective user's (the one whose rights the
 * process has) that no one else may enter: privateFolder's test of a folder that is there.
 */
export function isPrivate(st: Stats): boolean {
  const uid = process.geteuid?.();
  return st.isDirectory() && (uid === undefined || st.uid === uid) && (st.mode & 0o077) === 0;
}

/**
 * Whether no other user can change what `dir` names: every folder on the path, from /,
 * belongs to this user or to root, and one that others may write to has the sticky bit (as
 * /tmp: others may add entries there, not move or remove this user's), except `dir` itself;
 * a link on the path must belong to this user or to root too. This is the check ssh makes of
 * the folders above ~/.ssh: whoever may write to a folder above could otherwise put another
 * folder, or a link, in place of one below between a check and its use. Call it on the path
 * as given and on its realpath: a link's target is checked on the second.
 */
export function safePath(dir: string): boolean {
  return checkPath(dir).safe;
}

/** What checkPath found. */
export interface PathCheck {
  /** As safePath answers. */
  safe: boolean;
  /** The path itself is not there (nothing else was examined). */
  missing: boolean;
  /**
   * Safe, and no link on the path: its real path is the path itself, normalized (no `.`,
   * `..`, double or trailing slash), and `self` and `parent` describe the folders it names.
   */
  linkFree: boolean;
  /** lstat of the path itself, when safe. */
  self?: Stats;
  /** lstat of the folder above it, when safe (undefined at /). */
  parent?: Stats;
}

/**
 * safePath's walk from `dir` up to /, with what it saw on the way: the lstat of `dir` and
 * of its parent, and whether any step was a link. A caller that needs the real path, and
 * then whether that folder and the one above it are private, has its answer here when the
 * path has no link (code-cache.ts: five system calls at start instead of twelve).
 */
export function checkPath(dir: string): PathCheck {
  const unsafe = { safe: false, missing: false, linkFree: false };
  const uid = process.geteuid?.();
  if (uid === undefined || !path.isAbsolute(dir)) return unsafe;
  // As path.resolve makes it (no trailing slash, which would follow a last link), without
  // resolve's cost at start-up (0.2 ms): the path is absolute.
  const normal = path.normalize(dir);
  const last = normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
  const seen: Stats[] = [];
  let linkFree = true;
  let at = last;
  for (;;) {
    let st: Stats | undefined;
    try {
      st = lstatSync(at, { throwIfNoEntry: false });
    } catch (err) {
      // A file where a folder should be (ENOTDIR): no such path, and not one to make.
      if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return unsafe;
      throw err;
    }
    if (st === undefined) return { ...unsafe, missing: at === last };
    if (st.uid !== uid && st.uid !== 0) return unsafe;
    if (st.isSymbolicLink()) {
      linkFree = false;
    } else {
      if (!st.isDirectory()) return unsafe;
      if ((st.mode & 0o022) !== 0 && ((st.mode & 0o1000) === 0 || at === last)) return unsafe;
    }
    if (seen.length < 2) seen.push(st);
    const up = path.dirname(at);
    if (up === at) return { safe: true, missing: false, linkFree, self: seen[0], parent: seen[1] };
    at = up;
  }
}
