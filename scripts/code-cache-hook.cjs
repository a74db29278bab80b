/**
 * Preloaded (`node --require`) by scripts/build-cli.mjs into the runs of sockit that make the
 * build's code caches: when the run ends, writes V8's code caches of start.cjs (the file named
 * by SOCKIT_START_FILE, of build id SOCKIT_START_ID) and of main.cjs as set-up's launcher
 * compiles it (SOCKIT_MAIN_FILE and SOCKIT_MAIN_ID, when the run goes through such a
 * launcher) beside them, where main.cjs and the launcher look for them
 * (src/cli/bundle-file.ts, builtCachePath and readCache: the same name and header;
 * scripts/launcher.sh: V8's data alone, named after main.cjs's build id). The build gives the
 * ids it wrote into the files. The caches are made after the command has run, so they hold
 * every function the run called.
 */
'use strict';
const fs = require('node:fs');
const vm = require('node:vm');

const targets = { start: process.env.SOCKIT_START_FILE, main: process.env.SOCKIT_MAIN_FILE };
// Taken when main.cjs compiles start.cjs, or the launcher main.cjs: each reads node:vm's
// Script once it runs, after this file.
const made = {};
const { Script } = vm;
vm.Script = class extends Script {
  constructor(code, options) {
    super(code, options);
    for (const [name, file] of Object.entries(targets)) {
      if (file && options?.filename === file) made[name] = this;
    }
  }
};

/** Writes `data` to `file` whole or not at all. */
function writeWhole(file, data) {
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, data, { mode: 0o644 });
  fs.renameSync(temporary, file);
}

process.on('exit', () => {
  const suffix = `${process.version}-${process.arch}`;
  if (made.start) {
    const data = made.start.createCachedData();
    // "sockit code cache", the length of V8's data, 4 zero bytes and start.cjs's build id
    // (CACHE_MAGIC, CACHE_HEADER and cacheHeader in bundle-file.ts).
    const header = Buffer.alloc(32);
    header.write('SKCC3\0\0\0', 0, 'latin1');
    header.writeUInt32LE(data.length, 8);
    header.write(process.env.SOCKIT_START_ID, 16, 'latin1');
    writeWhole(`${targets.start}.${suffix}.v8`, Buffer.concat([header, data]));
  }
  if (made.main) {
    writeWhole(`${targets.main}.${suffix}.${process.env.SOCKIT_MAIN_ID}.v8`, made.main.createCachedData());
  }
});
