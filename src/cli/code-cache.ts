/**
 * Loads a command's CommonJS bundle (dist/cli/one/NAME.cjs) with a V8 code cache made after
 * the command has run, so that it holds the compiled code of every function that run called.
 *
 * Node's own compile cache (module.enableCompileCache) is made when a file is compiled,
 * before it runs: it holds the top-level code only, and every function a command then calls
 * (commander's parsing, the command's own work) is compiled again on each run. For `sockit
 * ports` and `sockit ip` that compiling is 3-4 ms of a ~20 ms overhead over `node -e 0`.
 *
 * The cache lives in code/ of the user's cache folder (see cacheDir), which is used only when
 * it belongs to this user and nobody else may enter it: a code cache is code that runs. A
 * bundle's cache is named after its path, inode, size, modification and change times and
 * Node's version, so a rebuilt bundle never meets an old cache (V8 itself compares only the
 * source's length). V8 checks its own version and flags and rejects a cache that does not
 * fit; a rejected or missing cache is written anew (to a temporary name, then renamed) when
 * the command exits. What the first run called is what the cache holds: a later run that
 * goes further (`ports` after `ports --help`) compiles the rest as it would without one.
 * NODE_DISABLE_COMPILE_CACHE turns it off, as it does Node's.
 */
import {
  closeSync,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import { Script } from 'node:vm';
import { cacheDir, privateFolder } from './user-dirs.js';

/** Loads `file` as CommonJS and returns its exports. */
export function loadBundle(file: string): unknown {
  const fd = openSync(file, 'r');
  let source: string;
  let key: string;
  try {
    const st = fstatSync(fd);
    source = readFileSync(fd, 'utf8');
    key = `${path.basename(file, '.cjs')}-${fnv1a(file)}-${fnv1a(`${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${process.version}:${process.arch}`)}`;
  } finally {
    closeSync(fd);
  }
  const dir = codeCacheDir();
  const cacheFile = dir && path.join(dir, `${key}.v8`);
  let cachedData: Buffer | undefined;
  if (cacheFile) {
    try {
      cachedData = readFileSync(cacheFile);
    } catch {
      cachedData = undefined;
    }
  }
  // The wrapper Node gives a CommonJS module, on the same line so that positions in stack
  // traces and the source map stay as they are.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    // No import() is left in a bundle (scripts/build-cli.mjs makes them require()s): it
    // would need importModuleDynamically, which Node calls experimental.
    cachedData,
  });
  if (dir && cacheFile && (cachedData === undefined || script.cachedDataRejected)) {
    process.once('exit', () => writeCache(dir, cacheFile, key, script));
  }
  const mod = new Module(file);
  mod.filename = file;
  const require = createRequire(file);
  createRequire(__filename).cache[file] = mod;
  const wrapper = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: Module,
    filename: string,
    dirname: string,
  ) => void;
  wrapper.call(mod.exports, mod.exports, require, mod, file, path.dirname(file));
  mod.loaded = true;
  return mod.exports;
}

/** The code cache folder, made if missing, or undefined when there is none we may trust. */
function codeCacheDir(): string | undefined {
  if (process.env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  try {
    const base = cacheDir();
    const dir = path.join(base, 'code');
    if (!path.isAbsolute(dir)) return undefined;
    // The folder above too: whoever may write there could put another folder in its place.
    return privateFolder(base, true) === 'mine' && privateFolder(dir, true) === 'mine' ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes the cache after the run, replacing in one rename; older caches of the same bundle
 * (other builds, other Node versions) are removed. A cache is an optimization: any failure
 * leaves things as they were.
 */
function writeCache(dir: string, cacheFile: string, key: string, script: Script): void {
  try {
    const temporary = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(temporary, script.createCachedData(), { mode: 0o600, flag: 'wx' });
    renameSync(temporary, cacheFile);
    const prefix = key.slice(0, key.lastIndexOf('-') + 1);
    for (const name of readdirSync(dir)) {
      if (name.startsWith(prefix) && name !== path.basename(cacheFile) && name.endsWith('.v8')) {
        unlinkSync(path.join(dir, name));
      }
    }
  } catch {
    // An unwritable folder, a full disk, a race with another run: the next run tries again.
  }
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
