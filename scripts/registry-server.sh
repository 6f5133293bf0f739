#!/usr/bin/env bash
# Builds CNCF Distribution's `registry` (the 3.x line regstack deploys by default) from the Go
# module proxy at the version pinned in scripts/registry-server.env, for the real-registry tests.
# Debian's docker-registry (2.8.2) stays for the tests about the 2.x line.
#
#   scripts/registry-server.sh        build it if missing, print its path and version
#   scripts/registry-server.sh --bin  print the binary path only (no build)
#
# Recipe and cache in scripts/go-build-cache.sh:
# ~/.cache/regstack/registry/<hash>/bin/registry, <hash> from registry-server.env and the Go version.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=registry-server.env
source "$ROOT/scripts/registry-server.env"
# shellcheck source=go-build-cache.sh
source "$ROOT/scripts/go-build-cache.sh"
gobuild_init registry "$ROOT/scripts/registry-server.env" registry "${REGSTACK_REGISTRY_CACHE:-}"
gobuild_bin_flag "$@"

build() {
  gobuild_wrapper "$DISTRIBUTION_MODULE@$DISTRIBUTION_VERSION"
  # `registry --version` prints what the release build stamps here (else "v3.1.2+unknown").
  go build -ldflags "-s -w -X $DISTRIBUTION_MODULE/version.version=$DISTRIBUTION_VERSION" \
    -o "$BIN.tmp" "$DISTRIBUTION_MODULE/cmd/registry"
}
gobuild_once "Distribution $DISTRIBUTION_VERSION" build

echo "registry-server: $BIN"
printf '  %-28s %s\n' registry "$("$BIN" --version 2>&1 | head -n 1)"
