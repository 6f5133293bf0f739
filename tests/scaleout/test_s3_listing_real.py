"""Listings on S3 are complete: the tag and repository names retention decides on, against a real
SeaweedFS. Distribution 3.1.0/3.1.1 dropped a tag whose name prefixes another's (`0.1.2` next to
`0.1.20`) and skipped repositories in catalog pages, which is why validation refuses retention
on S3 with those versions; 3.1.2 (the default) lists both in full, page by page."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator

import pytest

from components.distribution_config import (
    RenderSettings,
    S3Settings,
)
from devkit.registry import RunningRegistry, oci_image, push, require, start_registry
from devkit.s3 import REGISTRY_KEYS, S3Server, start_s3

pytestmark = pytest.mark.servers

TAGS = ["0.1.2", "0.1.20", "0.1.3"]
REPOSITORIES = ["team/app", "team/app-web", "team/app/api"]


@pytest.fixture(scope="module", params=[3, 2], ids=["3.1.2", "2.8.2"])
def registry(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningRegistry]:
    require("skopeo")
    workdir = tmp_path_factory.mktemp("listing")
    s3: S3Server = start_s3(workdir / "s3")
    settings = RenderSettings(line=request.param, s3=S3Settings(
        bucket=s3.bucket, endpoint=s3.endpoint, secure=False))  # fmt: skip
    running = start_registry(workdir / "registry", settings, secrets=REGISTRY_KEYS)
    oci_image(workdir / "image", "t")
    for repository in REPOSITORIES:
        for tag in TAGS:
            push(workdir / "image", "t", running, f"{repository}:{tag}")
    yield running
    running.stop()
    s3.stop()


def paged(registry: RunningRegistry, path: str, key: str) -> list[str]:
    """Every name of a listing read one entry per page, following the Link header."""
    names: list[str] = []
    url: str | None = f"{registry.url}{path}?n=1"
    while url is not None:
        with urllib.request.urlopen(url, timeout=30) as response:
            names += json.loads(response.read())[key] or []
            link = re.match(r"<([^>]*)>", response.headers.get("Link", ""))
        url = f"{registry.url}{link.group(1)}" if link else None
    return names


def test_tags_list_pages_through_every_tag(registry: RunningRegistry) -> None:
    assert sorted(paged(registry, "/v2/team/app/tags/list", "tags")) == sorted(TAGS)


def test_the_catalog_pages_through_every_repository(registry: RunningRegistry) -> None:
    assert sorted(paged(registry, "/v2/_catalog", "repositories")) == sorted(REPOSITORIES)
