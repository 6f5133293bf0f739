#!/usr/bin/env bash
# Builds pulumi-language-yaml, the language host the Pulumi CLI runs a YAML program with, from
# the Go module proxy at the version pinned in scripts/language-yaml.env. The engine finds it on
# PATH beside the toolchain's CLI (tests/e2e/component_package.py puts its directory there).
#
#   scripts/language-yaml.sh        build it if missing, print its path and version
#   scripts/language-yaml.sh --bin  print the binary path only (no build)
#
# Recipe and cache in scripts/go-build-cache.sh:
# ~/.cache/regstack/language-yaml/<hash>/bin/pulumi-language-yaml, <hash> from
# language-yaml.env and the Go version.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=language-yaml.env
source "$ROOT/scripts/language-yaml.env"
# shellcheck source=go-build-cache.sh
source "$ROOT/scripts/go-build-cache.sh"
gobuild_init language-yaml "$ROOT/scripts/language-yaml.env" pulumi-language-yaml \
  "${REGSTACK_LANGUAGE_YAML_CACHE:-}"
gobuild_bin_flag "$@"

build() {
  gobuild_wrapper "$PULUMI_YAML_MODULE@$PULUMI_YAML_VERSION"
  go get "github.com/pulumi/pulumi/sdk/v3@$PULUMI_SDK_VERSION" \
    "github.com/pulumi/pulumi/pkg/v3@$PULUMI_SDK_VERSION"
  # The host reports this version to the CLI (`pulumi about`), as the release build stamps it.
  go build -ldflags "-s -w -X $PULUMI_YAML_MODULE/pkg/version.Version=$PULUMI_YAML_VERSION" \
    -o "$BIN.tmp" "$PULUMI_YAML_MODULE/cmd/pulumi-language-yaml"
}
gobuild_once "pulumi-language-yaml $PULUMI_YAML_VERSION" build

echo "language-yaml: $BIN"
