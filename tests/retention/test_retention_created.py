"""Creation times that say nothing: reproducible builds, year 1, and ties for "newest N".

Jib, ko, Nix dockerTools and rules_oci write `created: 1970-01-01T00:00:00Z` (others year 1);
such a time is unknown, not ancient, and the image is kept.  Images whose times tie at the
`keep_last` boundary are ordered by push order when the registry tells it (a `Last-Modified`
on the manifest), else all of them are kept: a digest says nothing about which is newer.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from devkit.oci_registry import FaultProxy, RegistryServer, push_image, tags_of

from .conftest import RunEngine

pytestmark = pytest.mark.servers

EPOCH = "1970-01-01T00:00:00Z"
BUILDS = [f"build-{n}" for n in range(1, 6)]


def push_builds(registry: RegistryServer, created: str) -> None:
    for tag in BUILDS:
        push_image(registry, "team/app", tag, created)


@pytest.mark.parametrize("limit", [{"keep_last": 2}, {"max_age_days": 30}])
def test_reproducible_builds_dated_1970_are_all_kept(
    registry: RegistryServer, run_engine: RunEngine, limit: dict[str, int]
) -> None:
    push_builds(registry, EPOCH)

    run = run_engine(registry.url, {"rules": [{"repositories": "**", **limit}]}, "--apply")

    assert run.returncode == 0, run.stderr
    assert tags_of(registry, "team/app") == set(BUILDS)
    assert {t["reason"] for t in run.repository("team/app")["tags"]} == {
        "creation time unknown (missing, unparsable, before 1981 or in the future)"
    }


@pytest.mark.parametrize("created", ["0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z"])
def test_an_image_dated_year_one_is_kept_and_the_run_goes_on(
    registry: RegistryServer, run_engine: RunEngine, created: str
) -> None:
    push_image(registry, "team/app", "year-one", created)
    push_image(registry, "team/app", "old", "2020-01-01T00:00:00Z")

    run = run_engine(
        registry.url, {"rules": [{"repositories": "**", "max_age_days": 30}]}, "--apply"
    )

    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert tags_of(registry, "team/app") == {"year-one"}


def test_images_tied_at_the_keep_last_boundary_are_all_kept_when_push_order_is_unknown(
    registry: RegistryServer, run_engine: RunEngine
) -> None:
    push_builds(registry, "2024-06-01T00:00:00Z")  # SOURCE_DATE_EPOCH: one time for all
    push_image(registry, "team/app", "older", "2024-01-01T00:00:00Z")

    run = run_engine(registry.url, {"rules": [{"repositories": "**", "keep_last": 2}]}, "--apply")

    assert run.returncode == 0, run.stderr
    # Distribution sends no Last-Modified on manifests: it cannot tell which build is newest.
    assert tags_of(registry, "team/app") == set(BUILDS)
    reasons = {t["tag"]: t["reason"] for t in run.repository("team/app")["tags"]}
    assert reasons["build-1"] == "tied for the newest 2 images; push order unknown"


@pytest.fixture
def push_times(registry: RegistryServer) -> Iterator[FaultProxy]:
    """The registry behind a proxy that dates each build's manifest by its build number, as
    a registry that records push times would (`Last-Modified`)."""
    base = datetime(2025, 1, 1, tzinfo=UTC)

    def last_modified(method: str, path: str, headers: dict[str, str]) -> dict[str, str]:
        tag = path.rsplit("/", 1)[-1]
        if "/manifests/build-" not in path:
            return {}
        pushed = base + timedelta(hours=int(tag.removeprefix("build-")))
        return {"Last-Modified": format_datetime(pushed, usegmt=True)}

    proxy = FaultProxy(registry, lambda method, path, n: "pass", extra_headers=last_modified)
    yield proxy
    proxy.stop()


def test_push_order_breaks_ties_when_the_registry_tells_it(
    registry: RegistryServer, run_engine: RunEngine, push_times: FaultProxy
) -> None:
    push_builds(registry, EPOCH.replace("1970", "2024"))

    run = run_engine(push_times.url, {"rules": [{"repositories": "**", "keep_last": 2}]}, "--apply")

    assert run.returncode == 0, run.stderr
    assert tags_of(registry, "team/app") == {"build-4", "build-5"}
