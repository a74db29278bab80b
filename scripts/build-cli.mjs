#!/usr/bin/env node
/**
 * Bundles the `sockit` command with esbuild: src/cli/main.ts into dist/cli/main.cjs (a
 * CommonJS entry point: Node starts one faster than an ES module), which runs
 * dist/cli/start.cjs (src/cli/start.ts) with a code cache made here, one file per subcommand
 * (dist/cli/one/NAME.cjs, CommonJS, which main.cjs loads with a code cache of its own: see
 * src/cli/code-cache.ts) so that a command loads only its own code, in one file instead of a
 * hundred modules to resolve, and a split build of the whole command tree (program.js and
 * its chunks) for help, completion and the man page.
 *
 * Packages stay in node_modules (they are loaded by the commands that need them), except
 * commander, which every command needs, and zod/mini (src/runtime/schema.ts), of which
 * esbuild keeps only the schemas used: about 50 KB that load in ~5 ms, where the zod package
 * from node_modules is a hundred modules and 50-70 ms. Built-in modules are loaded
 * lazily (see the builtins plugin).
 *
 * usage: node scripts/build-cli.mjs        (run by `npm run build`, after tsc)
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync(path.join(import.meta.dirname, '../package.json'), 'utf8'));

const root = path.resolve(import.meta.dirname, '..');
const outdir = path.resolve(root, process.env.SOCKIT_CLI_OUT ?? 'dist/cli');
const BUNDLED_PACKAGES = new Set(['commander', 'zod']);

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
 * namespace, which touches every export and so loads worker_threads, the stream classes,
 * parseArgs and more: a large part of a short command's start-up, for modules that
 * `sockit ip` never calls; commander imports node:child_process only to run external
 * subcommand programs, which sockit never does.
 *
 * Each built-in becomes a small ES module for esbuild that takes the real one with
 * process.getBuiltinModule (no ES namespace is built), and whose exports esbuild drops when
 * nothing imports them (the export names are listed at build time by the Node that runs the
 * build, which is the one that runs sockit). For a module whose exports object is a plain
 * object (fs, net, util, ...), the real module is fetched on first use:
 * - a plain function (lower-case name, no properties of its own such as `promisify.custom`)
 *   is a function that calls the real one; Node's API functions do not depend on `this`;
 * - the default export is a proxy that reads the real module's properties;
 * - anything else (a class, an object, a constant) is read when the stand-in runs, that is
 *   only when some code of the bundle imports it by name.
 * A module that is itself a function or class (events, module) or an event emitter
 * (process, cluster) is loaded as it is. No interop copy of the exports is made either (it
 * cost a CommonJS stand-in a getter per export, per importing file).
 */
function isPlainModule(mod) {
  return typeof mod === 'object' && mod !== null && !(mod instanceof EventEmitter);
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Reads the property without calling a getter (some warn of deprecation, as fs.F_OK). */
function isPlainFunction(mod, name) {
  const value = Object.getOwnPropertyDescriptor(mod, name)?.value;
  if (typeof value !== 'function' || !/^[a-z]/.test(name)) return false;
  const own = [...Object.getOwnPropertyNames(value), ...Object.getOwnPropertySymbols(value)];
  return own.every((key) => key === 'length' || key === 'name' || key === 'prototype');
}

/** The stand-in module for built-in `name` (see above). */
function standIn(name) {
  const id = JSON.stringify(name);
  const mod = process.getBuiltinModule(name);
  const names = Object.getOwnPropertyNames(mod).filter((n) => IDENTIFIER.test(n) && n !== 'default');
  if (LAZY_CLASS_MODULES.has(name)) return lazyClassModule(id, mod, names);
  if (!isPlainModule(mod)) {
    return [
      // node:process is the process object itself: taking it from the global skips compiling
      // the module that exports it (0.2 ms of every command, since commander imports it).
      `const real = ${name === 'node:process' ? 'process' : `process.getBuiltinModule(${id})`};`,
      'export default real;',
      ...names.map((n) => `export const ${n} = /* @__PURE__ */ (() => real.${n})();`),
    ].join('\n');
  }
  const lines = [
    'let real;',
    `const load = () => (real ??= process.getBuiltinModule(${id}));`,
    'export default /* @__PURE__ */ new Proxy({}, {',
    '  get: (_, key) => load()[key],',
    '  has: (_, key) => key in load(),',
    '  ownKeys: () => Reflect.ownKeys(load()),',
    '  getOwnPropertyDescriptor: (_, key) => {',
    '    const d = Reflect.getOwnPropertyDescriptor(load(), key);',
    '    return d && { ...d, configurable: true };',
    '  },',
    '});',
  ];
  return [...lines, ...lazyExports(mod, names)].join('\n');
}

/** The named exports of a stand-in whose `load()` gives the real module (see standIn). */
function lazyExports(mod, names) {
  return names.map((n) =>
    isPlainFunction(mod, n)
      ? `export function ${n}(...args) { return load().${n}(...args); }`
      : `export const ${n} = /* @__PURE__ */ (() => load().${n})();`,
  );
}

/**
 * Built-ins whose exports object is a class, not loaded by Node before a command runs, that
 * a short command need not load: node:module (the CommonJS Module class, with createRequire
 * and enableCompileCache) is compiled with the source-map code it loads, ~0.5 ms, for
 * functions a command bundle calls only to load a package or to turn on Node's compile cache.
 */
const LAZY_CLASS_MODULES = new Set(['node:module']);

/**
 * A stand-in that loads the real module when first used: its plain functions are functions
 * that call the real ones, its default export a proxy of the class (reads, calls and `new`
 * go through), and anything else is read when the stand-in runs (none for node:module).
 */
function lazyClassModule(id, mod, names) {
  const lines = [
    'let real;',
    `const load = () => (real ??= process.getBuiltinModule(${id}));`,
    `export default /* @__PURE__ */ ${callableProxy('load')};`,
  ];
  return [...lines, ...lazyExports(mod, names)].join('\n');
}

/**
 * The source of a proxy that stands for what `of()` returns, a function, class or object, once
 * it is first used: reads, `in`, calls, `new` and its prototype go through to it.
 */
function callableProxy(of) {
  return [
    'new Proxy(function () {}, {',
    `  get: (_, key) => Reflect.get(${of}(), key),`,
    `  has: (_, key) => key in ${of}(),`,
    `  apply: (_, self, args) => Reflect.apply(${of}(), self, args),`,
    `  construct: (_, args) => Reflect.construct(${of}(), args),`,
    `  getPrototypeOf: () => Reflect.getPrototypeOf(${of}()),`,
    '})',
  ].join('\n');
}

/**
 * `perImporter`: one stand-in per importing file (`node:fs|/path/of/importer`), for the split
 * build: a module shared by many files would become a chunk of its own, one more file to load.
 * A one-file bundle shares one stand-in per built-in.
 */
function builtins({ perImporter }) {
  return {
    name: 'builtins',
    setup(b) {
      b.onResolve({ filter: /^node:/ }, (args) => ({
        path: perImporter ? `${args.path}|${args.importer}` : args.path,
        namespace: 'builtin',
      }));
      b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
        contents: standIn(args.path.split('|')[0]),
        loader: 'js',
      }));
    },
  };
}

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

/**
 * Heavy packages that a one-command bundle loads only when its code first uses them. An
 * `import` of a package is hoisted: a bundle that holds a client and its server would load
 * the server's database layer (kysely), logger (pino), WebSocket server (ws) and static file
 * helpers (mime-types, whose table alone took 18 ms, and fresh), or the LAN messenger's
 * legacy charsets (iconv-lite, 9 ms) before the client
 * does anything (a third of a second for `sockit exec`). Each import becomes a stand-in whose
 * exports are proxies that require() the package on first use: property reads, calls and
 * `new` go through to the real export.
 */
const LAZY_PACKAGES = ['pino', 'kysely', 'kysely/migration', 'ws', 'mime-types', 'fresh', 'iconv-lite'];

function lazyPackages() {
  return {
    name: 'lazy-packages',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) =>
        LAZY_PACKAGES.includes(args.path) && args.namespace !== 'lazy'
          ? { path: args.path, namespace: 'lazy' }
          : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'lazy' }, async (args) => {
        const exported = Object.keys(await import(args.path));
        const names = exported.filter((n) => IDENTIFIER.test(n) && n !== 'default');
        const id = JSON.stringify(args.path);
        const lines = [
          `const require = process.getBuiltinModule('node:module').createRequire(import.meta.url);`,
          'let real;',
          `const load = () => (real ??= require(${id}));`,
          `const lazy = (of) => ${callableProxy('of')};`,
          // `export { v as catch }`: a package may export names that are reserved words.
          ...names.map(
            (n, i) =>
              `const v${i} = /* @__PURE__ */ lazy(() => load()[${JSON.stringify(n)}]); export { v${i} as ${n} };`,
          ),
          // A CommonJS package's default import is its module.exports (a function for fresh).
          ...(exported.includes('default') ? ['export default /* @__PURE__ */ lazy(load);'] : []),
        ];
        return { contents: lines.join('\n'), loader: 'js', resolveDir: root };
      });
    },
  };
}

/**
 * For the CommonJS one-command bundles: an `import()` of a package left in node_modules (the
 * optional drivers pg, mysql2, better-sqlite3, ioredis) becomes a require() made when the
 * import() runs, through a stand-in that esbuild bundles and wraps as it wraps any CommonJS
 * module (`default` is module.exports). main.cjs compiles a bundle with vm.Script, whose
 * import() needs a loader callback that Node still calls experimental (and warns of).
 */
function requiredPackages() {
  return {
    name: 'required-packages',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) =>
        args.kind === 'dynamic-import' &&
        !args.path.startsWith('node:') &&
        !LAZY_PACKAGES.includes(args.path) &&
        args.namespace !== 'required'
          ? { path: args.path, namespace: 'required' }
          : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'required' }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(args.path)});`,
        loader: 'js',
        resolveDir: root,
      }));
    },
  };
}

/**
 * commander's Option constructor tests every option's flags against
 * `/\p{ID_Continue}\.\.\.[>\]]$/u` to find variadic ones, which esbuild (for its Node
 * target) writes as `new RegExp(...)`: compiling that Unicode class costs 0.43 ms at the first
 * option and 44 us at each next one, about a millisecond of every command's start-up. A plain
 * test that the flags end in `...>` or `...]`, which the pattern also requires, now goes first,
 * so the pattern is compiled only for variadic options. The build fails if commander changed.
 */
function cheapVariadicTest() {
  const slow = String.raw`/\p{ID_Continue}\.\.\.[>\]]$/u.test(flags)`;
  const cheap = String.raw`/\.\.\.[>\]]$/.test(flags)`;
  return {
    name: 'cheap-variadic-test',
    setup(b) {
      b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]option\.js$/ }, (args) => {
        const code = readFileSync(args.path, 'utf8');
        const uses = code.split(slow).length - 1;
        if (uses !== 1) throw new Error(`${args.path}: expected one ${slow}, found ${uses}`);
        return { contents: code.replace(slow, `${cheap} && ${slow}`), loader: 'js' };
      });
    },
  };
}

const define = { SOCKIT_VERSION: JSON.stringify(version) };

// Must match BUNDLE_WRAPPER_START in src/cli/bundle-file.ts, which checks the start.
const BUNDLE_WRAPPER_START = '(function (exports, require, module, __filename, __dirname) {';
const BUNDLE_WRAPPER_END = '})';
// After the wrapper, the bundle's build id (src/cli/bundle-file.ts's buildId), which every code
// cache made from the bundle carries in its header: V8 runs a cache's code for any source of
// the same length, so a cache must not meet another build's bundle. Written as zeros, then
// replaced by the first 16 hex digits of the SHA-256 of the file as written (stampBuildId):
// the same source gives the same id, and the length does not change (nor the source map).
const BUILD_ID_PLACEHOLDER = `/*build ${'0'.repeat(16)}*/`;
const BUNDLE_BANNER = `${BUNDLE_WRAPPER_START}${BUILD_ID_PLACEHOLDER}`;

/**
 * Writes the build id into `file` (see BUILD_ID_PLACEHOLDER), which starts with `before` and
 * the placeholder: a bundle's wrapper, or main.cjs's #! line; returns the id.
 */
function stampBuildId(file, before = BUNDLE_WRAPPER_START) {
  const code = readFileSync(file, 'latin1');
  const start = `${before}${BUILD_ID_PLACEHOLDER}`;
  if (!code.startsWith(start)) throw new Error(`${file} does not start with ${start}`);
  const id = createHash('sha256').update(code, 'latin1').digest('hex').slice(0, 16);
  writeFileSync(file, `${before}/*build ${id}*/${code.slice(start.length)}`, 'latin1');
  return id;
}

/**
 * Fails the build where a file that main.cjs or start.cjs runs through vm.Script
 * (src/cli/bundle-file.ts) would fail at run time: an import() other than those `imports`
 * allows (such code has no import() without a loader callback Node calls experimental), or
 * a property of `require`, which is a plain function there (made real on its first call):
 * require.resolve, .cache or .main would be undefined. (Not caught: `require` passed on under
 * another name; esbuild's output calls it directly.)
 */
function checkLoadedBundle(name, { imports }) {
  const code = readFileSync(path.join(outdir, name), 'utf8');
  const left = [...code.matchAll(/\bimport\(\s*("[^"]*"|'[^']*'|[^)]*)\)/g)]
    .map((m) => m[1])
    .filter((what) => !imports(what));
  if (left.length > 0) throw new Error(`${name} keeps import() of ${left.join(', ')}`);
  const properties = [
    ...new Set(code.match(/\brequire\s*(?:\?\.\s*[A-Za-z_$]+|\.\s*[A-Za-z_$]+|\[)/g) ?? []),
  ];
  if (properties.length > 0) throw new Error(`${name} uses ${properties.join(', ')}`);
}

rmSync(outdir, { recursive: true, force: true });
await build({
  // program.js and man.js too, for the build steps that read the command tree (scripts/man.mjs).
  entryPoints: {
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
  plugins: [cheapVariadicTest(), externalPackages, builtins({ perImporter: true })],
  // The version, known when building: reading package.json at run time costs a short command
  // a tenth of its time (the CommonJS loader and a file read).
  define,
  logLevel: 'warning',
});

// The entry point, CommonJS; its import() of program.js stays an import() (a computed path).
const entryOptions = {
  outdir,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node22',
  sourcemap: 'linked',
  // Built-ins as in the bundles: esbuild's CommonJS form of `import path from 'node:path'`
  // copies every export of the module into a new object, 0.3 ms for the entry's few.
  plugins: [builtins({ perImporter: false })],
  logLevel: 'warning',
};
// Minified: main.cjs is the one file Node compiles from its source on every run (the rest
// come with code caches), and its parsing and compiling scale with its text: 5.1 -> 2.9 KB
// took 0.3-0.5 M instructions off each command (callgrind, 3 rounds; docs/benchmarks.md).
// main.cjs.map maps it back to src/cli/main.ts.
// Its build id after the #! line, as in the bundles: set-up's launcher takes main.cjs's code
// cache by it (scripts/launcher.sh).
await build({
  ...entryOptions,
  entryPoints: { main: path.join(root, 'src/cli/main.ts') },
  minify: true,
  banner: { js: BUILD_ID_PLACEHOLDER },
});
const mainId = stampBuildId(
  path.join(outdir, 'main.cjs'),
  `${readFileSync(path.join(outdir, 'main.cjs'), 'latin1').split('\n')[0]}\n`,
);
// What main.cjs runs, loaded as a command's bundle is (src/cli/bundle-file.ts): inside the
// CommonJS wrapper, with a code cache made below.
await build({
  ...entryOptions,
  entryPoints: { start: path.join(root, 'src/cli/start.ts') },
  banner: { js: BUNDLE_BANNER },
  footer: { js: BUNDLE_WRAPPER_END },
});
const startId = stampBuildId(path.join(outdir, 'start.cjs'));
checkLoadedBundle('start.cjs', { imports: () => false });

// One file per subcommand (and one for --version), which main.cjs loads for `sockit NAME`:
// loading a dozen chunks of a split build costs a short command more than its own work.
// The completion command needs the whole tree and runs from program.js.
// As a URL: a path with `#` or `%` in it is not one.
const { SUBCOMMAND_NAMES } = await import(pathToFileURL(path.join(outdir, 'program.js')).href);
/** Bundles that load nothing from node_modules (see builtCodeCaches below). */
const selfContained = new Set();
for (const name of [...SUBCOMMAND_NAMES.filter((n) => n !== 'completion'), 'version']) {
  const { metafile } = await build({
    entryPoints: { [name]: path.join(root, 'src/cli/program.ts') },
    outdir: path.join(outdir, 'one'),
    outExtension: { '.js': '.cjs' },
    bundle: true,
    format: 'cjs',
    // import.meta.url, which CommonJS lacks, as the bundle file's URL.
    inject: [path.join(root, 'scripts/cjs-import-meta.js')],
    platform: 'node',
    target: 'node22',
    sourcemap: 'linked',
    plugins: [
      requiredPackages(),
      lazyPackages(),
      cheapVariadicTest(),
      externalPackages,
      onlySubcommand(name, SUBCOMMAND_NAMES),
      builtins({ perImporter: false }),
    ],
    define: { ...define, 'import.meta.url': 'import_meta.url' },
    // The wrapper Node gives a CommonJS module, written here rather than around the source at
    // each run (src/cli/code-cache.ts): joining them there made a second copy of the source,
    // 170 KB of a young generation that is then near full, and a scavenge of ~0.7 ms.
    banner: { js: BUNDLE_BANNER },
    footer: { js: BUNDLE_WRAPPER_END },
    metafile: true,
    logLevel: 'warning',
  });
  stampBuildId(path.join(outdir, 'one', `${name}.cjs`));
  // A package left external, or one loaded on first use (the lazy and required stand-ins); the
  // import()s of the other commands' modules (relative) are never run here.
  const packages =
    Object.values(metafile.outputs).some((o) =>
      o.imports.some((i) => i.external && !i.path.startsWith('.')),
    ) || Object.keys(metafile.inputs).some((input) => /^(lazy|required):/.test(input));
  if (!packages) selfContained.add(name);
  // What is left of import() must be the other commands' bundles, which this one never loads
  // (program.ts names them all); any other would fail at run time (see requiredPackages).
  checkLoadedBundle(`one/${name}.cjs`, { imports: (what) => /^"\.\/[a-z-]+\.js"$/.test(what) });
}

/**
 * The code caches of the commands that must start fastest, made now and kept beside their
 * bundles (dist/cli/one/NAME.cjs.NODE_VERSION-ARCH.v8; src/cli/code-cache.ts): a first run is as quick as any
 * other, and a run that finds this cache fit needs no cache folder of its own, whose checks
 * cost ~0.6 ms (a bundle that loads no package from node_modules needs no Node compile cache
 * either). Each command is run once, as the launcher runs it, with a cache folder of its own,
 * and the cache it wrote is taken. A Node other than this one rejects the cache, and the
 * command then keeps one in the user's cache folder as before.
 */
// `ports` as it is most run: its table's code is then in the cache too.
const CACHED_AT_BUILD = { version: ['--version'], ip: ['ip', '10.1.2.3/20'], ports: ['ports'] };
// start.cjs's cache, and main.cjs's as set-up's launcher compiles it (scripts/launcher.sh),
// are written by the runs of a second round (scripts/code-cache-hook.cjs), through such a
// launcher, once the bundles' caches are in place: each run takes the previous run's, so the
// last holds what all three called, and nothing of what only a run without a built cache
// calls (the cache folder's checks and the writing of a cache: 34.6 -> 29.8 KB to
// deserialize, -0.4 to -0.7 M instructions a command).
const CACHE_HOOK = path.join(root, 'scripts/code-cache-hook.cjs');
// By its real path, as main.cjs names it (Node runs main.cjs from its real path), and
// main.cjs so too (the launcher made for its cache is given that path).
const startFile = path.join(realpathSync(outdir), 'start.cjs');
const mainFile = path.join(realpathSync(outdir), 'main.cjs');
const startCache = `${startFile}.${process.version}-${process.arch}.v8`;
let scratch;
try {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'sockit-build-cache-'));
} catch (err) {
  console.warn(
    `build-cli: no code caches made at build time: no scratch folder in ${os.tmpdir()}: ${err.message}`,
  );
}

/**
 * Runs `sockit ARGS` as the launcher runs it (`entry`, main.cjs or a launcher script), with a
 * cache folder of its own (`cache`) and `node` options before the entry; the run's status and
 * standard error.
 */
function runForCache(args, cache, { options = [], env = {}, entry = path.join(outdir, 'main.cjs') } = {}) {
  const runEnv = { ...process.env, SOCKIT_CACHE_DIR: cache, ...env };
  delete runEnv.NODE_DISABLE_COMPILE_CACHE;
  // V8 takes a cache only under the flags it was made with: those of a plain run.
  delete runEnv.NODE_OPTIONS;
  return spawnSync(process.execPath, ['--no-concurrent-sparkplug', ...options, entry, ...args], {
    env: runEnv,
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
}

/**
 * The launcher set-up writes (scripts/launcher.sh), written in `scratch` for this build's
 * main.cjs (by its real path, as start.cjs is named) and this Node: main.cjs's cache is made
 * by runs through it, as main.cjs is compiled there. Undefined where it is a sh script
 * instead (a path it cannot hold), which runs main.cjs as Node's module.
 */
function scratchLauncher(scratch) {
  const bin = path.join(scratch, 'launcher', 'bin');
  const wrote = spawnSync(
    'bash',
    [
      '-c',
      'source "$0" && write_launcher "$1" "$2" "$3" "$4"',
      path.join(root, 'scripts/launcher.sh'),
    ].concat([bin, process.execPath, root, mainFile]),
    { encoding: 'utf8' },
  );
  const script = path.join(realpathSync(path.dirname(bin)), 'lib', 'sockit.cjs');
  return wrote.status === 0 && existsSync(script) ? script : undefined;
}

/** The code caches a run wrote in the cache folder `cache` (see src/cli/code-cache.ts). */
function cachesWritten(cache) {
  const dir = path.join(cache, 'code');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.v8')) : [];
}

const cachedCommands = [];
try {
  for (const [name, args] of Object.entries(CACHED_AT_BUILD)) {
    const skip = (why) =>
      console.warn(`build-cli: no code cache made at build time for one/${name}.cjs: ${why}`);
    if (!scratch) break;
    if (!selfContained.has(name)) {
      skip('it loads packages from node_modules');
      continue;
    }
    const cache = path.join(scratch, name);
    const run = runForCache(args, cache);
    // Where the command cannot run here (ports without /proc/net), or the scratch folder is
    // not one the command would keep a cache in (a TMPDIR others may write to): the command
    // makes its cache in the user's folder when it first runs, as any other.
    if (run.status !== 0) {
      skip(`sockit ${args.join(' ')} failed: ${run.stderr.trim()}`);
      continue;
    }
    const made = cachesWritten(cache).filter((f) => f.startsWith(`${name}-`));
    if (made.length !== 1) {
      skip(
        `sockit ${args.join(' ')} wrote ${made.length} code caches under ${cache}, not one (is TMPDIR open to others?)`,
      );
      continue;
    }
    // Named as src/cli/code-cache.ts's builtCachePath names it; readable by all, as the bundle is.
    const into = path.join(outdir, 'one', `${name}.cjs.${process.version}-${process.arch}.v8`);
    copyFileSync(path.join(cache, 'code', made[0]), into);
    chmodSync(into, 0o644);
    cachedCommands.push([name, args]);
  }
  // The second round: start.cjs's and main.cjs's caches, from runs that take the bundles'
  // built caches, through the launcher set-up writes.
  const launcher = cachedCommands.length > 0 ? scratchLauncher(scratch) : undefined;
  for (const [name, args] of cachedCommands) {
    const cache = path.join(scratch, `${name}-start`);
    const run = runForCache(args, cache, {
      options: ['--require', CACHE_HOOK],
      env: {
        SOCKIT_START_FILE: startFile,
        SOCKIT_START_ID: startId,
        SOCKIT_MAIN_FILE: mainFile,
        SOCKIT_MAIN_ID: mainId,
      },
      entry: launcher,
    });
    if (run.status !== 0) {
      console.warn(`build-cli: sockit ${args.join(' ')} failed with the built caches: ${run.stderr.trim()}`);
      continue;
    }
    // A run that wrote a cache of its own did not take the one just built for it.
    const written = cachesWritten(cache);
    if (written.length > 0) {
      console.warn(
        `build-cli: sockit ${args.join(' ')} did not take the code cache built for it (it wrote ${written.join(', ')})`,
      );
    }
  }
} finally {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}
if (existsSync(startCache)) {
  chmodSync(startCache, 0o644);
} else {
  // main.cjs then compiles start.cjs from its source on every run, as it would without a cache.
  console.warn('build-cli: no code cache made at build time for start.cjs: no run of a command wrote one');
}
// The launcher then compiles main.cjs from its source on every run. (None is made where the
// launcher would be a sh script: a path that a #! line or the script cannot hold.)
if (!readdirSync(outdir).some((f) => f.startsWith(`main.cjs.${process.version}-${process.arch}.`))) {
  console.warn(
    'build-cli: no code cache made at build time for main.cjs: no run through a launcher wrote one',
  );
}
