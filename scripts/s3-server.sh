#!/usr/bin/env bash
# Builds SeaweedFS (`weed`), the real S3 server the scale-out tests put a shared bucket on,
# from the Go module proxy at the version pinned in scripts/s3-server.env.
#
#   scripts/s3-server.sh        build it if missing, print its path and version
#   scripts/s3-server.sh --bin  print the binary path only (no build)
#
# Recipe and cache in scripts/go-build-cache.sh:
# ~/.cache/regstack/s3-server/<hash>/bin/weed, <hash> from s3-server.env and the Go version.
# A cold build takes about as long as one toolchain component; a warm run is a no-op.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=s3-server.env
source "$ROOT/scripts/s3-server.env"
# shellcheck source=go-build-cache.sh
source "$ROOT/scripts/go-build-cache.sh"
gobuild_init s3-server "$ROOT/scripts/s3-server.env" weed "${REGSTACK_S3_SERVER_CACHE:-}"
gobuild_bin_flag "$@"

build() {
  # SeaweedFS swaps tyler-smith/go-bip39 for cosmos/go-bip39: the wrapper re-declares it.
  gobuild_wrapper "$SEAWEEDFS_MODULE@$SEAWEEDFS_VERSION"
  go build -ldflags "-s -w -X $SEAWEEDFS_MODULE/weed/util/version.COMMIT=${SEAWEEDFS_VERSION##*-}" \
    -o "$BIN.tmp" "$SEAWEEDFS_MODULE/weed"
}
gobuild_once "SeaweedFS $SEAWEEDFS_VERSION" build

echo "s3-server: $BIN"
printf '  %-28s %s\n' weed "$("$BIN" version 2>&1 | head -n 1)"
