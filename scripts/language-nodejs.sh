#!/usr/bin/env bash
# Builds Pulumi's Node.js language host, `pulumi-language-nodejs`, which runs TypeScript and
# JavaScript Pulumi programs, for the engine tests of regstack's component package from
# TypeScript. A user with internet gets it with the Pulumi CLI (the installer ships it).
#
#   scripts/language-nodejs.sh        build it if missing, print its path and version
#   scripts/language-nodejs.sh --bin  print the binary path only (no build)
#
# Why from the vendor archive: the Go module proxy does not serve the host's module
# (sdk/nodejs/cmd/pulumi-language-nodejs); it does serve every dependency. Upstream builds it
# inside the pulumi repository against the sibling pkg/ and sdk/ directories (two local replace
# directives); here those are the released modules of PULUMI_SDK_VERSION (language-nodejs.env says
# why that is not the CLI's version), the way scripts/toolchain.sh builds the Python host.
# The host is only the Go half: the program side (`@pulumi/pulumi/cmd/run`, which the host
# resolves from the program's node_modules) comes from npm (scripts/npm-parts.sh).
#
# Cache and lock: scripts/go-build-cache.sh,
# ~/.cache/regstack/language-nodejs/<hash>/bin/pulumi-language-nodejs, <hash> from
# language-nodejs.env and the Go version. Put its directory on PATH beside the
# toolchain's: the CLI finds language hosts there.
#
# Environment:
#   REGSTACK_VENDOR   directory holding the archive (default $ROOT/../shared/vendor)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=language-nodejs.env
source "$ROOT/scripts/language-nodejs.env"
# shellcheck source=go-build-cache.sh
source "$ROOT/scripts/go-build-cache.sh"
VENDOR="${REGSTACK_VENDOR:-$ROOT/../shared/vendor}"
gobuild_init language-nodejs "$ROOT/scripts/language-nodejs.env" pulumi-language-nodejs
gobuild_bin_flag "$@"

build() {
  local archive="$VENDOR/pulumi-language-nodejs-v$PULUMI_LANGUAGE_NODEJS_VERSION.tar.gz" v="v$PULUMI_SDK_VERSION"
  [[ -f "$archive" ]] || { echo "missing $archive (set REGSTACK_VENDOR to the directory holding it)"; exit 1; }
  rm -rf "$WORK"
  mkdir -p "$WORK"
  tar -xzf "$archive" -C "$WORK" --strip-components=1
  cd "$WORK"
  go mod edit -dropreplace github.com/pulumi/pulumi/pkg/v3 -dropreplace github.com/pulumi/pulumi/sdk/v3 \
    -require "github.com/pulumi/pulumi/pkg/v3@$v" -require "github.com/pulumi/pulumi/sdk/v3@$v"
  go mod tidy
  go build -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_LANGUAGE_NODEJS_VERSION" \
    -o "$BIN.tmp" .
  cd /
  rm -rf "$WORK"
}
gobuild_once "pulumi-language-nodejs $PULUMI_LANGUAGE_NODEJS_VERSION (against pkg/sdk $PULUMI_SDK_VERSION)" build

echo "language-nodejs: $BIN"
printf '  %-28s %s\n' pulumi-language-nodejs "$("$BIN" -version 2>&1 | head -n 1)"
