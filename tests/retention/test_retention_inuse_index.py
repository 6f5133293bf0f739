"""An index a pod runs by digest, untagged, needs its platform manifests: retention must not
delete them with another index that shares them (a rebuild from cache, a reproducible
build), whatever GC does with untagged manifests afterwards."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from devkit.oci_registry import (
    RegistryServer,
    digest_of,
    manifest_document,
    push_image,
    put_manifest,
    tags_of,
)

from .conftest import RunEngine

pytestmark = pytest.mark.servers

OLD = "2020-01-01T00:00:00Z"
NEW = "2025-01-01T00:00:00Z"
KEEP_ONE = {"rules": [{"repositories": "**", "keep_last": 1}]}


def test_platforms_an_in_use_untagged_index_shares_with_a_deleted_index_are_kept(
    registry: RegistryServer, run_engine: RunEngine, tmp_path: Path
) -> None:
    push_image(registry, "team/multi", "new", NEW, arches=("amd64", "arm64"))
    old = push_image(registry, "team/multi", "old", OLD, arches=("amd64", "arm64"))
    # The pod's index: the same platforms, another index digest, no tag (its tag moved on).
    running = manifest_document(registry, "team/multi", "old")
    running["annotations"] = {"rebuilt": "from cache"}
    platforms = [child["digest"] for child in running["manifests"]]
    by_digest = "sha256:" + hashlib.sha256(json.dumps(running).encode()).hexdigest()
    in_use = put_manifest(registry, "team/multi", by_digest, running)
    (tmp_path / "in-use.txt").write_text(f"{registry.host}/team/multi@{in_use}\n")

    run = run_engine(
        registry.url, KEEP_ONE, "--apply", "--in-use-file", str(tmp_path / "in-use.txt")
    )

    assert run.returncode == 0, run.stderr
    assert tags_of(registry, "team/multi") == {"new"}
    assert digest_of(registry, "team/multi", old) is None  # the old index itself went
    assert [digest_of(registry, "team/multi", p) for p in platforms] == platforms
    # GC without --delete-untagged, then the pod's image still pulls in full.
    registry.stop()
    registry.garbage_collect()
    registry.start()
    subprocess.run(
        [
            *("skopeo", "copy", "--quiet", "--all", "--src-tls-verify=false"),
            f"docker://{registry.host}/team/multi@{in_use}",
            f"oci:{tmp_path / 'pulled'}:running",
        ],
        check=True,
        capture_output=True,
    )
