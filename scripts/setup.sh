#!/usr/bin/env bash
# Sourced by scripts/serve, scripts/test and .ci/run: makes a fresh machine ready.
#  - Node 22 or newer on PATH: when the machine's is older, Node 24 from the npm registry
#    into .tools/ (npm install --prefix .tools node@24).
#  - the project's packages (npm ci, when package-lock.json changed since the last install)
#  - the build (dist/)
#  - the `sockit` launcher in .tools/bin (scripts/launcher.sh), and one line saying how to
#    put it on PATH when it is not there yet
#  - with SOCKIT_TEST_TOOLS=1: the system programs the test suites talk to (OpenBSD netcat,
#    socat, openssl, ss, runuser, gcc; zsh and fish for the completion scripts, groff and
#    man for the man page, curl for the HTTP server's tests, chromium for the browser
#    suite), from Debian's packages when missing.
set -euo pipefail
SOCKIT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$SOCKIT_ROOT"

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ -x .tools/node_modules/.bin/node ]; then
  export PATH="$SOCKIT_ROOT/.tools/node_modules/.bin:$PATH"
fi
if [ "$(node_major)" -lt 22 ]; then
  echo "setup: Node $(node -v 2>/dev/null || echo none) is older than 22; installing Node 24 into .tools/" >&2
  npm install --prefix .tools --no-save --no-package-lock --no-audit --no-fund node@24 >&2
  export PATH="$SOCKIT_ROOT/.tools/node_modules/.bin:$PATH"
  if [ "$(node_major)" -lt 22 ]; then
    echo "setup: could not get Node 22 or newer" >&2
    exit 1
  fi
fi

if [ "${SOCKIT_TEST_TOOLS:-0}" = 1 ]; then
  missing=()
  nc_help="$(nc -h 2>&1 || true)"
  [[ $nc_help == *OpenBSD* ]] || missing+=(netcat-openbsd)
  command -v socat >/dev/null || missing+=(socat)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v ss >/dev/null || missing+=(iproute2)
  command -v runuser >/dev/null || missing+=(util-linux)
  command -v gcc >/dev/null || missing+=(gcc libc6-dev)
  command -v zsh >/dev/null || missing+=(zsh)
  command -v fish >/dev/null || missing+=(fish)
  command -v groff >/dev/null || missing+=(groff-base)
  command -v man >/dev/null || missing+=(man-db)
  command -v python3 >/dev/null || missing+=(python3-minimal)
  command -v curl >/dev/null || missing+=(curl)
  command -v chromium >/dev/null || missing+=(chromium)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "setup: the tests need: ${missing[*]}; install them (sudo apt-get install -y ${missing[*]})" >&2
      exit 1
    fi
    echo "setup: installing ${missing[*]}" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  fi
fi

stamp=node_modules/.sockit-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund >&2
  cp package-lock.json "$stamp"
fi
npm run --silent build >&2

source "$SOCKIT_ROOT/scripts/launcher.sh"
write_launcher "$SOCKIT_ROOT/.tools/bin" "$(command -v node)" "$SOCKIT_ROOT"
if [ "$(command -v sockit 2>/dev/null)" != "$SOCKIT_ROOT/.tools/bin/sockit" ]; then
  echo "setup: to run sockit from any folder: export PATH=\"$SOCKIT_ROOT/.tools/bin:\$PATH\" (add it to ~/.profile to keep it)" >&2
fi
