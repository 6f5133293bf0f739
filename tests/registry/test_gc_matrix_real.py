"""Garbage collection never loses a tagged image, and frees what lost its tag: the GC CronJob's
own command line (read from the rendered object, see devkit/gc_matrix.py) run on real
registries of both lines, over the images people push (multi-arch indexes, buildx attestations,
cosign signatures, OCI referrers, blobs shared across repositories, moved tags).

3.x (the default, 3.1.2 built here) renders `--delete-untagged`. 2.x (Debian's 2.8.2) must run
without it, which config validation enforces; the last case bypasses validation to show the loss
that is the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.gc_matrix import (
    Pushed,
    blob_on_disk,
    collect,
    gc_script,
    manifest_status,
    pulls_in_full,
)
from devkit.registry import RunningRegistry

pytestmark = pytest.mark.servers

V2 = {"registry": {"version": "2.8.3"}}


@pytest.fixture(scope="module")
def v3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningRegistry, Pushed, int]]:
    done = collect(tmp_path_factory.mktemp("gc-v3"), 3, gc_script({}))
    yield done.registry, done.pushed, done.before - done.after
    done.registry.stop()


def test_the_default_gc_command_deletes_untagged_manifests() -> None:
    assert "registry garbage-collect --delete-untagged " in gc_script({})


def test_every_tagged_image_pulls_in_full_after_3x_gc(
    v3: tuple[RunningRegistry, Pushed, int], tmp_path: Path
) -> None:
    registry, pushed, _ = v3
    failures = {ref: pulls_in_full(registry, ref, tmp_path / ref.replace(":", "-"))
                for ref in pushed.tagged}  # fmt: skip
    assert {ref: error for ref, error in failures.items() if error} == {}


def test_3x_gc_deletes_superseded_manifests_and_their_unique_blobs(
    v3: tuple[RunningRegistry, Pushed, int],
) -> None:
    registry, pushed, freed = v3
    assert [manifest_status(registry, repo, m) for repo, m in pushed.superseded] == [404]
    assert [blob_on_disk(registry, b).exists() for b in pushed.unique_blobs] == [False, False]
    assert freed >= sum(b["size"] for b in pushed.unique_blobs)


def test_3x_gc_keeps_what_another_repository_still_tags(
    v3: tuple[RunningRegistry, Pushed, int],
) -> None:
    """3.x marks digests across all repositories and spares an untagged manifest whose digest is
    marked (`unmarkReferencedManifest`): the moved tag's old manifest stays in its repository
    too, harmless since its blobs stay for the other one."""
    registry, pushed, _ = v3
    assert all(blob_on_disk(registry, b).exists() for b in pushed.shared_blobs)
    kept = pushed.superseded_but_tagged_elsewhere
    assert [manifest_status(registry, repo, m) for repo, m in kept] == [200]


def test_3x_gc_deletes_a_referrer_pushed_only_by_digest(
    v3: tuple[RunningRegistry, Pushed, int],
) -> None:
    """GC knows nothing of `subject`: an untagged referrer is an untagged manifest."""
    registry, pushed, _ = v3
    assert [manifest_status(registry, repo, m) for repo, m in pushed.digest_only_referrers] == [404]


def test_a_2x_registry_keeps_every_tagged_image_with_the_command_regstack_renders_for_it(
    tmp_path: Path,
) -> None:
    script = gc_script({**V2, "gc": {"delete_untagged": False}})
    assert "--delete-untagged" not in script
    done = collect(tmp_path, 2, script)
    registry, pushed = done.registry, done.pushed
    try:
        failures = {ref: pulls_in_full(registry, ref, tmp_path / ref.replace(":", "-"))
                    for ref in pushed.tagged}  # fmt: skip
        assert {ref: error for ref, error in failures.items() if error} == {}
    finally:
        registry.stop()


def test_2x_gc_with_delete_untagged_loses_tagged_indexes_which_is_why_it_is_refused(
    tmp_path: Path,
) -> None:
    script = gc_script(V2, validated=False)
    assert "--delete-untagged" in script
    registry = collect(tmp_path, 2, script).registry
    try:
        for index in ("multi:1.0", "buildx:latest"):
            assert "manifest unknown" in pulls_in_full(registry, index, tmp_path / index)
    finally:
        registry.stop()
