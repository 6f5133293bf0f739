"""`registry.proxy`: a pull-through cache between two real registries (3.1.2).

The upstream plays Docker Hub (anonymous pulls); the mirror runs the config.yml regstack
renders for `registry.proxy`. What the README promises is checked here: pulls through the
mirror are the upstream's images, the mirror keeps serving them once the upstream is gone,
pushes are refused, and the mirror does not start while its upstream is unreachable.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.distribution_config import ProxySettings, RenderSettings
from devkit.registry import (
    RunningRegistry,
    free_port,
    oci_image,
    pull,
    push,
    require,
    skopeo,
    start_registry,
)

pytestmark = pytest.mark.servers


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[RunningRegistry]:
    require("skopeo")
    registry = start_registry(tmp_path / "upstream", RenderSettings())
    yield registry
    registry.stop()


@pytest.fixture
def mirror(tmp_path: Path, upstream: RunningRegistry) -> Iterator[RunningRegistry]:
    settings = RenderSettings(proxy=ProxySettings(remote_url=upstream.url))
    registry = start_registry(tmp_path / "mirror", settings)
    yield registry
    registry.stop()


def published(upstream: RunningRegistry, tmp_path: Path) -> str:
    """An image pushed to the upstream as library/app:1.0; returns its manifest digest."""
    digest = oci_image(tmp_path / "image", "1.0", content=os.urandom(4096))
    push(tmp_path / "image", "1.0", upstream, "library/app:1.0")
    return digest


def blobs(workdir: Path) -> set[str]:
    """The blob digests a registry has written under its filesystem storage."""
    return {
        data.parent.name for data in (workdir / "data").glob("docker/registry/v2/blobs/*/*/*/data")
    }


def wait_until_mirrored(tmp_path: Path) -> None:
    """Distribution streams a proxied blob to the client while a separate goroutine fetches and
    stores it, so a finished pull does not yet mean a cached one."""
    wanted = blobs(tmp_path / "upstream")
    assert wanted, "the upstream stored no blobs: wrong storage path?"
    deadline = time.monotonic() + 30
    while not wanted <= blobs(tmp_path / "mirror"):
        assert time.monotonic() < deadline, "the mirror did not store the upstream's blobs in 30s"
        time.sleep(0.1)


def test_an_image_pulled_through_the_mirror_is_the_upstream_image(
    upstream: RunningRegistry, mirror: RunningRegistry, tmp_path: Path
) -> None:
    digest = published(upstream, tmp_path)
    assert pull(mirror, "library/app:1.0", tmp_path / "pulled") == digest


def test_the_mirror_keeps_serving_what_it_pulled_once_the_upstream_is_gone(
    upstream: RunningRegistry, mirror: RunningRegistry, tmp_path: Path
) -> None:
    digest = published(upstream, tmp_path)
    pull(mirror, "library/app:1.0", tmp_path / "first")
    wait_until_mirrored(tmp_path)
    upstream.stop()
    assert pull(mirror, "library/app:1.0", tmp_path / "again") == digest


def test_the_mirror_refuses_pushes(mirror: RunningRegistry, tmp_path: Path) -> None:
    oci_image(tmp_path / "image", "1.0")
    refused = skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path / 'image'}:1.0",
                     f"docker://{mirror.host}/team/app:1.0", check=False)  # fmt: skip
    assert refused.returncode != 0


def test_the_mirror_does_not_start_while_its_upstream_is_unreachable(tmp_path: Path) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    settings = RenderSettings(proxy=ProxySettings(remote_url=unreachable))
    with pytest.raises(pytest.fail.Exception, match="connection refused"):
        start_registry(tmp_path / "mirror", settings)
