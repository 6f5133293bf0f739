#!/usr/bin/env bash
# Builds the node's Kubernetes binaries (kubelet, kube-scheduler, kube-proxy) at the toolchain's
# pinned Kubernetes version, with the toolchain's recipe (a wrapper module requiring
# k8s.io/kubernetes with its staging replaces re-declared), under their own cache key so that
# scripts/toolchain.sh's key (and its hour-long cold build) stays as it is.
#
#   scripts/node-build.sh          build what is missing, print the bin directory's versions
#   scripts/node-build.sh --bin-dir  print the bin directory only (no build)
#
# Cache: ~/.cache/regstack/node/<key>/bin, <key> from KUBERNETES_VERSION, the Go version and
# the recipe. The wrapper module's go.mod/go.sum are the toolchain's own (same version, same
# replaces), so the Go build cache warmed by kube-apiserver makes these builds mostly links.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KUBERNETES_VERSION="$(sed -n 's/^KUBERNETES_VERSION=//p' "$ROOT/scripts/versions.env")"
export CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false -mod=mod"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
KEY="$(printf 'kubernetes=%s\ngo=%s\nrecipe=1\n' "$KUBERNETES_VERSION" "$(go env GOVERSION)" | sha256sum | cut -c1-16)"
CACHE="${REGSTACK_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/regstack/node}/$KEY"
BIN="$CACHE/bin"
PROGRAMS=(kubelet kube-scheduler kube-proxy)

if [[ "${1:-}" == "--bin-dir" ]]; then
  echo "$BIN"
  exit 0
fi

# shellcheck source=build-log.sh
source "$ROOT/scripts/build-log.sh"
# shellcheck source=k8s-version.sh
source "$ROOT/scripts/k8s-version.sh"

log() { printf '[node-build] %s\n' "$*" >&2; }

mkdir -p "$BIN" "$CACHE/logs"
exec 9>"$CACHE/.lock"
flock 9

wrapper() {
  local d="$CACHE/work" toolchain_work
  [[ -f "$d/.ready" ]] && { cd "$d"; return; }
  # The toolchain's wrapper for kube-apiserver: built first (cluster.sh needs it), same version.
  toolchain_work="$(dirname "$(bash "$ROOT/scripts/toolchain.sh" --bin-dir)")/work/kubernetes"
  [[ -f "$toolchain_work/.ready" ]] || bash "$ROOT/scripts/toolchain.sh" kube-apiserver >&2
  rm -rf "$d"
  mkdir -p "$d"
  cp "$toolchain_work/go.mod" "$toolchain_work/go.sum" "$d/"
  cd "$d"
  go mod edit -module regstack.invalid/node/kubernetes
  touch .ready
}

build_program() {
  wrapper
  go build -ldflags "-s -w $(k8s_version_ldflags)" -o "$BIN/$program.tmp" "k8s.io/kubernetes/cmd/$program"
}

for program in "${PROGRAMS[@]}"; do
  [[ -x "$BIN/$program" ]] && continue
  log "building $program v$KUBERNETES_VERSION (log: $CACHE/logs/$program.log)"
  logged_build "$CACHE/logs/$program.log" build_program log
  [[ $BUILD_RC -eq 0 ]] || exit 1
  # Renamed only once linked: a binary in place is always a complete build.
  mv "$BIN/$program.tmp" "$BIN/$program"
  log "built $program in ${BUILD_SECONDS}s"
done

echo "node binaries: $BIN"
for program in "${PROGRAMS[@]}"; do
  printf '  %-16s %s\n' "$program" "$("$BIN/$program" --version 2>&1 | head -n 1)"
done
