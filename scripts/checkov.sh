#!/usr/bin/env bash
# checkov, offline, from its own virtualenv: it pins packaging<24 while pulumi 3.260 needs
# packaging>=26, so it cannot share the project's .venv.
#   scripts/checkov.sh --install      create ~/.cache/regstack/checkov-<version> if missing
#   scripts/checkov.sh ARGS...        install if missing, then run `checkov ARGS...` offline
set -euo pipefail

VERSION=3.3.30
VENV="${REGSTACK_CACHE:-$HOME/.cache/regstack}/checkov-$VERSION"

# The marker is written last, so an interrupted install is redone rather than half-used
# (a virtualenv cannot be renamed into place: its scripts hold absolute paths).
if [[ ! -f "$VENV/.installed" ]]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "checkov==$VERSION" >&2
  touch "$VENV/.installed"
fi
[[ "${1:-}" == "--install" ]] && exit 0

# No network: no Bridgecrew/Prisma platform, no policy-metadata or version downloads.
export BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE
export LOG_LEVEL="${LOG_LEVEL:-WARNING}"
exec "$VENV/bin/checkov" --skip-download "$@"
