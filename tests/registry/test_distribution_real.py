"""The config.yml, htpasswd and pull secret regstack renders work with a real Distribution.

The real registry (3.1.2, scripts/registry-server.sh) runs the exact `config.yml` the component puts in its ConfigMap, with
TLS and the stable bcrypt htpasswd; `skopeo` pushes and pulls through it.
"""

from __future__ import annotations

import base64
import shutil
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from components import htpasswd
from components.auth import docker_config
from components.distribution_config import RenderSettings
from devkit.registry import (
    RunningRegistry,
    oci_image,
    require,
    self_signed_tls,
    skopeo,
    start_registry,
)

pytestmark = pytest.mark.servers
USER, PASSWORD = "dev", "lab-password-1"
KEY = "a-random-stack-key-of-64-hex-characters-0123456789abcdef01234567"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningRegistry, Path]]:
    require("skopeo", "openssl")
    workdir = tmp_path_factory.mktemp("secured")
    ca = self_signed_tls(workdir / "tls")
    (workdir / "auth").mkdir()
    (workdir / "auth" / "htpasswd").write_text(
        htpasswd.htpasswd([(USER, PASSWORD)], cost=10, key=KEY)
    )
    registry = start_registry(workdir, RenderSettings(tls=True, auth_realm="regstack"), ca_file=ca)
    certs = workdir / "certs"  # skopeo reads CA files named *.crt from a directory
    certs.mkdir()
    shutil.copy(ca, certs / "ca.crt")
    yield registry, certs
    registry.stop()


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    layout = tmp_path_factory.mktemp("image")
    oci_image(layout, "v1.0.0", content=b"regstack real registry test")
    return layout


def push(registry: RunningRegistry, certs: Path, image: Path, *creds: str) -> str:
    result = skopeo("copy", "--dest-cert-dir", str(certs), *creds, f"oci:{image}:v1.0.0",
                    f"docker://{registry.host}/team/app:v1.0.0", check=False)  # fmt: skip
    return result.stderr if result.returncode else "pushed"


def get(url: str, certs: Path, user: str | None = None, password: str = "") -> int:
    request = urllib.request.Request(url)
    if user:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    try:
        return int(urllib.request.urlopen(request, context=context, timeout=5).status)
    except urllib.error.HTTPError as err:
        return err.code


def test_a_push_with_the_htpasswd_credentials_succeeds_over_tls(secured, image) -> None:
    registry, certs = secured
    assert push(registry, certs, image, "--dest-creds", f"{USER}:{PASSWORD}") == "pushed"


def test_a_push_without_credentials_is_refused(secured, image) -> None:
    registry, certs = secured
    assert "authentication required" in push(registry, certs, image)


def test_a_wrong_password_is_refused(secured) -> None:
    registry, certs = secured
    assert get(f"{registry.url}/v2/", certs, USER, "not-the-password") == 401


def test_the_api_root_needs_a_login_but_the_probe_path_does_not(secured) -> None:
    registry, certs = secured
    assert (get(f"{registry.url}/v2/", certs), get(f"{registry.url}/", certs)) == (401, 200)


def test_the_pull_secret_content_is_a_working_docker_auth_file(secured, image, tmp_path) -> None:
    registry, certs = secured
    push(registry, certs, image, "--dest-creds", f"{USER}:{PASSWORD}")
    auth_file = tmp_path / "config.json"
    auth_file.write_text(docker_config([registry.host], USER, PASSWORD))
    pulled = tmp_path / "pulled"
    skopeo("copy", "--authfile", str(auth_file), "--src-cert-dir", str(certs),
           f"docker://{registry.host}/team/app:v1.0.0", f"oci:{pulled}:v1.0.0")  # fmt: skip
    assert (pulled / "index.json").exists()


def test_without_auth_the_probe_path_v2_answers_200(tmp_path) -> None:
    registry = start_registry(tmp_path, RenderSettings())
    try:
        assert urllib.request.urlopen(f"{registry.url}/v2/", timeout=5).status == 200
    finally:
        registry.stop()


def test_deletes_are_enabled_as_retention_needs(secured, image) -> None:
    registry, certs = secured
    push(registry, certs, image, "--dest-creds", f"{USER}:{PASSWORD}")
    result = skopeo("delete", "--cert-dir", str(certs), "--creds", f"{USER}:{PASSWORD}",
                    f"docker://{registry.host}/team/app:v1.0.0", check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
