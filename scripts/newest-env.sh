#!/usr/bin/env bash
# The top end of pyproject.toml's version ranges: a virtualenv with the newest releases PyPI
# serves (tests/library/newest.txt) and the dev extra's tools, in which `make test-newest` runs
# this checkout's tests (constraints.txt and .venv are the bottom end).
#
#   scripts/newest-env.sh unit     every SDK at newest.txt's version; prints the virtualenv
#   scripts/newest-env.sh engine   the same, but pulumi-kubernetes and pulumi-command at
#                                  constraints.txt's pins; prints the virtualenv
#
# Why the engine's differs: each provider SDK asks the engine for the provider plugin of its own
# version, and scripts/toolchain.sh builds the plugins only at the pinned versions (the Go module
# proxy serves the pulumi-kubernetes provider module only at 4.25.0's commit: versions.env). The
# `pulumi` SDK itself talks to the CLI over a versioned protocol, so it moves to the newest.
#
# Cached in ~/.cache/regstack/newest/<key>/, keyed by the Python version, the requirements and the
# dev extra, built once under a lock. regstack itself is not installed there: the Makefile puts
# this checkout on PYTHONPATH, so several checkouts share one environment.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODE="${1:-}"
PINNED="pulumi-kubernetes|pulumi-command"

case "$MODE" in
  unit) requirements="$(grep -v '^#' "$ROOT/tests/library/newest.txt")" ;;
  engine)
    requirements="$(grep -v '^#' "$ROOT/tests/library/newest.txt" | grep -Ev "^($PINNED)==")
$(grep -E "^($PINNED)==" "$ROOT/constraints.txt")"
    ;;
  *) echo "usage: $0 unit|engine" >&2; exit 2 ;;
esac
# The dev extra's pins (pytest, mypy, pulumi-policy, mkdocs, ...), as pyproject.toml lists them.
dev="$(python3 -c 'import sys, tomllib
print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]["dev"]))' \
  "$ROOT/pyproject.toml")"

key="$(printf '%s\n' "$(python3 --version)" "$requirements" "$dev" | sha256sum | cut -c1-16)"
BASE="${REGSTACK_CACHE:-$HOME/.cache/regstack}/newest"
VENV="$BASE/$MODE-$key"
mkdir -p "$BASE"
exec 9>"$VENV.lock"
flock 9
if [[ ! -f "$VENV/complete" ]]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  printf '%s\n' "$requirements" >"$VENV/requirements.txt"
  printf '%s\n' "$dev" >>"$VENV/requirements.txt"
  echo "[newest-env] $MODE: installing into $VENV" >&2
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" install -q -r "$VENV/requirements.txt" >&2
  touch "$VENV/complete"
fi
echo "$VENV"
