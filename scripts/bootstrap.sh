#!/bin/sh
# Makes a fresh Debian/Ubuntu checkout runnable: installs the servers the project starts itself
# (unless the matching *_URL points at an external one), python3-msgpack for the Python client
# test, and the npm dependencies.
# Called by `npm start` and `npm test` before anything else, so it must stay idempotent and
# silent (well under a second) when everything is already in place.
set -eu

cd "$(dirname "$0")/.."

say() { printf 'affstream bootstrap: %s\n' "$*" >&2; }
fail() { say "$*"; exit 1; }

# Debian installs the servers into /usr/sbin, which a non-root PATH often lacks.
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/local/sbin/$1" ]; }

log=${TMPDIR:-/tmp}/affstream-bootstrap.$$.log
trap 'rm -f "$log"' EXIT

# Runs a command as root, through sudo when needed; its output goes to $log and is shown only on failure.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@" >>"$log" 2>&1
  elif command -v sudo >/dev/null 2>&1; then
    sudo DEBIAN_FRONTEND=noninteractive "$@" >>"$log" 2>&1
  else
    fail "need root or sudo to run: $* (or set NATS_URL, CLICKHOUSE_URL and REDIS_URL to existing servers)"
  fi
}

packages=""
have nats-server || [ -n "${NATS_URL:-}" ] || packages="$packages nats-server"
have clickhouse-server || [ -n "${CLICKHOUSE_URL:-}" ] || packages="$packages clickhouse-server clickhouse-client"
have redis-server || [ -n "${REDIS_URL:-}" ] || packages="$packages redis-server"
# The Python client test (test/clients/) runs Debian's interpreter, where python3-msgpack installs,
# even when another python3 comes first on PATH.
py_msgpack() { for py in /usr/bin/python3 python3; do "$py" -c 'import msgpack' >/dev/null 2>&1 && return 0; done; return 1; }
py_msgpack || packages="$packages python3-msgpack"

if [ -n "$packages" ]; then
  command -v apt-get >/dev/null 2>&1 ||
    fail "missing$packages and no apt-get here: install them yourself or set NATS_URL, CLICKHOUSE_URL, REDIS_URL"
  say "installing$packages (one-time)"
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086 # $packages is a word list on purpose
  if ! as_root apt-get update || ! as_root apt-get install -y --no-install-recommends $packages; then
    tail -n 30 "$log" >&2
    fail "could not install$packages (apt-get output above)"
  fi
  # wrk only serves benchmarks (autocannon is the fallback), so its absence must not stop a start.
  have wrk || as_root apt-get install -y --no-install-recommends wrk || say "wrk not installed; benchmarks fall back to autocannon"
fi

command -v npm >/dev/null 2>&1 || fail "npm not found: install Node.js 20.19 or newer"

# npm ci wipes and rebuilds node_modules, so run it only when the lock file differs from the one installed.
stamp=node_modules/.affstream-lock-hash
want=$(cksum <package-lock.json)
# A tree installed before this script existed has no stamp: trust it when npm's own record of the
# install is newer than the lock file, instead of wiping it.
if [ ! -f "$stamp" ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  printf '%s\n' "$want" >"$stamp"
fi
if [ ! -d node_modules ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing npm dependencies (npm ci)"
  if ! npm ci --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    fail "npm ci failed (output above)"
  fi
  printf '%s\n' "$want" >"$stamp"
fi
