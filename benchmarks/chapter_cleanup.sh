#!/usr/bin/env bash
# The course chapter's registry cleanup, re-implemented faithfully: for each repository in
# the catalog, for each tag, read the image's creation date and DELETE it when older than
# N days -- sequentially, one curl (and jq) at a time, no protection, no retries.
#
# Changed only where the original cannot work at all against Distribution 2.8 and OCI
# images:
#  - the chapter reads `created` from the manifest (schema1 `history`); OCI and Docker v2
#    manifests do not carry it, so it is read from the config blob the manifest names;
#  - a tag cannot be deleted, only a digest: it is looked up with a HEAD
#    (Docker-Content-Digest) right before the DELETE.
# A tag whose digest was already deleted through a sibling tag answers 404 and is passed.
# Prints the deleted references, then "requests: N" (every curl counted).
set -uo pipefail
registry=${1:?usage: chapter_cleanup.sh REGISTRY_URL DAYS}
days=${2:?usage: chapter_cleanup.sh REGISTRY_URL DAYS}
accept="application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json"
limit=$(date -d "-$days days" +%s)
requests=0

requests=$((requests + 1))
for repo in $(curl -s "$registry/v2/_catalog" | jq -r '.repositories[]'); do
  requests=$((requests + 1))
  for tag in $(curl -s "$registry/v2/$repo/tags/list" | jq -r '.tags[]?'); do
    requests=$((requests + 1))
    manifest=$(curl -sf -H "Accept: $accept" "$registry/v2/$repo/manifests/$tag") || continue
    config=$(jq -r '.config.digest' <<<"$manifest")
    requests=$((requests + 1))
    created=$(curl -sf "$registry/v2/$repo/blobs/$config" | jq -r '.created')
    if [ "$(date -d "$created" +%s)" -lt "$limit" ]; then
      requests=$((requests + 1))
      digest=$(curl -sfI -H "Accept: $accept" "$registry/v2/$repo/manifests/$tag" \
        | tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }')
      requests=$((requests + 1))
      curl -sf -X DELETE "$registry/v2/$repo/manifests/$digest" >/dev/null && echo "deleted $repo:$tag"
    fi
  done
done
echo "requests: $requests"
