"""Real containerd pulls from a real registry only once regstack's node-trust files are in place."""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.distribution_config import ProxySettings, RenderSettings
from components.node_trust import apply_script, trust_files
from devkit.containerd import Containerd
from devkit.registry import (
    RunningRegistry,
    oci_image,
    push,
    self_signed_tls,
    skopeo,
    start_registry,
)

pytestmark = pytest.mark.servers
OWNER = "regstack/containerd-test"


def lan_name() -> str:
    """A name that is not `localhost` yet resolves to 127.0.0.1 (where the test registry
    listens): containerd treats localhost and loopback addresses as plain HTTP by default, so
    only another name shows what hosts.toml changes. The host name, or any in /etc/hosts."""
    hosts = Path("/etc/hosts").read_text().splitlines() if Path("/etc/hosts").exists() else []
    listed = [name for line in hosts if line.split()[:1] == ["127.0.0.1"]
              for name in line.split()[1:]]  # fmt: skip
    for name in [socket.gethostname(), *listed]:
        if "localhost" in name:
            continue
        with contextlib.suppress(OSError):
            if socket.gethostbyname(name) == "127.0.0.1":
                return name
    pytest.fail("needs a name other than localhost for 127.0.0.1: add one to /etc/hosts")


def push_image(registry: RunningRegistry, tmp_path: Path) -> str:
    layout = tmp_path / "image"
    oci_image(layout, "v1")
    skopeo(
        "copy",
        "--dest-tls-verify=false",
        f"oci:{layout}:v1",
        f"docker://{registry.host}/lab/app:v1",
    )
    return "lab/app:v1"


def trust(tmp_path: Path, endpoint: str, ca: str | None, mirror_of: str | None = None) -> Path:
    hosts_dir = tmp_path / "certs.d"
    files = trust_files([endpoint], str(hosts_dir), ca, "containerd", OWNER, mirror_of)
    script = apply_script(files, str(hosts_dir), "true", OWNER)
    subprocess.run(["sh", "-c", script], check=True)
    return hosts_dir


@pytest.fixture
def tls_registry(tmp_path: Path) -> Iterator[tuple[RunningRegistry, str]]:
    ca = self_signed_tls(tmp_path / "tls")
    registry = start_registry(tmp_path, RenderSettings(tls=True), ca_file=ca)
    yield registry, ca.read_text()
    registry.stop()


@pytest.fixture
def http_registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    registry = start_registry(tmp_path, RenderSettings())
    yield registry
    registry.stop()


def test_containerd_refuses_a_self_signed_registry_it_was_not_told_about(
    containerd: Containerd, tls_registry: tuple[RunningRegistry, str], tmp_path: Path
) -> None:
    registry, _ = tls_registry
    image = push_image(registry, tmp_path)
    assert containerd.fetch(f"{registry.host}/{image}", tmp_path / "empty").returncode != 0


def test_containerd_pulls_from_a_self_signed_registry_with_the_lab_ca(
    containerd: Containerd, tls_registry: tuple[RunningRegistry, str], tmp_path: Path
) -> None:
    registry, ca = tls_registry
    image = push_image(registry, tmp_path)
    hosts_dir = trust(tmp_path, registry.host, ca)
    result = containerd.fetch(f"{registry.host}/{image}", hosts_dir)
    assert result.returncode == 0, result.stderr


def test_containerd_refuses_plain_http_from_a_named_registry_it_was_not_told_about(
    containerd: Containerd, http_registry: RunningRegistry, tmp_path: Path
) -> None:
    image = push_image(http_registry, tmp_path)
    endpoint = f"{lan_name()}:{http_registry.host.rsplit(':', 1)[1]}"
    result = containerd.fetch(f"{endpoint}/{image}", tmp_path / "empty")
    assert "HTTP response to HTTPS client" in result.stderr


def test_containerd_pulls_plain_http_from_a_named_lab_registry_once_trusted(
    containerd: Containerd, http_registry: RunningRegistry, tmp_path: Path
) -> None:
    image = push_image(http_registry, tmp_path)
    endpoint = f"{lan_name()}:{http_registry.host.rsplit(':', 1)[1]}"
    hosts_dir = trust(tmp_path, endpoint, None)
    result = containerd.fetch(f"{endpoint}/{image}", hosts_dir)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def hub_and_mirror(tmp_path: Path) -> Iterator[tuple[RunningRegistry, RunningRegistry]]:
    """A stand-in for Docker Hub, and a pull-through cache of it run as regstack renders one."""
    hub = start_registry(tmp_path / "hub", RenderSettings())
    mirror = start_registry(tmp_path / "mirror", RenderSettings(proxy=ProxySettings(hub.url)))
    yield hub, mirror
    mirror.stop()
    hub.stop()


def test_containerd_pulls_docker_hub_images_through_the_mirror(
    containerd: Containerd, hub_and_mirror: tuple[RunningRegistry, RunningRegistry], tmp_path: Path
) -> None:
    hub, mirror = hub_and_mirror
    oci_image(tmp_path / "image", "1.0")
    push(tmp_path / "image", "1.0", hub, "library/app:1.0")
    # registry-1.docker.io, the fallback, is out of reach here: only the mirror can answer.
    hosts_dir = trust(tmp_path, mirror.host, None, mirror_of="https://registry-1.docker.io")
    result = containerd.fetch("docker.io/library/app:1.0", hosts_dir)
    assert result.returncode == 0, result.stderr
    assert "/v2/library/app/manifests/1.0" in mirror.log_path.read_text()
