"""The engine against a real Distribution registry: plan, apply, garbage-collect, pull."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from components.images import RELEASE_PATTERN
from components.retention.http import HttpClient, ssl_context
from components.retention.registry import Registry
from devkit.oci_registry import (
    RegistryServer,
    add_tag,
    blobs_of,
    digest_of,
    pull_verifies,
    push_image,
    tags_of,
)

from .conftest import RunEngine

pytestmark = pytest.mark.servers

OLD = "2020-01-01T00:00:00.123456789Z"  # Go writes nanoseconds; the engine must parse them
RECENT = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
POLICY = {
    "rules": [
        # First match wins: team/multi gets this rule, not the team/* one below.
        {"repositories": "team/multi", "keep_last": 1, "max_age_days": 30},
        {"repositories": "team/*", "keep_last": 2, "max_age_days": 30},
    ]
}
EXPECTED_KEPT = {
    "team/app": {"recent", "mid", "stable", "build-7", "v1.2.3", "running"},
    "team/multi": {"m-new"},
    "infra/base": {"ancient"},
}
EXPECTED_DELETED = {
    "team/app": {"old", "old-alias", "labelled"},
    "team/multi": {"m-old"},
    "infra/base": set(),
}


def populate(registry: RegistryServer) -> None:
    push_image(registry, "team/app", "recent", RECENT)
    push_image(registry, "team/app", "mid", "2022-06-01T00:00:00Z")
    push_image(registry, "team/app", "old", OLD)
    add_tag(registry, "team/app", "old", "old-alias")
    push_image(registry, "team/app", "build-7", OLD)
    add_tag(registry, "team/app", "build-7", "stable")  # protected, and shares the digest
    push_image(registry, "team/app", "v1.2.3", OLD)
    push_image(registry, "team/app", "running", OLD)  # listed as in use
    push_image(registry, "team/app", "labelled", None, label_created="2019-05-05T00:00:00Z")
    push_image(registry, "team/multi", "m-old", OLD, arches=("amd64", "arm64"))
    push_image(registry, "team/multi", "m-new", RECENT, arches=("amd64", "arm64"))
    push_image(registry, "infra/base", "ancient", OLD)  # no rule matches: untouched


def in_use_file(tmp_path: Path, registry: RegistryServer) -> str:
    path = tmp_path / "in-use.txt"
    path.write_text(f"# from kubectl\n{registry.host}/team/app:running\n")
    return str(path)


def test_dry_run_is_the_default_and_changes_nothing(
    registry: RegistryServer, run_engine: RunEngine, tmp_path: Path
) -> None:
    populate(registry)
    before = {repo: tags_of(registry, repo) for repo in EXPECTED_KEPT}

    run = run_engine(registry.url, POLICY, "--in-use-file", in_use_file(tmp_path, registry))

    assert run.returncode == 0, run.stderr
    assert run.plan["mode"] == "dry-run"
    assert {repo: tags_of(registry, repo) for repo in EXPECTED_KEPT} == before
    for repo in EXPECTED_KEPT:
        actions = run.actions(repo)
        assert {t for t, a in actions.items() if a == "keep"} == EXPECTED_KEPT[repo]
        assert {t for t, a in actions.items() if a == "delete"} == EXPECTED_DELETED[repo]
    assert "dry run: nothing was deleted" in run.stderr


def test_plan_gives_the_reason_for_every_decision(
    registry: RegistryServer, run_engine: RunEngine, tmp_path: Path
) -> None:
    populate(registry)

    run = run_engine(registry.url, POLICY, "--in-use-file", in_use_file(tmp_path, registry))

    reasons = {t["tag"]: t["reason"] for t in run.repository("team/app")["tags"]}
    assert reasons == {
        "recent": "among the newest 2 images",
        "mid": "among the newest 2 images",
        "stable": "protected by pattern 'stable'",
        "build-7": "digest also used by kept tag 'stable'",
        "v1.2.3": f"protected by pattern {'re:' + RELEASE_PATTERN!r}",
        "running": "referenced by a pod in the cluster",
        "old": "older than 30 days and not among the newest 2 images",
        "old-alias": "older than 30 days and not among the newest 2 images",
        "labelled": "older than 30 days and not among the newest 2 images",
    }
    labelled = next(t for t in run.repository("team/app")["tags"] if t["tag"] == "labelled")
    assert labelled["created"] == "2019-05-05T00:00:00+00:00"  # from the label: no `created`
    assert run.repository("infra/base")["rule"] is None


def test_apply_deletes_exactly_the_planned_tags_and_a_rerun_converges(
    registry: RegistryServer, run_engine: RunEngine, tmp_path: Path
) -> None:
    populate(registry)
    in_use = in_use_file(tmp_path, registry)

    run = run_engine(registry.url, POLICY, "--apply", "--in-use-file", in_use)

    assert run.returncode == 0, run.stderr
    for repo, kept in EXPECTED_KEPT.items():
        assert tags_of(registry, repo) == kept
    assert "4 deleted" in run.stderr
    again = run_engine(registry.url, POLICY, "--apply", "--in-use-file", in_use)
    assert again.returncode == 0, again.stderr
    assert "0 deleted" in again.stderr


def test_deleting_a_multi_arch_index_deletes_its_platform_manifests_too(
    registry: RegistryServer, run_engine: RunEngine
) -> None:
    push_image(registry, "team/multi", "m-old", OLD, arches=("amd64", "arm64"))
    push_image(registry, "team/multi", "m-new", RECENT, arches=("amd64", "arm64"))
    # The blobs the registry also serves as manifests: the index and its two platforms.
    manifests = {
        d for d in blobs_of(registry, "team/multi", "m-old") if digest_of(registry, "team/multi", d)
    }
    assert len(manifests) == 3

    run = run_engine(registry.url, POLICY, "--apply")

    assert run.returncode == 0, run.stderr
    assert all(digest_of(registry, "team/multi", d) is None for d in manifests)
    assert set(run.repository("team/multi")["deleted_digests"]) == manifests


def test_after_garbage_collection_kept_images_pull_in_full_and_deleted_blobs_are_gone(
    registry: RegistryServer, run_engine: RunEngine, tmp_path: Path
) -> None:
    populate(registry)
    doomed = {
        (repo, tag): blobs_of(registry, repo, tag)
        for repo, tags in EXPECTED_DELETED.items()
        for tag in tags
    }
    kept_blobs = set().union(
        *(blobs_of(registry, repo, tag) for repo, tags in EXPECTED_KEPT.items() for tag in tags)
    )
    run = run_engine(
        registry.url, POLICY, "--apply", "--in-use-file", in_use_file(tmp_path, registry)
    )
    assert run.returncode == 0, run.stderr

    registry.stop()
    registry.garbage_collect()
    on_disk = registry.blobs_on_disk()
    registry.start()

    assert set().union(*doomed.values()).isdisjoint(on_disk)
    assert kept_blobs <= on_disk
    for repo, tags in EXPECTED_KEPT.items():
        for tag in tags:
            pull_verifies(registry, repo, tag, tmp_path / "pulled")


def test_metrics_file_counts_images_per_repository_and_deletions(
    registry: RegistryServer, run_engine: RunEngine, tmp_path: Path
) -> None:
    populate(registry)
    metrics = tmp_path / "retention.prom"
    in_use = in_use_file(tmp_path, registry)

    run = run_engine(
        registry.url, POLICY, "--apply", "--in-use-file", in_use, "--metrics-file", str(metrics)
    )

    assert run.returncode == 0, run.stderr
    text = metrics.read_text()
    # team/app: recent, mid, build-7=stable, v1.2.3, running -> 5 distinct images left.
    assert 'regstack_retention_images{repository="team/app"} 5\n' in text
    assert 'regstack_retention_images{repository="team/multi"} 1\n' in text
    assert "regstack_retention_deleted_total 5\n" in text  # 2 images + index + 2 platforms
    assert "regstack_retention_last_success_timestamp_seconds " in text
    # The format check Prometheus itself applies (promtool comes with `make setup`).
    lint = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_deleting_an_already_deleted_digest_counts_as_done(registry: RegistryServer) -> None:
    digest = push_image(registry, "team/app", "old", OLD)
    client = Registry(registry.url, HttpClient(context=ssl_context(None), retries=0))

    assert client.delete_manifest("team/app", digest) is True
    assert client.delete_manifest("team/app", digest) is False
