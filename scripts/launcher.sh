#!/usr/bin/env bash
# Sourced by scripts/setup.sh (and by the CLI tests): writes the `sockit` launcher, which runs
# this checkout's dist/cli/main.cjs with the Node that set-up found, so that `sockit` works
# from any folder once its folder is on PATH (no npm link, no root); and `man sockit` too, as
# man-db looks for the pages of a PATH folder DIR in DIR/../share/man.

# write_launcher DIR NODE ROOT [MAIN]: writes DIR/sockit running NODE on MAIN (by default
# ROOT/dist/cli/main.cjs; the build names its own output), and links
# DIR/../share/man/man1/sockit.1 to the man page the build wrote, ROOT/dist/man/sockit.1.
#
# The launcher is a Node script, LIB/sockit.cjs (LIB the folder beside DIR's real path), with
# NODE in its #! line, that DIR/sockit links to, which runs main.cjs (see write_node_launcher):
# the kernel starts Node at once, where a sh
# script that execs Node costs every command a shell's start (1.5-2.5 ms, see
# docs/benchmarks.md). The link's target is named .cjs: Node runs a file by its real path, and
# an extensionless one in this package (`"type": "module"`) would be loaded as an ES module,
# 7-9 ms slower. The launcher is a sh script instead where that cannot be done safely: NODE's
# path holds a space, the #! line would be longer than 127 bytes (kernels before Linux 5.1
# read no more), or a path holds anything but printable ASCII (the script is read as UTF-8,
# and U+2028 would end its comment line).
write_launcher() {
  local dir="$1" node="$2" root="$3" main="${4:-$3/dist/cli/main.cjs}"
  if [[ "$dir" != /* || "$node" != /* || "$root" != /* || "$main" != /* ]]; then
    echo "write_launcher: DIR, NODE, ROOT and MAIN must be absolute paths" >&2
    return 1
  fi
  mkdir -p "$dir"
  # --no-concurrent-sparkplug: see NO_CONCURRENT_SPARKPLUG in src/cli/main.ts (a hang at exit).
  local first="#!$node --no-concurrent-sparkplug"
  # $BASHPID, not $$: calls in background subshells of one shell must not share a name.
  local tmp="$dir/.sockit.$BASHPID"
  # Where DIR really is (a link to a folder leads elsewhere): LIB is beside that.
  local real
  real=$(CDPATH='' cd -P -- "$dir" >/dev/null && pwd -P) || return 1
  local lib="${real%/*}/lib"
  local LC_ALL=C
  # Node is given DIR/sockit (as PATH found it) and reads LIB/sockit.cjs: both must be ASCII too.
  if ! [[ "$node" != *' '* && ${#first} -lt 128 && "$main$node$dir$real$root" != *[^\ -~]* ]] ||
    ! write_node_launcher "$lib" "$first" "$root" "$main" "$tmp"; then
    # Single-quoted in the script; a ' inside a path becomes '\''.
    local q_node="'${node//\'/\'\\\'\'}'" q_main="'${main//\'/\'\\\'\'}'"
    printf '#!/bin/sh\n# Written by scripts/setup.sh: sockit from %s\nexec %s --no-concurrent-sparkplug %s "$@"\n' \
      "${root//[$'\n\r']/ }" "$q_node" "$q_main" >"$tmp" || return 1
    chmod 755 "$tmp" || return 1
    # The Node launcher of an earlier set-up, now unused.
    rm -f "$lib/sockit.cjs"
  fi
  mv -Tf "$tmp" "$dir/sockit" || return 1
  mkdir -p "$dir/../share/man/man1"
  ln -sfn "$root/dist/man/sockit.1" "$dir/../share/man/man1/sockit.1"
}

# write_node_launcher LIB FIRST ROOT MAIN TMP: writes LIB/sockit.cjs and links TMP to it;
# fails (and leaves nothing) where LIB cannot be written, for the sh launcher to stand in.
#
# It runs MAIN as require() would run it (the CommonJS wrapper, its require, path and folder),
# without the module system's search for a second module and its loading (1.6 M instructions,
# 2 % of a short command): MAIN's #! line becomes the wrapper's start, so that its lines keep
# their numbers. Code that vm.Script compiles has no import() of its own (without a loader
# callback Node calls experimental): the launcher lends its own. And it gives V8 the code
# cache the build made of MAIN compiled so (scripts/build-cli.mjs; 1.2 M instructions), named
# after MAIN's build id, the comment that starts its second line (16 hex digits of its
# SHA-256): no other build of MAIN meets it, and V8 refuses one made by another Node or
# under other flags. The cache is read as sockit's others are (src/cli/bundle-file.ts,
# readCache): a plain file, not through a link, not older than MAIN (edited by hand), at most
# 32 MB; NODE_DISABLE_COMPILE_CACHE turns it off. A MAIN without a #! line and a build id (one
# built before the launcher lent import(), as when bisecting; a byte order mark) is
# require()d as before. The script is compiled from its source on every run, all of it: each
# line costs (checks that Node or V8 make anyway are left to them).
write_node_launcher() {
  local lib="$1" first="$2" root="$3" main="$4" tmp="$5"
  local part="$lib/.sockit.cjs.$BASHPID"
  mkdir -p "$lib" 2>/dev/null || return 1
  # A JavaScript string: \ and " escaped (nothing but printable ASCII is left, see above).
  local js_main="${main//\\/\\\\}"
  js_main="${js_main//\"/\\\"}"
  if {
    printf '%s\n// Written by scripts/setup.sh: sockit from %s\n' "$first" "$root" &&
      printf '%s\n' "'use strict';" "const file = \"$js_main\";" &&
      cat <<'EOF'
const fs = process.getBuiltinModule('node:fs');
let source;
try {
  source = fs.readFileSync(file, 'utf8');
} catch (err) {
  process.stderr.write(`sockit: internal error: cannot read ${file}: ${err.code ?? err}; run npm run build\n`);
  process.exit(70);
}
const nl = source.startsWith('#!') ? source.indexOf('\n') : -1;
const body = nl < 0 ? '' : source.slice(nl);
if (!body.startsWith('\n/*build ') || !body.startsWith('*/', 25)) {
  require(file);
} else {
  let cachedData;
  if (!process.env.NODE_DISABLE_COMPILE_CACHE) {
    try {
      const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
      const cache = `${file}.${process.version}-${process.arch}.${body.slice(9, 25)}.v8`;
      const fd = fs.openSync(cache, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      try {
        const st = fs.fstatSync(fd);
        if (st.isFile() && st.size < 33554432 && st.mtimeMs >= fs.statSync(file).mtimeMs) {
          const data = Buffer.allocUnsafe(st.size);
          if (fs.readSync(fd, data) === data.length) cachedData = data;
        }
      } finally {
        fs.closeSync(fd);
      }
    } catch {}
  }
  let script;
  try {
    script = new (process.getBuiltinModule('node:vm').Script)(
      `(function (exports, require, module, __filename, __dirname) {${body}\n})`,
      { filename: file, cachedData },
    );
  } catch (err) {
    process.stderr.write(`sockit: internal error: cannot load ${file}: ${err}; run npm run build\n`);
    process.exit(70);
  }
  globalThis[Symbol.for('sockit.import')] = (url) => import(url);
  script.runInThisContext().call({}, {}, require, { exports: {} }, file, file.slice(0, file.lastIndexOf('/')));
}
EOF
  } >"$part" 2>/dev/null &&
    chmod 755 "$part" && mv -f "$part" "$lib/sockit.cjs" && ln -sfn "$lib/sockit.cjs" "$tmp"; then
    return 0
  fi
  rm -f "$part" "$tmp"
  return 1
}
