/**
 * What `sockit` does once main.cjs has started it: choose what the arguments need, start the
 * kernel's work for `sockit ports`, load the command's code (its one-file bundle, or the
 * whole tree for help and completion) and run it.
 *
 * Built as dist/cli/start.cjs, which main.cjs runs with the code cache the build made from its
 * runs of `--version`, `ip` and `ports` (scripts/build-cli.mjs): an entry point is compiled
 * from its source on every run, and each of its functions again when first called (when
 * this was main.cjs, millions of instructions of every command: docs/benchmarks.md); from the
 * cache they arrive compiled.
 */
import module from 'node:module';
import path from 'node:path';
import { prefetchSocketOwners } from '../ports/owners.js';
import { prefetchSocketTables } from '../ports/tables.js';
import { codeCacheDir, loadBundle } from './code-cache.js';
import { subcommandsFor } from './command-names.js';
import { onStdoutFailure } from './stdout.js';

export interface StartOptions {
  /**
   * import() of a module beside main.cjs (program.js): code that vm.Script compiles has no
   * import() without a loader callback Node calls experimental, so main.cjs lends its own.
   */
  importBeside: (specifier: string) => Promise<unknown>;
  /** The entry point's require.cache, where the command's bundle is entered. */
  registry: NodeJS.Dict<NodeModule>;
}

/**
 * Runs the command that `process.argv` names.
 *
 * @example
 * ```ts
 * start({ importBeside: (specifier) => import(specifier), registry: require.cache });
 * ```
 */
export function start({ importBeside, registry }: StartOptions): void {
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
          loadBundle(`${__dirname}${bundle.slice(1).replaceAll('/', path.sep)}`, codeCacheFolder, registry),
        ),
      )
    : Promise.resolve(codeCacheFolder()).then(() => importBeside(bundle))
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
}
