#!/usr/bin/env bash
# Builds Harbor's Go programs from the vendored Harbor source, for the stand-in images the Harbor
# node test runs (scripts/harbor-images.sh packs them): core, jobservice, registryctl and the
# exporter from ../shared/vendor/harbor-src-<version>.tar.gz, and `registry` from Harbor's own
# Distribution fork (harbor-distribution-*.tar.gz). No registry serves goharbor's images here, and
# the Go module proxy does not serve Harbor's module: the steps are the ones the vendor README
# records (go-swagger from the proxy generates the API server, pinniped's one package replaced
# from its extract, the fork built in GOPATH mode).
#
#   scripts/harbor-build.sh            build what is missing, print the bin directory
#   scripts/harbor-build.sh --bin-dir  print the bin directory only (no build)
#
# Cache: ~/.cache/regstack/harbor-build/<key>/bin, <key> from the archives' names, go-swagger's
# version, the Go version and the recipe. CPU heavy (core alone links for ~90 s on 2 cores):
# built once under a lock, never by the tests.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR="${REGSTACK_VENDOR:-$ROOT/../shared/vendor}"
HARBOR_SRC="harbor-src-v2.15.2"
DISTRIBUTION_SRC="harbor-distribution-release-2.8-ea065fe"
PINNIPED_SRC="pinniped-v0.37.0-pkce"
GO_SWAGGER_VERSION="v0.33.1"
export CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
KEY="$(printf '%s\n' "$HARBOR_SRC" "$DISTRIBUTION_SRC" "$PINNIPED_SRC" "swagger=$GO_SWAGGER_VERSION" \
  "go=$(go env GOVERSION)" "recipe=1" | sha256sum | cut -c1-16)"
CACHE="${REGSTACK_HARBOR_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/regstack/harbor-build}/$KEY"
BIN="$CACHE/bin"
PROGRAMS=(core jobservice registryctl exporter registry)

if [[ "${1:-}" == "--bin-dir" ]]; then
  echo "$BIN"
  exit 0
fi

# shellcheck source=build-log.sh
source "$ROOT/scripts/build-log.sh"
log() { printf '[harbor-build] %s\n' "$*" >&2; }

mkdir -p "$BIN" "$CACHE/logs"
exec 9>"$CACHE/.lock"
flock 9

# The Harbor tree with its API server generated and pinniped replaced, prepared once.
harbor_tree() {
  local d="$CACHE/work/harbor"
  [[ -f "$d/.ready" ]] && return
  rm -rf "$CACHE/work"
  mkdir -p "$CACHE/work"
  tar -xzf "$VENDOR/$HARBOR_SRC.tar.gz" -C "$CACHE/work"
  mv "$CACHE/work/harbor-v2.15.2" "$d"
  tar -xzf "$VENDOR/$PINNIPED_SRC.tar.gz" -C "$CACHE/work"
  GOBIN="$CACHE/tools" GOFLAGS= go install "github.com/go-swagger/go-swagger/cmd/swagger@$GO_SWAGGER_VERSION"
  (cd "$d" && "$CACHE/tools/swagger" generate server --template-dir=tools/swagger/templates --exclude-main \
    --additional-initialism=CVE --additional-initialism=GC --additional-initialism=OIDC \
    -f api/v2.0/swagger.yaml -A harbor --target src/server/v2.0)
  (cd "$d/src" && go mod edit -replace "go.pinniped.dev=$CACHE/work/pinniped-v0.37.0")
  touch "$d/.ready"
}

build_harbor_program() {
  harbor_tree
  local pkg="./$program" version
  [[ $program == exporter ]] && pkg=./cmd/exporter
  version="$(cat "$CACHE/work/harbor/VERSION")"
  cd "$CACHE/work/harbor/src"
  # Harbor's Makefile stamps the release version the same way (core's /api/v2.0/systeminfo shows it).
  go build -mod=mod -ldflags "-s -w -X github.com/goharbor/harbor/src/pkg/version.ReleaseVersion=$version" \
    -o "$BIN/$program.tmp" "$pkg"
}

build_registry() {
  local gopath="$CACHE/work/gopath" d
  d="$gopath/src/github.com/docker/distribution"
  rm -rf "$gopath"
  mkdir -p "$d"
  tar -xzf "$VENDOR/$DISTRIBUTION_SRC.tar.gz" -C "$d" --strip-components=1
  cd "$d"
  GOPATH="$gopath" GO111MODULE=off GOFLAGS= go build -trimpath \
    -ldflags "-s -w -X github.com/docker/distribution/version.Version=v2.8.3-harbor" \
    -o "$BIN/registry.tmp" ./cmd/registry
}

for program in "${PROGRAMS[@]}"; do
  [[ -x "$BIN/$program" ]] && continue
  log "building $program (log: $CACHE/logs/$program.log)"
  if [[ $program == registry ]]; then
    logged_build "$CACHE/logs/$program.log" build_registry log
  else
    logged_build "$CACHE/logs/$program.log" build_harbor_program log
  fi
  [[ $BUILD_RC -eq 0 ]] || exit 1
  # Renamed only once linked: a binary in place is always a complete build.
  mv "$BIN/$program.tmp" "$BIN/$program"
  log "built $program in ${BUILD_SECONDS}s"
done

echo "harbor binaries: $BIN"
