#!/usr/bin/env bash
# Builds SeaweedFS (`weed`), the real S3 server the scale-out tests put a shared bucket on,
# from the Go module proxy at the version pinned in scripts/s3-server.env.
#
#   scripts/s3-server.sh        build it if missing, print its path and version
#   scripts/s3-server.sh --bin  print the binary path only (no build)
#
# Same recipe as scripts/toolchain.sh (a generated wrapper module, because `go install
# pkg@version` refuses modules with replace directives), with a cache of its own:
# ~/.cache/regstack/s3-server/<hash>/bin/weed, <hash> from s3-server.env and the Go version.
# A cold build takes about as long as one toolchain component; a warm run is a no-op.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=s3-server.env
source "$ROOT/scripts/s3-server.env"

export CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false -mod=mod"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
GO_VERSION="$(go env GOVERSION)"
KEY="$( { grep -v '^#' "$ROOT/scripts/s3-server.env"; echo "go=$GO_VERSION"; echo "recipe=1"; } | sha256sum | cut -c1-16)"
CACHE_BASE="${REGSTACK_S3_SERVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/regstack/s3-server}"
CACHE="$CACHE_BASE/$KEY"
BIN="$CACHE/bin/weed"
WORK="$CACHE/work"
LOG="$CACHE/build.log"

if [[ "${1:-}" == "--bin" ]]; then
  echo "$BIN"
  exit 0
fi

mkdir -p "$CACHE/bin"
# One build at a time per cache (a test session or another shell may be here).
exec 9>"$CACHE/.lock"
flock 9

log() { printf '[s3-server] %s\n' "$*" >&2; }

build() {
  local mv="$SEAWEEDFS_MODULE@$SEAWEEDFS_VERSION" gomod
  rm -rf "$WORK"
  mkdir -p "$WORK"
  cd "$WORK"
  go mod init regstack.invalid/s3-server >/dev/null 2>&1
  # Replace directives of a dependency's go.mod do not apply to the module that requires
  # it: re-declare them here (SeaweedFS swaps tyler-smith/go-bip39 for cosmos/go-bip39).
  gomod="$(go mod download -json "$mv" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("GoMod") or sys.exit(d.get("Error")))')"
  go mod edit -json "$gomod" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    old, new = r["Old"], r["New"]
    if new["Path"].startswith("."):
        sys.exit("local replace %s => %s: the recipe needs a published module" % (old["Path"], new["Path"]))
    lhs = old["Path"] + ("@" + old["Version"] if old.get("Version") else "")
    print("-replace=%s=%s@%s" % (lhs, new["Path"], new["Version"]))
' | xargs -r go mod edit
  go get "$mv"
  go build -ldflags "-s -w -X $SEAWEEDFS_MODULE/weed/util/version.COMMIT=${SEAWEEDFS_VERSION##*-}" \
    -o "$BIN.tmp" "$SEAWEEDFS_MODULE/weed"
  # Renamed only once linked, so a binary in place is always a complete build.
  mv "$BIN.tmp" "$BIN"
}

if [[ ! -x "$BIN" ]]; then
  log "building SeaweedFS $SEAWEEDFS_VERSION (log: $LOG)"
  start=$SECONDS
  set +e
  ( set -euo pipefail; build ) >"$LOG" 2>&1
  rc=$?
  set -e
  if [[ $rc -ne 0 ]]; then
    log "FAILED after $((SECONDS - start))s; last lines of $LOG:"
    tail -n 20 "$LOG" >&2
    exit 1
  fi
  log "built in $((SECONDS - start))s, $(du -h "$BIN" | cut -f1)"
fi

echo "s3-server: $BIN"
printf '  %-28s %s\n' weed "$("$BIN" version 2>&1 | head -n 1)"
