#!/usr/bin/env bash
# Builds the local stand-ins for the images the pinned goharbor chart names (scripts/harbor_images.py
# says how each is made), for the Harbor node test, and prints `reference<TAB>archive` lines.
#
#   scripts/harbor-images.sh   build what is missing (cached), print the archives
#
# The tag and the cache image (redis-photon or valkey-photon) are read from the chart regstack pins
# (components.config.HARBOR_CHART_VERSION, in the vendor directory): the images carry exactly the
# references the rendered manifests name. Harbor's Go programs come from scripts/harbor-build.sh,
# whose cold build is CPU heavy: run this once before the tests, which only read the cache.
#
# Cache: ~/.cache/regstack/harbor-images/<key>/, <key> from the chart version, the binaries' cache
# key, the Debian packages' versions and the image recipe, built under a lock.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR="${REGSTACK_VENDOR:-$ROOT/../shared/vendor}"
CACHE_ROOT="${REGSTACK_CACHE:-$HOME/.cache/regstack}"
PYTHON="$ROOT/.venv/bin/python"
[[ -x "$PYTHON" ]] || PYTHON=python3
log() { printf '[harbor-images] %s\n' "$*" >&2; }

bash "$ROOT/scripts/harbor-build.sh" >&2
BIN="$(bash "$ROOT/scripts/harbor-build.sh" --bin-dir)"
CHART_VERSION="$(cd "$ROOT" && "$PYTHON" -c 'from components.config import HARBOR_CHART_VERSION as v; print(v)')"
read -r TAG CACHE_IMAGE < <(tar -xzOf "$VENDOR/harbor-$CHART_VERSION.tgz" harbor/values.yaml | "$PYTHON" -c '
import sys, yaml
values = yaml.safe_load(sys.stdin)
print(values["core"]["image"]["tag"], values["redis"]["internal"]["image"]["repository"].rsplit("/", 1)[1])')
KEY="$( { echo "chart=$CHART_VERSION"; echo "bin=$BIN"; sha256sum "$ROOT/scripts/harbor_images.py" "$ROOT/scripts/node_images.py" | cut -d' ' -f1;
  dpkg-query -W postgresql-15 redis-server bash libc6 busybox-static 2>/dev/null; apt-cache policy nginx | sed -n 's/ *Candidate: //p'; } | sha256sum | cut -c1-16)"
OUT="$CACHE_ROOT/harbor-images/$KEY"
mkdir -p "$OUT"
exec 9>"$OUT/.lock"
flock 9

inputs() {
  local d="$OUT/inputs"
  [[ -f "$d/.ready" ]] && return
  rm -rf "$d"
  mkdir -p "$d/source" "$d/nginx" "$d/locale"
  # The chart's image tag is the Harbor release whose source scripts/harbor-build.sh builds.
  tar -xzf "$VENDOR/harbor-src-$TAG.tar.gz" -C "$d/source" --strip-components=1 \
    "harbor-$TAG/make/photon" "harbor-$TAG/make/migrations" "harbor-$TAG/src/core/views"
  (cd "$d/nginx" && apt-get download nginx >/dev/null 2>&1 && dpkg-deb -x nginx_*.deb x)
  # initdb.sh asks PostgreSQL for en_US.UTF-8; the host has the locale's sources only.
  localedef -i en_US -f UTF-8 "$d/locale/en_US.UTF-8"
  touch "$d/.ready"
}
inputs
# The node's own busybox (scripts/node.sh downloads it with the node's images).
busybox="$CACHE_ROOT/node-images/busybox-static/busybox"
[[ -x "$busybox" ]] || bash "$ROOT/scripts/node.sh" images >/dev/null
start=$SECONDS
"$PYTHON" "$ROOT/scripts/harbor_images.py" "$OUT" "$TAG" "$CACHE_IMAGE" busybox="$busybox" bin="$BIN" \
  source="$OUT/inputs/source" nginx="$OUT/inputs/nginx/x/usr/sbin/nginx" locale="$OUT/inputs/locale/en_US.UTF-8"
log "images for chart $CHART_VERSION ($TAG) in $OUT ($((SECONDS - start))s)"
