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
 * "sockit code cache", then the length of V8's data (4 bytes, little-endian), 4 zero bytes,
 * and the build id of the bundle the cache was made from (BUILD_ID_LENGTH bytes; zeros for a
 * bundle without one): 32 bytes, so that the data, read into a buffer of its own, starts
 * 8-byte aligned. V8 copies cache data that does not (AlignedCachedData): with a 12-byte
 * header it copied every cache it was given, 126 KB of fresh memory for `ports`'s.
 */
export const CACHE_MAGIC = Buffer.from('SKCC3\0\0\0', 'latin1');
/** The digits of a build id (see buildId). */
export const BUILD_ID_LENGTH = 16;
export const CACHE_HEADER = CACHE_MAGIC.length + 8 + BUILD_ID_LENGTH;

/** How a bundle starts: the wrapper Node gives a CommonJS module (see scripts/build-cli.mjs). */
export const BUNDLE_WRAPPER_START = '(function (exports, require, module, __filename, __dirname) {';
/** What follows the wrapper in a built bundle: a comment, `build ` and the id (see buildId). */
const BUILD_MARK = '/*build ';

/**
 * The build id a built bundle carries after its wrapper, in a comment (`build ID`): BUILD_ID_LENGTH hex
 * digits of a hash of the bundle, written by scripts/build-cli.mjs, and into the header of
 * every cache made from it; '' for a file without one. V8 takes a cache made from any source
 * of the same length and runs its code, so a cache is used only with the bundle it was made
 * from: another build's bundle of that length, whatever its time, has another id.
 */
export function buildId(source: string): string {
  const at = BUNDLE_WRAPPER_START.length + BUILD_MARK.length;
  if (!source.startsWith(BUILD_MARK, BUNDLE_WRAPPER_START.length)) return '';
  // Digit by digit, not with a regular expression: this runs in main.cjs, where compiling
  // one costs more than the loop.
  for (let i = at; i < at + BUILD_ID_LENGTH; i++) {
    const c = source.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return '';
  }
  return source.slice(at, at + BUILD_ID_LENGTH);
}

/** The header of a cache of `length` bytes of V8's data, made from a bundle of build `id`. */
export function cacheHeader(length: number, id: string): Buffer {
  const header = Buffer.alloc(CACHE_HEADER);
  CACHE_MAGIC.copy(header);
  header.writeUInt32LE(length, CACHE_MAGIC.length);
  header.write(id, CACHE_MAGIC.length + 8, 'latin1');
  return header;
}

/**
 * The name of the code cache the build made for `file` (scripts/build-cli.mjs), beside it:
 * named after the Node that made it, as a cache fits only the V8 that wrote it.
 */
export function builtCachePath(file: string): string {
  return `${file}.${process.version}-${process.arch}.v8`;
}

/** A bundle as readBundle reads it. */
export interface Bundle {
  /** Its source, inside the wrapper. */
  source: string;
  st: Stats;
  /** Its build id (buildId). */
  id: string;
}

/**
 * A bundle's source, inside the wrapper Node gives a CommonJS module, its stat and build id.
 * The build writes bundles inside it: wrapping here would copy the whole source once more. One
 * that is not is wrapped here, on its first line, so that positions in stack traces stay as
 * they are.
 */
export function readBundle(file: string): Bundle {
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
  return { source, st, id: buildId(source) };
}

/**
 * V8's data of the cache the build made beside `file` (builtCachePath), or undefined: none,
 * not fit (see readCache: made from another build of the bundle, too), older than the bundle
 * (one changed in place by hand), or NODE_DISABLE_COMPILE_CACHE set. It is as trusted as the
 * bundle beside it (the same folder, the same owner).
 */
export function builtCache(file: string, bundle: Bundle): Buffer | undefined {
  if (process.env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  return readCache(builtCachePath(file), { notOlderThan: bundle.st.mtimeMs, id: bundle.id });
}

/**
 * V8's data from a cache file, or undefined when there is none fit to use: not a plain file
 * (a link is not followed; a FIFO does not block the open), too large, or not as long as its
 * header says; made from a bundle of another build id than `id` (none: '');  when `own`, also
 * not this user's alone or linked elsewhere too; modified before `notOlderThan` (ms).
 */
export function readCache(
  file: string,
  check: { own?: boolean; notOlderThan?: number; id?: string },
): Buffer | undefined {
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
    // The build id, byte by byte (zeros after a shorter one), as cacheHeader writes it: Buffer
    // methods that nothing before has called would cost main.cjs their compiling.
    const id = check.id ?? '';
    for (let i = 0; i < BUILD_ID_LENGTH; i++) {
      if (data[CACHE_MAGIC.length + 8 + i] !== (i < id.length ? id.charCodeAt(i) : 0)) return undefined;
    }
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
