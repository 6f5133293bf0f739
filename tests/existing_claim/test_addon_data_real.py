"""Images pushed to the MicroK8s addon, served by regstack from the same claim.

The addon runs the 2.x registry image as root with the image's own config.yml; regstack runs
Distribution 3.x as uid 1000 with the config it renders, on the same directory. Debian's
docker-registry 2.8.2 plays the addon and the 3.x binary built here plays regstack, one after the
other, on one data directory: what the README's "Taking over the addon's images" steps promise is
checked here (a 3.x registry serves storage a 2.x one wrote), including why its one-time `chown`
is needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.distribution_config import DATA_DIR, RenderSettings
from components.kube import UID
from devkit.registry import (
    RunningRegistry,
    free_port,
    oci_image,
    pull,
    push,
    require,
    serve,
    skopeo,
    start_registry,
)

pytestmark = pytest.mark.servers


def addon_config(data: Path) -> dict[str, object]:
    """The registry image's /etc/docker/registry/config.yml, which the addon does not replace,
    on loopback and with `data` for its /var/lib/registry."""
    return {
        "version": 0.1,
        "log": {"fields": {"service": "registry"}},
        "storage": {"cache": {"blobdescriptor": "inmemory"},
                    "filesystem": {"rootdirectory": str(data)}},
        "http": {"addr": f"127.0.0.1:{free_port()}",
                 "headers": {"X-Content-Type-Options": ["nosniff"]}},
        "health": {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}},
    }  # fmt: skip


@pytest.fixture
def claim() -> Iterator[Path]:
    """A directory both registries reach: pytest's own tmp is private to root."""
    if os.geteuid() != 0:
        pytest.skip("runs one registry as root and one as uid 1000, as the two pods do")
    require("skopeo", "setpriv")
    directory = Path(tempfile.mkdtemp(prefix="regstack-claim-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory)


@pytest.fixture
def addon_digest(claim: Path) -> str:
    """team/app:1.0 pushed to the addon's registry, which is then stopped (its pod deleted)."""
    addon = serve(
        claim / "addon", addon_config(claim / "data"), env={"PATH": os.environ["PATH"]}, line=2
    )
    digest = oci_image(claim / "image", "1.0", content=os.urandom(2048))
    push(claim / "image", "1.0", addon, "team/app:1.0")
    addon.stop()
    return digest


def regstack_registry(claim: Path) -> RunningRegistry:
    return start_registry(claim, RenderSettings(), user=UID)


def pushes(registry: RunningRegistry, claim: Path) -> bool:
    oci_image(claim / "new", "2.0", content=os.urandom(2048))
    result = skopeo("copy", "--dest-tls-verify=false", f"oci:{claim / 'new'}:2.0",
                    f"docker://{registry.host}/team/app:2.0", check=False)  # fmt: skip
    return result.returncode == 0


def test_regstack_mounts_the_claim_where_the_addon_keeps_its_images() -> None:
    assert DATA_DIR == "/var/lib/registry"


def test_an_image_pushed_to_the_addon_pulls_from_regstack(claim: Path, addon_digest: str) -> None:
    registry = regstack_registry(claim)
    try:
        assert pull(registry, "team/app:1.0", claim / "pulled") == addon_digest
    finally:
        registry.stop()


def test_without_the_chown_regstack_cannot_write_the_addon_files(
    claim: Path, addon_digest: str
) -> None:
    registry = regstack_registry(claim)
    try:
        assert not pushes(registry, claim)
        assert "permission denied" in registry.log_path.read_text()
    finally:
        registry.stop()


def test_after_the_chown_regstack_pushes_and_still_serves_the_old_image(
    claim: Path, addon_digest: str
) -> None:
    subprocess.run(["chown", "-R", f"{UID}:{UID}", str(claim / "data")], check=True)
    registry = regstack_registry(claim)
    try:
        assert pushes(registry, claim)
        assert pull(registry, "team/app:1.0", claim / "pulled") == addon_digest
    finally:
        registry.stop()
