#!/usr/bin/env bash
# Builds the Pulumi engine toolchain and a test Kubernetes control plane from
# the Go module proxy, at the versions pinned in scripts/versions.env.
#
#   scripts/toolchain.sh            build whatever is missing, print versions
#   scripts/toolchain.sh --bin-dir  print the bin directory only (no build)
#   scripts/toolchain.sh NAME...    build only these components
#
# Components: pulumi language-python command-provider kubernetes-provider etcd
#             kube-apiserver kube-controller-manager kubectl
#
# Nothing here downloads a prebuilt binary: every binary is compiled locally
# with `go build` inside a small generated wrapper module (under the cache),
# because `go install pkg@version` refuses modules with replace directives.
# Two sources the module proxy does not serve (Pulumi's Python language host,
# the pulumi-command provider) are read from the vendor directory,
# $REGSTACK_VENDOR (default: ../shared/vendor beside the project), where they
# are unmodified upstream release extracts; their dependencies still come from
# the module proxy.
# The result is cached in ~/.cache/regstack/toolchain/<hash>/bin, where <hash>
# is derived from versions.env and the Go version, so a warm run is a no-op.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=versions.env
source "$ROOT/scripts/versions.env"
# shellcheck source=build-log.sh
source "$ROOT/scripts/build-log.sh"
# shellcheck source=k8s-version.sh
source "$ROOT/scripts/k8s-version.sh"
VENDOR="${REGSTACK_VENDOR:-$ROOT/../shared/vendor}"

export CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false -mod=mod"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
GO_VERSION="$(go env GOVERSION)"
KEY="$( { grep -v '^#' "$ROOT/scripts/versions.env"; echo "go=$GO_VERSION"; echo "recipe=2"; } | sha256sum | cut -c1-16)"
CACHE_BASE="${REGSTACK_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/regstack/toolchain}"
CACHE="$CACHE_BASE/$KEY"
BIN="$CACHE/bin"
WORK="$CACHE/work"
STAMPS="$CACHE/stamps"
LOGS="$CACHE/logs"

if [[ "${1:-}" == "--bin-dir" ]]; then
  echo "$BIN"
  exit 0
fi

mkdir -p "$BIN" "$WORK" "$STAMPS" "$LOGS"
# One build at a time per cache (another shell or test session may be here).
exec 9>"$CACHE/.lock"
flock 9
LDFLAGS_BASE="-s -w"

log() { printf '[toolchain] %s\n' "$*" >&2; }

# new_wrapper DIR NAME: an empty module in DIR to build third-party mains from.
new_wrapper() {
  rm -rf "$1"
  mkdir -p "$1"
  (cd "$1" && go mod init "regstack.invalid/toolchain/$2" >/dev/null 2>&1)
}

# gomod_of MODULE@VERSION: path of that module's go.mod in the module cache.
gomod_of() {
  go mod download -json "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("GoMod") or sys.exit(d.get("Error")))'
}

# moddir_of MODULE@VERSION: extracted source directory in the module cache.
moddir_of() {
  go mod download -json "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error")))'
}

# copy_replaces MODULE@VERSION [LOCAL_VERSION]: re-declare in the current
# wrapper module the replace directives of that module's go.mod (they do not
# apply to it as a dependency). Local-path replaces (./staging/src/k8s.io/api)
# are turned into "<old path> => <old path>@LOCAL_VERSION" when LOCAL_VERSION
# is given and skipped otherwise.
copy_replaces() {
  local gomod
  gomod="$(gomod_of "$1")"
  go mod edit -json "$gomod" | python3 -c '
import json, sys
local_version = sys.argv[1]
for r in json.load(sys.stdin).get("Replace") or []:
    old, new = r["Old"], r["New"]
    lhs = old["Path"] + ("@" + old["Version"] if old.get("Version") else "")
    if new["Path"].startswith("."):
        if local_version:
            print("-replace=%s=%s@%s" % (lhs, old["Path"], local_version))
    else:
        print("-replace=%s=%s@%s" % (lhs, new["Path"], new["Version"]))
' "${2:-}" | xargs -r go mod edit
}

# vendored NAME: path of an upstream source archive in the vendor directory.
vendored() {
  [[ -f "$VENDOR/$1" ]] || { log "missing $VENDOR/$1 (set REGSTACK_VENDOR to the directory holding it)"; return 1; }
  echo "$VENDOR/$1"
}
LANGUAGE_PYTHON_SRC="pulumi-language-python-v$PULUMI_LANGUAGE_PYTHON_VERSION.tar.gz"
COMMAND_PROVIDER_SRC="pulumi-command-provider-v$COMMAND_PROVIDER_VERSION.tar.gz"

# A stamp marks a component as built. What it is built from is in the cache key:
# versions.env names the vendored archives by version too, so a warm cache needs
# no vendor directory.
stamp_ok() { [[ -f "$STAMPS/$1" ]]; }
stamp() { : > "$STAMPS/$1"; }

# --- pulumi CLI -------------------------------------------------------------
build_pulumi() {
  local d="$WORK/pulumi" v="v$PULUMI_VERSION"
  new_wrapper "$d" pulumi
  cd "$d"
  copy_replaces "github.com/pulumi/pulumi/pkg/v3@$v"
  go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$v" "github.com/pulumi/pulumi/sdk/v3@$v"
  go build -ldflags "$LDFLAGS_BASE -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$v" \
    -o "$BIN/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

# --- Python language host ---------------------------------------------------
# Pulumi's own host (sdk/python/cmd/pulumi-language-python at the release tag)
# and its pulumi-language-python-exec shim. Upstream builds it inside the pulumi
# repository against the sibling pkg/ and sdk/ directories (two local replace
# directives); here those are the released modules of the CLI's version. The
# CLI runs Python policy packs through the host (RunPlugin; the old
# pulumi-analyzer-policy-python is only its fallback when no host is found, and
# sdk/v3 no longer ships it); the plugin for Python components is in sdk/v3's
# python/dist.
build_language_python() {
  local d="$WORK/language-python" v="v$PULUMI_VERSION" sdk
  rm -rf "$d"
  mkdir -p "$d"
  tar -xzf "$(vendored "$LANGUAGE_PYTHON_SRC")" -C "$d" --strip-components=1
  cd "$d"
  go mod edit -dropreplace github.com/pulumi/pulumi/pkg/v3 -dropreplace github.com/pulumi/pulumi/sdk/v3 \
    -require "github.com/pulumi/pulumi/pkg/v3@$v" -require "github.com/pulumi/pulumi/sdk/v3@$v"
  go mod tidy
  go build -ldflags "$LDFLAGS_BASE -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_LANGUAGE_PYTHON_VERSION" \
    -o "$BIN/pulumi-language-python" .
  install -m 0755 pulumi-language-python-exec "$BIN/"
  sdk="$(moddir_of "github.com/pulumi/pulumi/sdk/v3@$v")"
  install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$BIN/"
}

# --- pulumi-resource-command ------------------------------------------------
# The pulumi-command provider's module (provider/ at the release tag) builds as
# is; the engine finds the binary on PATH like the other plugins here.
build_command_provider() {
  local d="$WORK/command-provider"
  rm -rf "$d"
  mkdir -p "$d"
  tar -xzf "$(vendored "$COMMAND_PROVIDER_SRC")" -C "$d" --strip-components=1
  cd "$d"
  go build -ldflags "$LDFLAGS_BASE -X github.com/pulumi/pulumi-command/provider/pkg/version.Version=$COMMAND_PROVIDER_VERSION" \
    -o "$BIN/pulumi-resource-command" ./cmd/pulumi-resource-command
}

# --- pulumi-resource-kubernetes ---------------------------------------------
# The provider embeds schema-embed.json and terraform-mapping-embed.json, which
# upstream's `go generate` (cmd/pulumi-resource-kubernetes/generate.go) writes
# from the module's schema.json with the release version stamped in; they are
# not in the module zip. We copy the main package into the wrapper module, run
# that generator there, and build the copy.
build_kubernetes_provider() {
  local d="$WORK/kubernetes-provider" m="github.com/pulumi/pulumi-kubernetes/provider/v4"
  local mv="$m@$KUBERNETES_PROVIDER_MODULE" src v="v$KUBERNETES_PROVIDER_VERSION"
  new_wrapper "$d" kubernetes-provider
  cd "$d"
  copy_replaces "$mv"
  # provider/go.mod replaces its sdk/v4 with ../sdk (same commit): use the
  # released sdk/v4 module of the same version instead.
  go get "$mv" "github.com/pulumi/pulumi-kubernetes/sdk/v4@$v"
  src="$(moddir_of "$mv")"
  mkdir -p provider
  cp "$src"/cmd/pulumi-resource-kubernetes/{main.go,generate.go,schema.json,terraform-mapping.json} provider/
  chmod -R u+w provider
  (cd provider && VERSION="$KUBERNETES_PROVIDER_VERSION" go run ./generate.go)
  [[ -s provider/schema-embed.json && -s provider/terraform-mapping-embed.json ]]
  rm provider/generate.go provider/schema.json provider/terraform-mapping.json
  go mod tidy >/dev/null 2>&1 || true
  go build -ldflags "$LDFLAGS_BASE -X $m/pkg/version.Version=$v" \
    -o "$BIN/pulumi-resource-kubernetes" ./provider
}

# --- etcd -------------------------------------------------------------------
build_etcd() {
  local d="$WORK/etcd" v="v$ETCD_VERSION"
  new_wrapper "$d" etcd
  cd "$d"
  cat > main.go <<'EOF'
// Generated by regstack scripts/toolchain.sh: the etcd binary is etcdmain.Main.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  copy_replaces "go.etcd.io/etcd/server/v3@$v"
  go get "go.etcd.io/etcd/server/v3@$v" "go.etcd.io/etcd/api/v3@$v" "go.etcd.io/etcd/client/pkg/v3@$v" \
         "go.etcd.io/etcd/client/v3@$v" "go.etcd.io/etcd/pkg/v3@$v"
  go mod tidy >/dev/null
  go build -ldflags "$LDFLAGS_BASE" -o "$BIN/etcd" .
}

# --- Kubernetes (kube-apiserver, kube-controller-manager, kubectl) ------------
k8s_wrapper() {
  local d="$WORK/kubernetes" v="v$KUBERNETES_VERSION"
  if [[ -f "$d/.ready" ]]; then cd "$d"; return; fi
  new_wrapper "$d" kubernetes
  cd "$d"
  # k8s.io/kubernetes replaces every staging module with ./staging/src/...;
  # the published staging modules carry the same code as v0.<minor>.<patch>.
  copy_replaces "k8s.io/kubernetes@$v" "v0.${KUBERNETES_VERSION#1.}"
  go get "k8s.io/kubernetes@$v"
  touch .ready
}

build_k8s_cmd() {
  k8s_wrapper
  go build -ldflags "$LDFLAGS_BASE $(k8s_version_ldflags)" -o "$BIN/$1" "k8s.io/kubernetes/cmd/$1"
}
build_kube_apiserver() { build_k8s_cmd kube-apiserver; }
build_kube_controller_manager() { build_k8s_cmd kube-controller-manager; }
build_kubectl() { build_k8s_cmd kubectl; }

ALL=(pulumi language-python command-provider kubernetes-provider etcd kube-apiserver kube-controller-manager kubectl)
want=("$@")
[[ ${#want[@]} -gt 0 ]] || want=("${ALL[@]}")

failed=()
for c in "${want[@]}"; do
  if stamp_ok "$c"; then continue; fi
  log "building $c (log: $LOGS/$c.log)"
  logged_build "$LOGS/$c.log" "build_${c//-/_}" log
  if [[ $BUILD_RC -eq 0 ]]; then
    stamp "$c"
    log "built $c in ${BUILD_SECONDS}s"
  else
    failed+=("$c")
  fi
done

# Versions of what is there.
echo "toolchain: $BIN"
for b in pulumi pulumi-language-python pulumi-resource-command pulumi-resource-kubernetes etcd kube-apiserver kube-controller-manager kubectl; do
  [[ -x "$BIN/$b" ]] || { printf '  %-28s %s\n' "$b" "(missing)"; continue; }
  case "$b" in
    # The CLI writes a log of every command under $PULUMI_HOME (default: the passwd home's
    # ~/.pulumi), so asking it its version gets a throwaway home.
    pulumi) home="$(mktemp -d)"; out="$(PULUMI_HOME="$home" "$BIN/$b" version 2>&1 || true)"; rm -rf "$home" ;;
    pulumi-language-python) out="$("$BIN/$b" -version 2>&1 || true)" ;;
    pulumi-resource-command) out="v$COMMAND_PROVIDER_VERSION (plugin reports its version over gRPC only)" ;;
    pulumi-resource-kubernetes) out="v$KUBERNETES_PROVIDER_VERSION (module $KUBERNETES_PROVIDER_MODULE; plugin reports its version over gRPC only)" ;;
    kubectl) out="$("$BIN/$b" version --client 2>&1 || true)" ;;
    *) out="$("$BIN/$b" --version 2>&1 || true)" ;;
  esac
  out="${out%%$'\n'*}"
  printf '  %-28s %s\n' "$b" "$out"
done
if [[ ${#failed[@]} -gt 0 ]]; then
  log "failed: ${failed[*]}"
  exit 1
fi
