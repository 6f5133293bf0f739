# Sourced by the scripts that build one Go program from the Go module proxy at a version
# pinned in an env file (scripts/s3-server.sh, scripts/registry-server.sh), so that they
# share one recipe: a generated wrapper module, because `go install pkg@version` refuses
# modules with replace directives, and a cache keyed by the env file and the Go version,
# ~/.cache/regstack/<name>/<key>/bin/<program>, built once under a lock.
#
#   gobuild_init NAME ENV_FILE PROGRAM [CACHE_DIR]   sets CACHE, BIN, WORK, LOG
#   gobuild_wrapper MODULE@VERSION                   a module in $WORK that requires it
#   gobuild_bin_flag "$@"                            with --bin: print $BIN and exit
#   gobuild_once LABEL FUNCTION                      runs FUNCTION (writes $BIN.tmp) if $BIN is missing

# shellcheck source=build-log.sh
source "$ROOT/scripts/build-log.sh"

export CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false -mod=mod"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

gobuild_init() {
  local name="$1" env_file="$2" program="$3" base="${4:-}" key
  GOBUILD_NAME="$name"
  key="$( { grep -v '^#' "$env_file"; echo "go=$(go env GOVERSION)"; echo "recipe=1"; } | sha256sum | cut -c1-16)"
  CACHE="${base:-${XDG_CACHE_HOME:-$HOME/.cache}/regstack/$name}/$key"
  BIN="$CACHE/bin/$program"
  WORK="$CACHE/work"
  LOG="$CACHE/build.log"
}

gobuild_log() { printf '[%s] %s\n' "$GOBUILD_NAME" "$*" >&2; }

gobuild_bin_flag() {
  if [[ "${1:-}" == "--bin" ]]; then
    echo "$BIN"
    exit 0
  fi
}

gobuild_wrapper() {
  local gomod
  rm -rf "$WORK"
  mkdir -p "$WORK"
  cd "$WORK"
  go mod init "regstack.invalid/$GOBUILD_NAME" >/dev/null 2>&1
  # Replace directives of a dependency's go.mod do not apply to the module that requires
  # it: re-declare them here.
  gomod="$(go mod download -json "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("GoMod") or sys.exit(d.get("Error")))')"
  go mod edit -json "$gomod" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    old, new = r["Old"], r["New"]
    if new["Path"].startswith("."):
        sys.exit("local replace %s => %s: the recipe needs a published module" % (old["Path"], new["Path"]))
    lhs = old["Path"] + ("@" + old["Version"] if old.get("Version") else "")
    print("-replace=%s=%s@%s" % (lhs, new["Path"], new["Version"]))
' | xargs -r go mod edit
  go get "$1"
}

gobuild_once() {
  local label="$1" fn="$2"
  mkdir -p "$CACHE/bin"
  # One build at a time per cache (a test session or another shell may be here).
  exec 9>"$CACHE/.lock"
  flock 9
  [[ -x "$BIN" ]] && return 0
  gobuild_log "building $label (log: $LOG)"
  logged_build "$LOG" "$fn" gobuild_log
  [[ $BUILD_RC -eq 0 ]] || exit 1
  # Renamed only once linked, so a binary in place is always a complete build.
  mv "$BIN.tmp" "$BIN"
  gobuild_log "built in ${BUILD_SECONDS}s, $(du -h "$BIN" | cut -f1)"
}
