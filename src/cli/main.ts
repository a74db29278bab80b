#!/usr/bin/env -S node --no-concurrent-sparkplug
/**
 * The `sockit` entry point. It is kept tiny: it checks the Node version, turns on the code
 * caches (so later runs skip compiling the code they load), and loads only the code
 * of the subcommand that was asked for (see program.ts and scripts/build-cli.mjs).
 *
 * It is built as CommonJS (dist/cli/main.cjs), without top-level await: Node runs an ES
 * module entry point through its ES module loader, which costs a short command such as
 * `sockit ip` 7 to 9 ms more than a CommonJS one. The command's own bundle is CommonJS too,
 * loaded with a code cache of its own (code-cache.ts); help and completion load the whole
 * tree, program.js, an ES module, with import().
 */
import module from 'node:module';
import path from 'node:path';
import { prefetchSocketOwners } from '../ports/owners.js';
import { prefetchSocketTables } from '../ports/tables.js';
import { codeCacheDir, loadBundle } from './code-cache.js';
import { subcommandsFor } from './command-names.js';
import { tooOldNode } from './node-version.js';
import { onStdoutFailure } from './stdout.js';

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
// run as `node main.cjs` sets it here, which loads node:v8 (~3.5 ms).
if (!process.execArgv.includes(NO_CONCURRENT_SPARKPLUG)) {
  process.getBuiltinModule('node:v8').setFlagsFromString(NO_CONCURRENT_SPARKPLUG);
}
// A named command (or --version) runs from its own one-file bundle, one/NAME.cjs: the command
// tree, commander and that command's code, nothing else to resolve and link. Help and
// anything that needs the whole tree come from program.js and its chunks.
const only = subcommandsFor(process.argv.slice(2));
// `sockit ports` waits mostly for the kernel: its walks of the TCP tables and the listing of
// every process's descriptors start now, in the thread pool, and run on the other core
// while the command's code loads. One pool thread (the command needs no more): with the
// default four, the walks run side by side on both cores of a two-core machine and take the
// loading thread's core for milliseconds. The listings go first: they are what the command
// needs first (a readlink per descriptor, on this thread), and the walks finish while those
// run (A/B, 80 rounds: 32.7 -> 30.7 ms; with the walks first the listings came 3 ms after
// the code had loaded).
if (only?.[0] === 'ports' && !process.argv.some((arg) => arg === '-h' || arg === '--help')) {
  process.env.UV_THREADPOOL_SIZE ??= '1';
  prefetchSocketOwners();
  prefetchSocketTables();
}

// The code caches, Node's (for program.js and the packages a command loads) and the bundles'
// (code-cache.ts), in a folder only this user can change, or none: a cache is code that runs,
// and Node's default folder, in the shared temporary folder, is whoever's made it first.
// Looked for only when needed: a bundle whose cache the build made loads no package (see
// scripts/build-cli.mjs), and the folder's checks cost ~0.6 ms.
let codeCache: string | undefined | null = null;
const codeCacheFolder = (): string | undefined => {
  if (codeCache === null) {
    codeCache = codeCacheDir();
    if (codeCache) module.enableCompileCache?.(path.join(codeCache, 'node'));
  }
  return codeCache;
};

// A reader that stops early (`sockit ports | head -1`) ends the command quietly with 141.
onStdoutFailure();

const bundle =
  only === undefined || only.includes('completion') ? './program.js' : `./one/${only[0] ?? 'version'}.cjs`;

let settled = false;
(bundle.endsWith('.cjs')
  ? // Beside this file: __dirname is absolute and normal, so the bundle's path is it and the
    // name less its `.`, in this system's separators (path.join would walk it once more,
    // character by character).
    new Promise((resolve) =>
      resolve(
        loadBundle(
          `${__dirname}${bundle.slice(1).replaceAll('/', path.sep)}`,
          codeCacheFolder,
          require.cache,
        ),
      ),
    )
  : Promise.resolve(codeCacheFolder()).then(() => import(bundle))
)
  .then((loaded) => {
    const { program, reportFailure } = loaded as typeof import('./program.js');
    return program({ only })
      .then((root) => root.parseAsync())
      .catch((err: unknown) => reportFailure(err));
  })
  .catch((err: unknown) => {
    // A build that lacks the bundle (not `reportFailure`'s: it is in the bundle).
    process.stderr.write(
      `sockit: internal error: cannot load ${bundle}: ${String(err)}; run npm run build\n`,
    );
    process.exitCode = 70;
  })
  .finally(() => {
    settled = true;
  });
// Nothing left to wait for, yet the command has not finished: a stalled stream, not success.
// Once it has, and nothing else waits for this moment (pino flushes its transports here),
// the process leaves with its exit code at once: 'exit' handlers still run (the code cache
// is written there), but Node does not take the heap down piece by piece first, 1-2 ms of
// a short command (A/B, 60 rounds: ip 35.7 -> 34.0 ms, ports 43.2 -> 42.2 ms).
process.on('beforeExit', () => {
  if (settled || process.exitCode) {
    if (process.listenerCount('beforeExit') === 1) process.exit();
    return;
  }
  process.stderr.write('sockit: internal error: the command stopped with its work unfinished\n');
  process.exitCode = 70;
});
