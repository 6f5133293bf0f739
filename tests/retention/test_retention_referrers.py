"""Referrers -- signatures, attestations, SBOMs -- go with their image, and only with it.

Against the real registry: cosign's tag schema (`sha256-<hex>.sig`, `.att`), the OCI
referrers fallback (an index tagged `sha256-<hex>` listing artifact manifests whose
`subject` is the image), and a tagged artifact manifest carrying a `subject`.  A referrer is
never aged as an ordinary tag: its image's fate is its fate.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devkit.oci_registry import (
    OCI_INDEX,
    RegistryServer,
    descriptor_of,
    digest_of,
    pull_verifies,
    push_image,
    push_referrer,
    put_manifest,
    tag_schema,
    tags_of,
)

from .conftest import RunEngine

pytestmark = pytest.mark.servers

OLD = "2020-01-01T00:00:00Z"
NEW = "2025-01-01T00:00:00Z"
KEEP_ONE = {"rules": [{"repositories": "**", "keep_last": 1}]}
# A referrer whose own config says it is old, as some signing tools write.
DATED_OLD = {"created": OLD}


def sign(registry: RegistryServer, image: str) -> set[str]:
    """cosign's tag schema: a signature and an attestation tagged after the image digest."""
    for suffix in (".sig", ".att"):
        push_referrer(registry, "team/app", None, tag=tag_schema(image, suffix), config=DATED_OLD)
    return {tag_schema(image, ".sig"), tag_schema(image, ".att")}


def test_cosign_signatures_go_with_their_image_and_stay_with_a_kept_one(
    registry: RegistryServer, run_engine: RunEngine
) -> None:
    old = push_image(registry, "team/app", "old", OLD)
    new = push_image(registry, "team/app", "new", NEW)
    old_referrers, new_referrers = sign(registry, old), sign(registry, new)

    run = run_engine(registry.url, KEEP_ONE, "--apply")

    assert run.returncode == 0, run.stderr
    assert tags_of(registry, "team/app") == {"new", *new_referrers}
    reasons = {t["tag"]: t["reason"] for t in run.repository("team/app")["tags"]}
    assert reasons[tag_schema(new, ".sig")] == f"refers to {new}, which is not deleted"
    assert reasons[tag_schema(old, ".sig")] == f"refers to {old}, which is deleted"
    assert not old_referrers & tags_of(registry, "team/app")


def test_the_oci_referrers_fallback_index_and_its_artifacts_go_with_their_image(
    registry: RegistryServer, run_engine: RunEngine, tmp_path: Path
) -> None:
    indexes = {}
    for tag, created in (("old", OLD), ("new", NEW)):
        image = push_image(registry, "team/app", tag, created)
        artifact = push_referrer(registry, "team/app", image)  # untagged, with a subject
        listing = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [descriptor_of(registry, "team/app", artifact)],
        }
        put_manifest(registry, "team/app", tag_schema(image), listing)
        indexes[tag] = (image, artifact)

    run = run_engine(registry.url, KEEP_ONE, "--apply")

    assert run.returncode == 0, run.stderr
    new_image, new_artifact = indexes["new"]
    old_image, old_artifact = indexes["old"]
    assert tags_of(registry, "team/app") == {"new", tag_schema(new_image)}
    assert digest_of(registry, "team/app", new_artifact) == new_artifact
    assert digest_of(registry, "team/app", old_artifact) is None  # untagged, but not left over
    assert digest_of(registry, "team/app", old_image) is None
    pull_verifies(registry, "team/app", tag_schema(new_image), tmp_path / "pulled")


def test_a_tagged_artifact_with_a_subject_goes_with_its_image_and_not_by_age(
    registry: RegistryServer, run_engine: RunEngine
) -> None:
    old = push_image(registry, "team/app", "old", OLD)
    new = push_image(registry, "team/app", "new", NEW)
    push_referrer(registry, "team/app", old, tag="sbom-old", config=DATED_OLD)
    push_referrer(registry, "team/app", new, tag="sbom-new", config=DATED_OLD)

    run = run_engine(registry.url, KEEP_ONE, "--apply")

    assert run.returncode == 0, run.stderr
    assert tags_of(registry, "team/app") == {"new", "sbom-new"}


def test_referrers_do_not_take_places_among_the_newest_images(
    registry: RegistryServer, run_engine: RunEngine
) -> None:
    push_image(registry, "team/app", "older", "2024-06-01T00:00:00Z")
    new = push_image(registry, "team/app", "new", NEW)
    # Dated newer than every image: as ordinary tags they would fill keep_last by themselves.
    for suffix in (".sig", ".att"):
        push_referrer(
            registry, "team/app", None, tag=tag_schema(new, suffix), config={"created": NEW}
        )

    run = run_engine(registry.url, {"rules": [{"repositories": "**", "keep_last": 2}]}, "--apply")

    assert run.returncode == 0, run.stderr
    assert {"older", "new"} <= tags_of(registry, "team/app")
