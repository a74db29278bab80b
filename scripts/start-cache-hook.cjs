/**
 * Preloaded (`node --require`) by scripts/build-cli.mjs into the runs of sockit that make the
 * build's code caches: when the run ends, writes V8's code cache of start.cjs (the file named
 * by SOCKIT_START_FILE) beside it, where main.cjs looks for it (src/cli/bundle-file.ts,
 * builtCachePath and readCache: the same name and header). The cache is made after the
 * command has run, so it holds every function of start.cjs the run called.
 */
'use strict';
const fs = require('node:fs');
const vm = require('node:vm');

const target = process.env.SOCKIT_START_FILE;
// Taken when main.cjs compiles start.cjs: its stand-in for node:vm reads Script once it runs,
// after this file.
let made;
const { Script } = vm;
vm.Script = class extends Script {
  constructor(code, options) {
    super(code, options);
    if (options?.filename === target) made = this;
  }
};

process.on('exit', () => {
  if (!made) return;
  const data = made.createCachedData();
  // "sockit code cache", the length of V8's data, 4 zero bytes and start.cjs's build id, after
  // its wrapper as `/*build ID*/` (CACHE_MAGIC, CACHE_HEADER and buildId in bundle-file.ts).
  const source = fs.readFileSync(target, 'latin1');
  const id =
    /^\(function \(exports, require, module, __filename, __dirname\) \{\/\*build ([0-9a-f]{16})\*\//.exec(
      source,
    );
  if (!id) throw new Error(`${target} carries no build id`);
  const header = Buffer.alloc(32);
  header.write('SKCC3\0\0\0', 0, 'latin1');
  header.writeUInt32LE(data.length, 8);
  header.write(id[1], 16, 'latin1');
  const file = `${target}.${process.version}-${process.arch}.v8`;
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, Buffer.concat([header, data]), { mode: 0o644 });
  fs.renameSync(temporary, file);
});
