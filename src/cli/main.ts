#!/usr/bin/env -S node --no-concurrent-sparkplug
/**
 * The `sockit` entry point. It is kept tiny: it checks the Node version and runs start.cjs
 * (start.ts: the choice of what to load, and the loading), with the code cache the build made
 * beside it, which loads only the code of the subcommand that was asked for (see program.ts
 * and scripts/build-cli.mjs).
 *
 * Node compiles an entry point from its source on every run, and each of its functions again
 * when first called; from a code cache made after a run they arrive compiled. What is left
 * here is what must run before any cache can be taken, and the loading of one file: moving
 * the rest into start.cjs took 3.1, 1.2 and 2.2 M instructions off `sockit ports`, `ip` and
 * `--version` (of 105, 95 and 89 M; `node -e 0` runs 80 M; docs/benchmarks.md).
 *
 * It is built as CommonJS (dist/cli/main.cjs), without top-level await: Node runs an ES
 * module entry point through its ES module loader, which costs a short command such as
 * `sockit ip` 7 to 9 ms more than a CommonJS one. start.cjs and the command's bundle are
 * CommonJS too (bundle-file.ts, code-cache.ts); help and completion load the whole tree,
 * program.js, an ES module, with the import() this file lends start.cjs. Set-up's launcher
 * runs this file through vm.Script rather than as a module of Node's (scripts/launcher.sh):
 * nothing here may count on being one but `require.cache`, and the launcher lends import().
 */
import { builtCache, readBundle, runBundle } from './bundle-file.js';
import { tooOldNode } from './node-version.js';

/** The V8 flag every sockit command runs with (see below). */
const NO_CONCURRENT_SPARKPLUG = '--no-concurrent-sparkplug';

const tooOld = tooOldNode(process.versions.node);
if (tooOld) {
  process.stderr.write(`${tooOld}\n`);
  process.exit(1);
}
// Node 24 can hang for ever on its way out (nodejs/node#54918, #64274): the main thread, in
// process exit, joins V8's worker threads while one of them, compiling code in the background
// (Sparkplug), waits for a garbage collection only the main thread can run. Seen here after
// downloads that allocate much (3 of 80 netascii `tftp get`s of 10 MB never exited; none of
// 160 with the flag). Sparkplug then compiles on the main thread: no difference in start-up
// (A/B, 40 rounds: ports 1.004x, ip 0.993x). The launcher and the #! line pass the flag; a
// run as `node main.cjs` sets it here, which loads node:v8 (~3.5 ms). (V8 takes a code cache
// only under the flags it was made with: start.cjs's and the bundles' are made with this one.)
if (!process.execArgv.includes(NO_CONCURRENT_SPARKPLUG)) {
  process.getBuiltinModule('node:v8').setFlagsFromString(NO_CONCURRENT_SPARKPLUG);
}

// Beside this file: __dirname is absolute and normal (path.join would walk it once more,
// character by character). Built-ins as they are, as in bundle-file.ts.
const file = `${__dirname}${process.getBuiltinModule('node:path').sep}start.cjs`;
let start: typeof import('./start.js').start | undefined;
let failure: string | undefined;
try {
  const bundle = readBundle(file);
  // A cache V8 rejects (other V8 flags, another build) leaves start.cjs compiled from its
  // source, as this file is.
  const script = new (process.getBuiltinModule('node:vm').Script)(bundle.source, {
    filename: file,
    cachedData: builtCache(file, bundle),
  });
  const loaded = runBundle(file, __dirname, script, require.cache) as { start?: unknown } | undefined;
  if (typeof loaded?.start === 'function') start = loaded.start as typeof start;
  else failure = 'it has no start function';
} catch (err) {
  try {
    failure = String(err);
  } catch {
    failure = 'an exception that cannot be shown';
  }
}
if (failure !== undefined) {
  process.stderr.write(`sockit: internal error: cannot load start.cjs: ${failure}; run npm run build\n`);
  process.exitCode = 70;
}
// import() of a file beside this one. Set-up's launcher (scripts/launcher.sh) runs this file
// through vm.Script, whose code has no import() of its own (without a loader callback Node
// calls experimental): the launcher lends its own, which takes the file's URL.
const lent = (globalThis as { [key: symbol]: unknown })[Symbol.for('sockit.import')] as
  | ((url: string) => Promise<unknown>)
  | undefined;
start?.({
  importBeside: lent
    ? (specifier) =>
        lent(new URL(specifier, process.getBuiltinModule('node:url').pathToFileURL(__filename)).href)
    : (specifier) => import(specifier),
  registry: require.cache,
});
