#!/usr/bin/env bash
# Sourced by scripts/setup.sh (and by the CLI tests): writes the `sockit` launcher, a small
# sh script that runs this checkout's dist/cli/main.cjs with the Node that set-up found, so
# that `sockit` works from any folder once its folder is on PATH (no npm link, no root);
# and `man sockit` too, as man-db looks for the pages of a PATH folder DIR in DIR/../share/man.

# write_launcher DIR NODE ROOT: writes DIR/sockit running NODE on ROOT/dist/cli/main.cjs, and
# links DIR/../share/man/man1/sockit.1 to the man page the build wrote, ROOT/dist/man/sockit.1.
write_launcher() {
  local dir="$1" node="$2" root="$3"
  mkdir -p "$dir"
  # Single-quoted in the script; a ' inside a path becomes '\''.
  local q_node="'${node//\'/\'\\\'\'}'" q_main="'${root//\'/\'\\\'\'}/dist/cli/main.cjs'"
  local tmp="$dir/.sockit.$$"
  # --no-concurrent-sparkplug: see NODE_FLAGS in src/cli/main.ts (a hang at exit).
  printf '#!/bin/sh\n# Written by scripts/setup.sh: sockit from %s\nexec %s --no-concurrent-sparkplug %s "$@"\n' \
    "$root" "$q_node" "$q_main" >"$tmp"
  chmod 755 "$tmp"
  mv -f "$tmp" "$dir/sockit"
  mkdir -p "$dir/../share/man/man1"
  ln -sfn "$root/dist/man/sockit.1" "$dir/../share/man/man1/sockit.1"
}
