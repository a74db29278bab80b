/**
 * Loads a command's CommonJS bundle (dist/cli/one/NAME.cjs) with a V8 code cache made after
 * the command has run, so that it holds the compiled code of every function that run called.
 *
 * Node's own compile cache (module.enableCompileCache) is made when a file is compiled,
 * before it runs: it holds the top-level code only, and every function a command then calls
 * (commander's parsing, the command's own work) is compiled again on each run. For `sockit
 * ports` and `sockit ip` that compiling is 3-4 ms of a ~20 ms overhead over `node -e 0`.
 *
 * A code cache is code that runs: V8 accepts a cache made from any source of the same length
 * and runs its code in place of the source's. So the cache is used only from a folder no one
 * else can change (codeCacheDir), and a cache file only when it is a plain file of this
 * user's that no one else may read or write, opened without following a link. Within that,
 * a bundle's cache is named after its path, inode, size, modification and change times and
 * Node's version, so a rebuilt bundle never meets an old cache; V8 checks its own version and
 * flags and rejects a cache that does not fit, and a header of ours holds the length of what
 * follows (a cut or padded file is not used) and the build id of the bundle it was made from
 * (bundle-file.ts's buildId: another build's bundle never meets it, whatever its times). A rejected or missing cache is written anew
 * when the command exits (synced, under a temporary name, then renamed). What the first run
 * called is what the cache holds: a later run that goes further (`ports` after `ports
 * --help`) compiles the rest as it would without one. NODE_DISABLE_COMPILE_CACHE (not empty)
 * turns it off, as it does Node's.
 *
 * The build makes the caches of the commands that must start fastest (`--version`, `ip`,
 * `ports`) and keeps them beside their bundles (builtCachePath): those need no cache folder,
 * whose checks cost ~0.6 ms a run, and their first run is as quick as the next.
 *
 * Not detected: bytes changed inside the cache later (a failing disk). V8 does not checksum a
 * cache in release builds, and a checksum here costs what the cache saves (Node's zlib or
 * crypto take 3-5 ms to load; a JavaScript loop over 130 KB, 2 ms). Removing the folder (for
 * the build's caches, building again), or NODE_DISABLE_COMPILE_CACHE=1, is the remedy.
 */

import {
  closeSync,
  constants,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  realpathSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { Script } from 'node:vm';
import { builtCache, cacheHeader, readBundle, readCache, runBundle } from './bundle-file.js';
import { cacheDir, checkPath, isPrivate, privateFolder, safePath } from './user-dirs.js';

/** A temporary file older than this is a dead run's: removed with the old caches. */
const STALE_TEMPORARY_MS = 10 * 60_000;

/**
 * code/ of the cache folder (see cacheDir), made mode 0700 where missing (with the cache
 * folder, and the folder above it, not further), by its real path, when it and the cache
 * folder are this user's own and closed to others and no other user can change any folder
 * or link on the way to them, as given or resolved (safePath); otherwise undefined: no cache.
 */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  // Run with another user's rights (setuid), the folder named by the caller's environment is
  // not to be trusted at all.
  if (process.getuid?.() !== process.geteuid?.() || process.getgid?.() !== process.getegid?.()) {
    return undefined;
  }
  try {
    const base = cacheDir(env);
    if (!path.isAbsolute(base)) return undefined;
    // join normalizes an absolute path as resolve would, without resolve's cost at start.
    const wanted = path.join(base, 'code');
    // When missing: made one level at a time, at most two levels above code/ (a recursive
    // mkdir loops forever on a path under /proc/self/fd), and nowhere another user could
    // have a say (see safePath): each in its parent's real path once that path is checked,
    // code/ only in a private folder.
    let check = checkPath(wanted);
    if (check.missing) {
      for (const dir of [path.dirname(path.dirname(wanted)), path.dirname(wanted), wanted]) {
        if (lstatSync(dir, { throwIfNoEntry: false }) !== undefined) continue;
        const parent = realpathSync(path.dirname(dir));
        if (!safePath(path.dirname(dir)) || !safePath(parent)) return undefined;
        if (dir === wanted && privateFolder(parent, false) !== 'mine') return undefined;
        mkdirSync(path.join(parent, path.basename(dir)), { mode: 0o700 });
      }
      check = checkPath(wanted);
    }
    if (!check.safe) return undefined;
    // No link on the way (the usual case): the folder is its own real path, and the walk
    // has examined it and the folder above it.
    if (check.linkFree) {
      return check.self && check.parent && isPrivate(check.self) && isPrivate(check.parent)
        ? wanted
        : undefined;
    }
    // The real path needs its own walk only when a link on the way led elsewhere.
    const dir = realpathSync(wanted);
    if ((dir !== wanted && !safePath(dir)) || privateFolder(dir, false) !== 'mine') return undefined;
    if (privateFolder(path.dirname(dir), false) !== 'mine') return undefined;
    return dir;
  } catch {
    return undefined;
  }
}

/**
 * Loads `file` as CommonJS, with a code cache, and returns its exports: the one the build made
 * beside it (builtCachePath) when there is one and V8 takes it; else the one kept in the
 * folder `dir()` gives (none when it gives none), written anew at exit when missing or
 * rejected. `dir` is called only when needed: its checks cost a command ~0.6 ms. The module
 * is entered in `registry` (the caller's require.cache), as require() would.
 */
export function loadBundle(
  file: string,
  dir: () => string | undefined,
  registry?: NodeJS.Dict<NodeModule>,
): unknown {
  const bundle = readBundle(file);
  const { source: wrapped, st, id } = bundle;
  // No import() is left in a bundle (scripts/build-cli.mjs makes them require()s): it would
  // need importModuleDynamically, which Node calls experimental.
  const compile = (text: string, cachedData: Buffer | undefined): Script =>
    new Script(text, { filename: file, cachedData });
  const built = builtCache(file, bundle);
  let script = built && compile(wrapped, built);
  if (!script || script.cachedDataRejected) {
    // After a rejected compile (another V8 flag, e.g. --jitless), V8's cache within this
    // process holds this source and would answer a second compile without reading the
    // folder's cache: that one is of the source a newline longer, and named apart.
    const rejected = script !== undefined;
    const text = rejected ? `${wrapped}\n` : wrapped;
    // One cache per build of the bundle and per set of Node and V8 flags (a cache fits the
    // flags it was made with: runs that take turns with --jitless and without each keep theirs).
    // Named after the bundle's path, and its inode, size, times and Node (made only here, where
    // a folder's cache is wanted: the name walks the path twice).
    const name = `${path.basename(file, '.cjs')}-${fnv1a(file)}`;
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${process.version}:${process.arch}`;
    const build = `${name}-${fnv1a(stamp)}-`;
    const flags = `${process.execArgv.join('\0')}\0${process.env.NODE_OPTIONS ?? ''}\0${rejected ? 'after-rejection' : ''}`;
    const key = `${build}${fnv1a(flags)}`;
    const folder = dir();
    const cacheFile = folder && path.join(folder, `${key}.v8`);
    const cachedData = cacheFile ? readCache(cacheFile, { own: true, id }) : undefined;
    script = compile(text, cachedData);
    if (folder && cacheFile && (cachedData === undefined || script.cachedDataRejected)) {
      const made = script;
      process.once('exit', () => writeCache(folder, cacheFile, { bundle: `${name}-`, build }, id, made));
    }
  }
  return runBundle(file, path.dirname(file), script, registry);
}

/**
 * Writes the cache after the run: the folder is checked again (the same real path, still
 * one no other user can change), the data written and synced under a temporary name, then
 * renamed into place, with the bundle's build `id` in its header; older caches of the same
 * bundle (other builds, other Node versions) and dead runs' temporary files are removed. A
 * cache is an optimization: any failure leaves things as they were.
 */
function writeCache(
  dir: string,
  cacheFile: string,
  names: { bundle: string; build: string },
  id: string,
  script: Script,
): void {
  const temporary = `${cacheFile}.${process.pid}.tmp`;
  let written = false;
  try {
    if (codeCacheDir() !== dir) return;
    const data = script.createCachedData();
    const header = cacheHeader(data.length, id);
    const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    written = true;
    try {
      writeAll(fd, header);
      writeAll(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, cacheFile);
    written = false;
    // Other builds' caches of this bundle go (this build's for other flags stay), and dead
    // runs' temporary files.
    for (const entry of readdirSync(dir)) {
      if (!entry.startsWith(names.bundle)) continue;
      const old = path.join(dir, entry);
      if (entry.endsWith('.v8')) {
        if (!entry.startsWith(names.build)) unlinkSync(old);
      } else if (entry.endsWith('.tmp') && Date.now() - lstatSync(old).mtimeMs > STALE_TEMPORARY_MS) {
        unlinkSync(old);
      }
    }
  } catch {
    // An unwritable folder, a full disk, a race with another run: the next run tries again.
  } finally {
    if (written) {
      try {
        unlinkSync(temporary);
      } catch {
        // Already gone.
      }
    }
  }
}

function writeAll(fd: number, data: Buffer): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done);
}

/** FNV-1a, 32 bits, as hex: short names that tell builds and checkouts apart. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}
