"""An S3 endpoint with a self-signed certificate, trusted through `storage.s3.ca_bundle`.

SeaweedFS serves its S3 gateway over TLS with a certificate from a throwaway CA. The 3.1.2
registry runs the config.yml and the environment the component renders, with the CA
laid out the way the kubelet mounts a ConfigMap item (a timestamped directory, a `..data`
link and a link per key): Go reads SSL_CERT_DIR file by file and skips some links, so the
layout is part of what is proven.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.distribution_config import (
    S3_CA_FILE,
    RenderSettings,
    S3Settings,
)
from devkit.registry import (
    RunningRegistry,
    oci_image,
    pull,
    push,
    require,
    self_signed_tls,
    skopeo,
    start_registry,
)
from devkit.s3 import REGISTRY_KEYS, S3Server, start_s3

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def lab_tls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA and the endpoint's certificate for 127.0.0.1 (ca.crt, tls.crt, tls.key)."""
    directory = tmp_path_factory.mktemp("s3-tls")
    self_signed_tls(directory)
    return directory


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory, lab_tls: Path) -> Iterator[S3Server]:
    require("skopeo")
    server = start_s3(tmp_path_factory.mktemp("s3"), tls_dir=lab_tls)
    yield server
    server.stop()


def mount_like_kubelet(directory: Path, name: str, content: bytes) -> None:
    """One ConfigMap item in a volume, as the kubelet's atomic writer lays it out."""
    stamp = directory / "..2026_11_28_10_00_00.000000001"
    stamp.mkdir(parents=True)
    (stamp / name).write_bytes(content)
    (directory / "..data").symlink_to(stamp.name)
    (directory / name).symlink_to(f"..data/{name}")


def registry_on(s3: S3Server, workdir: Path, root: str, ca: Path | None) -> RunningRegistry:
    """A registry on the HTTPS endpoint; it gets the CA (and custom_ca) only when `ca` is given."""
    if ca is not None:
        mount_like_kubelet(workdir / "s3-ca", S3_CA_FILE, ca.read_bytes())
    assert s3.https_endpoint is not None
    settings = RenderSettings(
        s3=S3Settings(
            bucket=s3.bucket, endpoint=s3.https_endpoint, root_directory=f"/{root}",
            custom_ca=ca is not None,
        )
    )  # fmt: skip
    return start_registry(workdir, settings, secrets=REGISTRY_KEYS)


def test_a_registry_given_the_lab_ca_keeps_images_in_the_https_bucket(
    s3: S3Server, lab_tls: Path, tmp_path: Path
) -> None:
    registry = registry_on(s3, tmp_path / "registry", "trusted", ca=lab_tls / "ca.crt")
    try:
        digest = oci_image(tmp_path / "image", "1.0", content=os.urandom(4096))
        push(tmp_path / "image", "1.0", registry, "lab/app:1.0")
        assert pull(registry, "lab/app:1.0", tmp_path / "pulled") == digest
    finally:
        registry.stop()
    assert any(key.endswith("/data") for key in s3.keys("trusted/docker/registry/v2/blobs/"))


def test_garbage_collection_reads_the_https_bucket_with_the_same_ca(
    s3: S3Server, lab_tls: Path, tmp_path: Path
) -> None:
    registry = registry_on(s3, tmp_path / "registry", "collected", ca=lab_tls / "ca.crt")
    oci_image(tmp_path / "image", "1.0", content=os.urandom(4096))
    push(tmp_path / "image", "1.0", registry, "lab/app:1.0")
    registry.stop()
    result = registry.garbage_collect("--delete-untagged")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "lab/app: marking manifest" in result.stdout


def test_without_the_ca_the_registry_cannot_store_anything(s3: S3Server, tmp_path: Path) -> None:
    registry = registry_on(s3, tmp_path / "registry", "untrusted", ca=None)
    try:
        oci_image(tmp_path / "image", "1.0", content=os.urandom(4096))
        refused = skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path / 'image'}:1.0",
                         f"docker://{registry.host}/lab/app:1.0", check=False)  # fmt: skip
    finally:
        registry.stop()
    assert refused.returncode != 0
    assert "certificate signed by unknown authority" in registry.log_path.read_text()
