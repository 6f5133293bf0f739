"""Tags that change between planning and deleting: the digest they need is not deleted.

The engine plans, then deletes; a push in between (a release re-tagged `stable`, a new tag,
an index rebuilt over the same platforms, a fresh signature) must win over the plan.  The
push is made on the real registry at the first request after planning -- the engine's
re-check, or the first DELETE of an engine without one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from devkit.oci_registry import (
    FaultProxy,
    RegistryServer,
    add_tag,
    digest_of,
    manifest_document,
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


@pytest.fixture
def between_plan_and_delete(
    registry: RegistryServer,
) -> Iterator[Callable[[Callable[[], None]], FaultProxy]]:
    """A proxy to the registry that runs `push` once, when planning is over: at the second
    listing of a repository's tags or at the first DELETE, whichever comes first."""
    proxies: list[FaultProxy] = []

    def start(push: Callable[[], None]) -> FaultProxy:
        listings: list[str] = []
        pushed: list[bool] = []

        def fault(method: str, path: str, n: int) -> str:
            if "/tags/list" in path:
                listings.append(path)
            if not pushed and (method == "DELETE" or len(listings) > 1):
                pushed.append(True)
                push()
            return "pass"

        proxies.append(FaultProxy(registry, fault))
        return proxies[-1]

    yield start
    for proxy in proxies:
        proxy.stop()


@pytest.mark.parametrize("tag", ["stable", "hotfix"])  # protected, and an ordinary new tag
def test_a_tag_pointed_at_a_planned_digest_after_planning_saves_it(
    registry: RegistryServer,
    run_engine: RunEngine,
    between_plan_and_delete: Callable[..., FaultProxy],
    tag: str,
) -> None:
    push_image(registry, "team/app", "new", NEW)
    old = push_image(registry, "team/app", "old", OLD)
    push_image(registry, "team/app", "older", OLD)
    proxy = between_plan_and_delete(lambda: add_tag(registry, "team/app", "old", tag))

    run = run_engine(proxy.url, KEEP_ONE, "--apply", "--concurrency", "1")

    assert run.returncode == 0, run.stderr
    assert tags_of(registry, "team/app") == {"new", "old", tag}
    assert digest_of(registry, "team/app", tag) == old
    assert run.repository("team/app")["spared_digests"] == {
        old: f"tag {tag!r} appeared or moved since planning"
    }
    assert "1 spared (tags changed since planning)" in run.stderr


def test_a_tag_pushed_while_deleting_saves_the_digest_it_points_to(
    registry: RegistryServer, run_engine: RunEngine
) -> None:
    push_image(registry, "team/app", "new", NEW)
    doomed = {push_image(registry, "team/app", name, OLD): name for name in ("old-1", "old-2")}
    pushed: list[str] = []

    def at_the_first_delete(method: str, path: str, n: int) -> str:
        # After the re-check, while the first of the two planned digests is being deleted,
        # a pusher tags the other one.
        if method == "DELETE" and not pushed:
            other = next(digest for digest in doomed if digest not in path)
            add_tag(registry, "team/app", doomed[other], "hotfix")
            pushed.append(other)
        return "pass"

    proxy = FaultProxy(registry, at_the_first_delete)
    try:
        run = run_engine(proxy.url, KEEP_ONE, "--apply", "--concurrency", "1")
    finally:
        proxy.stop()

    assert run.returncode == 0, run.stderr
    assert digest_of(registry, "team/app", "hotfix") == pushed[0]
    assert tags_of(registry, "team/app") == {"new", "hotfix", doomed[pushed[0]]}
    assert run.repository("team/app")["spared_digests"] == {
        pushed[0]: "tag 'hotfix' appeared or moved since planning"
    }


def test_an_index_rebuilt_after_planning_keeps_the_platform_manifests_it_shares(
    registry: RegistryServer,
    run_engine: RunEngine,
    between_plan_and_delete: Callable[..., FaultProxy],
) -> None:
    push_image(registry, "team/multi", "new", NEW, arches=("amd64", "arm64"))
    push_image(registry, "team/multi", "old", OLD, arches=("amd64", "arm64"))
    rebuilt = manifest_document(registry, "team/multi", "old")
    rebuilt["annotations"] = {"rebuilt": "yes"}  # a new index over the same platforms
    platforms = [child["digest"] for child in rebuilt["manifests"]]
    proxy = between_plan_and_delete(
        lambda: put_manifest(registry, "team/multi", "rebuilt", rebuilt)
    )

    run = run_engine(proxy.url, KEEP_ONE, "--apply", "--concurrency", "1")

    assert run.returncode == 0, run.stderr
    assert tags_of(registry, "team/multi") == {"new", "rebuilt"}  # the old index itself went
    assert all(digest_of(registry, "team/multi", p) == p for p in platforms)


def test_a_signature_pushed_after_planning_keeps_its_image_and_the_signature(
    registry: RegistryServer,
    run_engine: RunEngine,
    between_plan_and_delete: Callable[..., FaultProxy],
) -> None:
    push_image(registry, "team/app", "new", NEW)
    old = push_image(registry, "team/app", "old", OLD)
    proxy = between_plan_and_delete(
        lambda: push_referrer(registry, "team/app", None, tag=tag_schema(old, ".sig"))
    )

    run = run_engine(proxy.url, KEEP_ONE, "--apply", "--concurrency", "1")

    assert run.returncode == 0, run.stderr
    assert tags_of(registry, "team/app") == {"new", "old", tag_schema(old, ".sig")}
