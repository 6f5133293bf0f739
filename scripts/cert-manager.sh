#!/usr/bin/env bash
# Builds cert-manager's controller (cmd/controller) for the test cluster, from upstream sources
# no reachable registry serves, and runs it out-of-cluster against scripts/cluster.sh's API server.
#
#   scripts/cert-manager.sh build      build if missing (cached), print the binary's path
#   scripts/cert-manager.sh --bin      print the binary's path only (no build)
#
# Why a local build: the controller is a nested Go module (controller-binary) the Go module proxy
# does not serve, and it imports github.com/Venafi/vcert/v5 (the Venafi issuer is compiled into
# its default configuration), which the proxy does not serve either. Both sources sit in the
# vendor directory (README there: provenance and the recipe). Everything else, including
# github.com/cert-manager/cert-manager itself at the same version, comes from the proxy.
#
# Environment:
#   REGSTACK_VENDOR   directory holding the upstream source archives (default $ROOT/../shared/vendor)
#   REGSTACK_CACHE    cache root (default ~/.cache/regstack)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=cluster-versions.env
source "$ROOT/scripts/cluster-versions.env"
VENDOR="${REGSTACK_VENDOR:-$ROOT/../shared/vendor}"
CACHE_BASE="${REGSTACK_CACHE:-$HOME/.cache/regstack}/cert-manager"
GO_VERSION="$(go env GOVERSION)"
CACHE="$CACHE_BASE/controller-$CERT_MANAGER_VERSION-main-$CERT_MANAGER_CONTROLLER_SOURCE-vcert-$VCERT_VERSION-$GO_VERSION"
BINARY="$CACHE/cert-manager-controller"

log() { printf '[cert-manager] %s\n' "$*" >&2; }

build() {
  # Built already: no lock, so that a build of another version never holds up a cluster start.
  if [[ -x "$BINARY" ]]; then
    echo "$BINARY"
    return 0
  fi
  mkdir -p "$CACHE"
  exec 9>"$CACHE.lock"
  flock 9
  if [[ -x "$BINARY" ]]; then
    echo "$BINARY"
    return 0
  fi
  local controller="$VENDOR/cert-manager-controller-$CERT_MANAGER_CONTROLLER_SOURCE.tar.gz"
  local vcert="$VENDOR/vcert-$VCERT_VERSION.tar.gz"
  local f
  for f in "$controller" "$vcert"; do
    [[ -f "$f" ]] || { log "missing $f (set REGSTACK_VENDOR to the directory holding it)"; exit 1; }
  done
  local work="$CACHE/work"
  rm -rf "$work"
  mkdir -p "$work"
  tar -xzf "$controller" -C "$work"
  tar -xzf "$vcert" -C "$work"
  local src="$work/cert-manager-controller-$CERT_MANAGER_CONTROLLER_SOURCE"
  log "building cmd/controller $CERT_MANAGER_VERSION (main module from $CERT_MANAGER_CONTROLLER_SOURCE; log: $CACHE/build.log)"
  local start=$SECONDS
  (
    cd "$src"
    export CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false -mod=mod" GOTOOLCHAIN=local
    # Upstream builds it inside the monorepo (replace => ../../); here the parent module comes
    # from the proxy at CERT_MANAGER_VERSION (cluster-versions.env: why the main module's source
    # may be an earlier patch release), and vcert from its extracted source.
    go mod edit -dropreplace github.com/cert-manager/cert-manager \
      -require "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION" \
      -replace "github.com/Venafi/vcert/v5=$work/vcert-$VCERT_VERSION"
    go mod tidy
    go build -ldflags "-s -w -X github.com/cert-manager/cert-manager/pkg/util.AppVersion=$CERT_MANAGER_VERSION" \
      -o "$BINARY.tmp" .
  ) >"$CACHE/build.log" 2>&1 || { tail -n 30 "$CACHE/build.log" >&2; log "build failed"; exit 1; }
  mv "$BINARY.tmp" "$BINARY"
  rm -rf "$work"
  log "built in $((SECONDS - start)) s: $BINARY"
  echo "$BINARY"
}

case "${1:-}" in
  build) build ;;
  --bin) echo "$BINARY" ;;
  *) echo "usage: $0 build|--bin" >&2; exit 2 ;;
esac
