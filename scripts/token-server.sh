#!/usr/bin/env bash
# Builds cesanta/docker_auth's `auth_server` (the token server regstack deploys for
# Distribution's `auth.token`) at the version pinned in scripts/token-server.env, for the
# real-software tests. A user with internet runs its upstream image instead
# (cesanta/docker_auth:<version>).
#
#   scripts/token-server.sh        build it if missing, print its path
#   scripts/token-server.sh --bin  print the binary path only (no build)
#
# Why from the vendor archive: the Go module proxy does not serve github.com/cesanta/docker_auth
# (every dependency it does serve). Cache and lock: scripts/go-build-cache.sh,
# ~/.cache/regstack/token-server/<hash>/bin/auth_server.
#
# Environment:
#   REGSTACK_VENDOR   directory holding docker_auth-<version>.tar.gz (default $ROOT/../shared/vendor)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=token-server.env
source "$ROOT/scripts/token-server.env"
# shellcheck source=go-build-cache.sh
source "$ROOT/scripts/go-build-cache.sh"
VENDOR="${REGSTACK_VENDOR:-$ROOT/../shared/vendor}"
gobuild_init token-server "$ROOT/scripts/token-server.env" auth_server
gobuild_bin_flag "$@"

build() {
  local archive="$VENDOR/docker_auth-$DOCKER_AUTH_VERSION.tar.gz"
  [[ -f "$archive" ]] || { echo "missing $archive (set REGSTACK_VENDOR to the directory holding it)"; exit 1; }
  rm -rf "$WORK"
  mkdir -p "$WORK"
  tar -xzf "$archive" -C "$WORK"
  cd "$WORK/docker_auth-$DOCKER_AUTH_VERSION/auth_server"
  # The static users and ACLs need no cgo (only the sqlite backend does); main.Version is what
  # upstream's Makefile stamps.
  go build -ldflags "-s -w -X main.Version=$DOCKER_AUTH_VERSION" -o "$BIN.tmp" .
  rm -rf "$WORK"
}
gobuild_once "docker_auth $DOCKER_AUTH_VERSION" build

echo "token-server: $BIN"
