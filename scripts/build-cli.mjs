#!/usr/bin/env node
/**
 * Bundles the `sockit` command (src/cli/main.ts) into dist/cli/main.js with esbuild: one
 * file for the entry point and one chunk per subcommand (the dynamic imports of
 * src/cli/program.ts), so that a command loads only its own code, in a few files instead of
 * a hundred modules to resolve.
 *
 * Packages stay in node_modules (they are loaded by the commands that need them), except
 * commander, which every command needs and which is bundled. Built-in modules are loaded
 * lazily (see the builtins plugin).
 *
 * usage: node scripts/build-cli.mjs        (run by `npm run build`, after tsc)
 */
import { EventEmitter } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync(path.join(import.meta.dirname, '../package.json'), 'utf8'));

const root = path.resolve(import.meta.dirname, '..');
const outdir = path.join(root, process.env.SOCKIT_CLI_OUT ?? 'dist/cli');
const BUNDLED_PACKAGES = new Set(['commander']);

/** Bare imports stay external, except the packages named above. */
const externalPackages = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return undefined;
      const name = args.path.startsWith('@')
        ? args.path.split('/').slice(0, 2).join('/')
        : args.path.split('/')[0];
      return BUNDLED_PACKAGES.has(name) ? undefined : { path: args.path, external: true };
    });
  },
};

/**
 * Built-in modules are loaded when the code first uses one of their exports rather than when
 * a chunk imports them. An `import ... from 'node:util'` makes Node build the module's ES
 * namespace (and esbuild's interop copies every export), which touches every export and so
 * loads worker_threads, the stream classes, parseArgs and more: a large part of a short
 * command's start-up, for modules that `sockit ip` never calls; commander imports
 * node:child_process only to run external subcommand programs, which sockit never does.
 *
 * Each built-in becomes a CommonJS module for esbuild, taken with process.getBuiltinModule
 * (no ES namespace is built). A module whose exports object is a plain object of functions,
 * classes and values (fs, net, util, ...) gets a stand-in whose properties (the export
 * names, listed at build time by the Node that runs the build, which is the one that runs
 * sockit) fetch the real module on first access; Node's API functions do not depend on
 * `this`, so calling them through the stand-in is the same call. A module that is itself a
 * function or class (events, module) or an event emitter (process, cluster) is loaded as it
 * is, since a stand-in could not be it.
 */
function isPlainModule(mod) {
  return typeof mod === 'object' && mod !== null && !(mod instanceof EventEmitter);
}

const builtins = {
  name: 'builtins',
  setup(b) {
    // One stand-in per importing file (`node:fs|/path/of/importer`): a module shared by many
    // files would become a chunk of its own, one more file to load; these few lines are
    // better repeated in each chunk, and Node loads the real module once whatever the count.
    b.onResolve({ filter: /^node:/ }, (args) => ({
      path: `${args.path}|${args.importer}`,
      namespace: 'builtin',
    }));
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => {
      const name = args.path.slice(0, args.path.indexOf('|'));
      const id = JSON.stringify(name);
      const mod = process.getBuiltinModule(name);
      if (!isPlainModule(mod)) {
        return { contents: `module.exports = process.getBuiltinModule(${id});\n`, loader: 'js' };
      }
      return {
        contents: `let real;
const load = () => (real ??= process.getBuiltinModule(${id}));
const stand = {};
for (const name of ${JSON.stringify(Object.getOwnPropertyNames(mod))}) {
  Object.defineProperty(stand, name, { enumerable: true, get: () => load()[name] });
}
module.exports = stand;
`,
        loader: 'js',
      };
    });
  },
};

/**
 * For a one-command bundle of program.ts: the subcommand modules other than `name` (the
 * `./NAME.js` that program.ts imports on demand) are left out, as imports never made.
 */
function onlySubcommand(name, names) {
  return {
    name: 'only-subcommand',
    setup(b) {
      b.onResolve({ filter: /^\.\/[a-z-]+\.js$/ }, (args) => {
        if (!args.importer.endsWith(`${path.sep}program.ts`)) return undefined;
        const imported = args.path.slice(2, -3);
        return names.includes(imported) && imported !== name
          ? { path: args.path, external: true }
          : undefined;
      });
    },
  };
}

const define = { SOCKIT_VERSION: JSON.stringify(version) };

rmSync(outdir, { recursive: true, force: true });
await build({
  // program.js and man.js too, for the build steps that read the command tree (scripts/man.mjs).
  entryPoints: {
    main: path.join(root, 'src/cli/main.ts'),
    program: path.join(root, 'src/cli/program.ts'),
    man: path.join(root, 'src/cli/man.ts'),
  },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  plugins: [externalPackages, builtins],
  // The version, known when building: reading package.json at run time costs a short command
  // a tenth of its time (the CommonJS loader and a file read).
  define,
  logLevel: 'warning',
});

// One file per subcommand (and one for --version), which main.js loads for `sockit NAME`:
// loading a dozen chunks of a split build costs a short command more than its own work.
// The completion command needs the whole tree and runs from program.js.
const { SUBCOMMAND_NAMES } = await import(path.join(outdir, 'program.js'));
for (const name of [...SUBCOMMAND_NAMES.filter((n) => n !== 'completion'), 'version']) {
  await build({
    entryPoints: { [name]: path.join(root, 'src/cli/program.ts') },
    outdir: path.join(outdir, 'one'),
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    sourcemap: 'linked',
    plugins: [externalPackages, onlySubcommand(name, SUBCOMMAND_NAMES), builtins],
    define,
    logLevel: 'warning',
  });
}
