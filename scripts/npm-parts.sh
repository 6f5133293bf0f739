#!/usr/bin/env bash
# Fills regstack's npm cache with the packages of every committed Node.js program (their
# package-lock.json), so that the engine tests install them with `npm ci --offline`.
#
#   scripts/npm-parts.sh              fetch whatever a lockfile needs that the cache lacks
#   scripts/npm-parts.sh --cache-dir  print the cache directory only (no fetch)
#
# The programs: PROGRAMS below, each a directory with package.json and package-lock.json
# (@pulumi/pulumi at the CLI's version, TypeScript). Each is installed once with `npm ci` into a
# throwaway directory, which leaves every tarball and package document in the cache; a stamp named
# after the lockfiles' hash and npm's version marks the cache warm, so a warm run fetches nothing.
# Why not the tarballs alone: the machine's npm writes lockfiles without download addresses
# (omit-lockfile-registry-resolved), so an offline `npm ci` looks each package up in the cached
# package documents too.
#
# Cache and lock: ~/.cache/regstack/npm (npm's own cache layout), one fetch at a time under its
# lock. A test points npm at it with npm_config_cache and npm_config_offline=true.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROGRAMS=(tests/e2e/typescript/smoke docs/examples/typescript)
CACHE="${REGSTACK_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/regstack/npm}"

if [[ "${1:-}" == "--cache-dir" ]]; then
  echo "$CACHE"
  exit 0
fi

log() { printf '[npm-parts] %s\n' "$*" >&2; }
command -v npm >/dev/null || { log "npm is missing (Debian: the nodejs package; make system-deps)"; exit 1; }

mkdir -p "$CACHE/stamps"
exec 9>"$CACHE/.lock"
flock 9

for program in "${PROGRAMS[@]}"; do
  key="$(cd "$ROOT/$program" && { cat package.json package-lock.json; npm --version; } | sha256sum | cut -c1-16)"
  stamp="$CACHE/stamps/${program//\//_}-$key"
  [[ -f "$stamp" ]] && continue
  log "fetching the packages of $program (log: $stamp.log)"
  scratch="$(mktemp -d)"
  cp "$ROOT/$program/package.json" "$ROOT/$program/package-lock.json" "$scratch/"
  start=$SECONDS
  # No install scripts: only the downloads are wanted here; `npm ci` in the test runs them.
  if ! (cd "$scratch" && npm ci --cache "$CACHE" --ignore-scripts --no-audit --no-fund) >"$stamp.log" 2>&1; then
    log "FAILED; last lines of $stamp.log:"
    tail -n 20 "$stamp.log" >&2
    rm -rf "$scratch"
    exit 1
  fi
  rm -rf "$scratch"
  : >"$stamp"
  log "fetched in $((SECONDS - start))s"
done
echo "npm-parts: $CACHE"
