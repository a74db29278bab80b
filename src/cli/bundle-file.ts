/**
 * What loading a built CommonJS file with the code cache the build made beside it takes: the
 * entry point (main.ts) loads start.cjs this way, and code-cache.ts each command's bundle
 * (one/NAME.cjs), which may also keep a cache of its own in the user's folder.
 *
 * Kept small and apart from code-cache.ts: main.cjs is the one file Node compiles from its
 * source on every run, and each function in it is compiled again when first called.
 */

import type { Stats } from 'node:fs';
import type { Script } from 'node:vm';
import { readFullSync } from '../runtime/read-full.js';

// Taken as they are, not through the build's stand-ins (scripts/build-cli.mjs), which are
// functions of their own to compile in main.cjs: Node has loaded node:fs before any script.
const fs = process.getBuiltinModule('node:fs');

/** Larger cache files are not read: a bundle's is 0.1-2 MB. */
const MAX_CACHE = 32 * 1024 * 1024;
/**
 * "sockit code cache", then the length of V8's data (4 bytes, little-endian) and 4 zero bytes:
 * 16 bytes, so that the data, read into a buffer of its own, starts 8-byte aligned. V8 copies
 * cache data that does not (AlignedCachedData): with a 12-byte header it copied every cache
 * it was given, 126 KB of fresh memory for `ports`'s.
 */
export const CACHE_MAGIC = Buffer.from('SKCC2\0\0\0', 'latin1');
export const CACHE_HEADER = CACHE_MAGIC.length + 8;

/** How a bundle starts: the wrapper Node gives a CommonJS module (see scripts/build-cli.mjs). */
export const BUNDLE_WRAPPER_START = '(function (exports, require, module, __filename, __dirname) {';

/**
 * The name of the code cache the build made for `file` (scripts/build-cli.mjs), beside it:
 * named after the Node that made it, as a cache fits only the V8 that wrote it.
 */
export function builtCachePath(file: string): string {
  return `${file}.${process.version}-${process.arch}.v8`;
}

/**
 * A bundle's source, inside the wrapper Node gives a CommonJS module, and its stat. The build
 * writes bundles inside it: wrapping here would copy the whole source once more. One that is
 * not is wrapped here, on its first line, so that positions in stack traces stay as they are.
 */
export function readBundle(file: string): { source: string; st: Stats } {
  const fd = fs.openSync(file, 'r');
  let source: string;
  let st: Stats;
  try {
    st = fs.fstatSync(fd);
    source = fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
  // A byte order mark, as Node's own loader takes it off (the build writes none: a cache made
  // from the file then no longer fits, and the source is compiled).
  if (source.charCodeAt(0) === 0xfeff) source = source.slice(1);
  if (!source.startsWith(BUNDLE_WRAPPER_START)) source = `${BUNDLE_WRAPPER_START}${source}\n})`;
  return { source, st };
}

/**
 * V8's data of the cache the build made beside `file` (builtCachePath), or undefined: none,
 * not fit (see readCache), older than the bundle (`st`, its stat: one changed in place by
 * hand), or NODE_DISABLE_COMPILE_CACHE set. It is as trusted as the bundle beside it (the
 * same folder, the same owner).
 */
export function builtCache(file: string, st: Stats): Buffer | undefined {
  if (process.env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  return readCache(builtCachePath(file), { notOlderThan: st.mtimeMs });
}

/**
 * V8's data from a cache file, or undefined when there is none fit to use: not a plain file
 * (a link is not followed; a FIFO does not block the open), too large, or not as long as its
 * header says; when `own`, also not this user's alone or linked elsewhere too; modified
 * before `notOlderThan` (ms).
 */
export function readCache(file: string, check: { own?: boolean; notOlderThan?: number }): Buffer | undefined {
  const own = check.own === true;
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fs.fstatSync(fd);
    if (
      !st.isFile() ||
      (own && (st.uid !== process.geteuid?.() || (st.mode & 0o077) !== 0 || st.nlink !== 1)) ||
      st.mtimeMs < (check.notOlderThan ?? 0) ||
      st.size <= CACHE_HEADER ||
      st.size > MAX_CACHE
    ) {
      return undefined;
    }
    const data = Buffer.allocUnsafe(st.size);
    const length = readFullSync(fd, data);
    if (length !== st.size || !data.subarray(0, CACHE_MAGIC.length).equals(CACHE_MAGIC)) return undefined;
    if (data.readUInt32LE(CACHE_MAGIC.length) !== length - CACHE_HEADER) return undefined;
    if (data.readUInt32LE(CACHE_MAGIC.length + 4) !== 0) return undefined;
    return data.subarray(CACHE_HEADER);
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Runs `script`, compiled from a wrapped bundle (readBundle), as the CommonJS module `file`
 * in the folder `dirname` and returns its exports; the module is entered in `registry` (the caller's require.cache),
 * as require() would.
 */
export function runBundle(
  file: string,
  dirname: string,
  script: Script,
  registry?: NodeJS.Dict<NodeModule>,
): unknown {
  // What a bundle is given as `module`: it uses `exports` alone (esbuild's CommonJS output);
  // a Module object would load node:module (~0.5 ms) for nothing. A require.cache entry may be
  // such an object (Node's docs: entries can be added and replaced).
  const mod = { id: file, filename: file, exports: {} as unknown, loaded: false };
  if (registry) registry[file] = mod as NodeModule;
  // Its `require` is made when first called: most bundles never call it (they take built-in
  // modules with process.getBuiltinModule), and making one resolves the file's path and
  // lists the node_modules folders above it, character by character. Added to Node's own
  // walks of the entry point's path, that was enough for V8 to start optimizing Node's path
  // code in the middle of a short command from a checkout path of 63 characters (A/B, 400
  // rounds, `ports` from there: 1.022x and 1.011x -> 1.003x and 1.002x of the build before
  // run from a short one; docs/benchmarks.md).
  let real: NodeJS.Require | undefined;
  const require = (id: string): unknown => {
    real ??= process.getBuiltinModule('node:module').createRequire(file);
    return real(id);
  };
  const wrapper = script.runInThisContext() as (
    exports: unknown,
    require: (id: string) => unknown,
    module: typeof mod,
    filename: string,
    dirname: string,
  ) => void;
  wrapper.call(mod.exports, mod.exports, require, mod, file, dirname);
  mod.loaded = true;
  return mod.exports;
}
