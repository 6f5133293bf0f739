"""Identities with rights, proven on the real Distribution 3.x and the real docker_auth.

The registry runs the `config.yml` regstack renders with `auth.token`, the token server the
config regstack renders for its identities (bcrypt hashes as the stack derives them); skopeo
and retention's own registry client do the token flow as clients do. Credentials go through
auth files, never argv.
"""

from __future__ import annotations

import json
import shutil
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components import htpasswd
from components.auth import docker_config
from components.distribution_config import RenderSettings, TokenAuthSettings
from components.retention.http import HttpClient
from components.retention.registry import AuthError, Registry
from components.token_server_config import Identity, TokenServerSettings
from devkit.registry import (
    RunningRegistry,
    oci_image,
    require,
    self_signed_tls,
    skopeo,
    start_registry,
)
from devkit.token_server import signing_key, start_token_server

pytestmark = pytest.mark.servers
KEY = "a-random-stack-key-of-64-hex-characters-0123456789abcdef01234567"
ISSUER, SERVICE = "regstack-token-server", "regstack-registry"
PASSWORDS = {
    "pull-apps": "pull-password-1",
    "ci": "ci-password-1",
    "maintenance": "maintenance-password-1",
    "admin": "admin-password-1",
}


def refused(outcome: str) -> bool:
    """skopeo failed because the registry or the token server said no, not for another reason."""
    text = outcome.lower()
    return any(word in text for word in ("denied", "unauthorized", "authentication required"))


def identity(name: str, role: str, *repositories: str) -> Identity:
    hashed = htpasswd.hashed(name, PASSWORDS[name], cost=10, key=KEY)
    return Identity(name, hashed, role, repositories)  # type: ignore[arg-type]


@dataclass
class Stack:
    registry: RunningRegistry
    certs: Path
    """A directory with the CA as `ca.crt`, as skopeo's --cert-dir wants."""
    auth_files: dict[str, Path]
    release: Path
    """An OCI layout with the release image (tag `v1.0.0`)."""
    tampered: Path
    """Another image under the same tag: what an attacker would push over the release."""

    def copy(self, who: str, source: str, dest: str) -> str:
        """`skopeo copy` as `who` to the registry: "ok" or skopeo's complaint."""
        result = skopeo("copy", "--authfile", str(self.auth_files[who]), "--dest-cert-dir",
                        str(self.certs), source, f"docker://{self.registry.host}/{dest}",
                        check=False)  # fmt: skip
        return result.stderr if result.returncode else "ok"

    def pull(self, who: str, reference: str, layout: Path) -> str:
        result = skopeo("copy", "--authfile", str(self.auth_files[who]), "--src-cert-dir",
                        str(self.certs), f"docker://{self.registry.host}/{reference}",
                        f"oci:{layout}:pulled", check=False)  # fmt: skip
        return result.stderr if result.returncode else "ok"

    def delete(self, who: str, reference: str) -> str:
        result = skopeo("delete", "--authfile", str(self.auth_files[who]), "--cert-dir",
                        str(self.certs), f"docker://{self.registry.host}/{reference}",
                        check=False)  # fmt: skip
        return result.stderr if result.returncode else "ok"

    def digest(self, reference: str) -> str:
        result = skopeo("inspect", "--authfile", str(self.auth_files["admin"]), "--cert-dir",
                        str(self.certs), f"docker://{self.registry.host}/{reference}")  # fmt: skip
        return str(json.loads(result.stdout)["Digest"])

    def client(self, who: str) -> Registry:
        """Retention's registry client (its Bearer flow) as `who`."""
        context = ssl.create_default_context(cafile=str(self.certs / "ca.crt"))
        return Registry(self.registry.url, HttpClient(context=context, retries=0),
                        username=who, password=PASSWORDS[who])  # fmt: skip


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require("skopeo", "openssl")
    workdir = tmp_path_factory.mktemp("identities")
    ca = self_signed_tls(workdir / "tls")
    signer = signing_key(workdir / "keys")
    (workdir / "token-ca").mkdir()
    shutil.copy(signer, workdir / "token-ca" / "tls.crt")
    identities = [
        identity("pull-apps", "pull"),
        identity("ci", "push", "team/*"),
        identity("maintenance", "maintenance"),
        identity("admin", "admin"),
    ]
    settings = TokenServerSettings(
        issuer=ISSUER, key_dir=str(workdir / "keys"), tls_dir=str(workdir / "tls")
    )
    token_server = start_token_server(workdir, settings, identities, ca)
    token = TokenAuthSettings(realm=token_server.realm, service=SERVICE, issuer=ISSUER)
    try:
        registry = start_registry(workdir, RenderSettings(tls=True, token=token), ca_file=ca)
    except BaseException:
        token_server.stop()
        raise
    # Stopped whatever happens below, a failed set-up included (it would leave both running).
    try:
        yield prepared(workdir, registry, ca)
    finally:
        registry.stop()
        token_server.stop()


def prepared(workdir: Path, registry: RunningRegistry, ca: Path) -> Stack:
    """Auth files for every identity, the two images, and the release pushed by the admin."""
    certs = workdir / "certs"
    certs.mkdir()
    shutil.copy(ca, certs / "ca.crt")
    auth_files = {}
    for name, password in PASSWORDS.items():
        auth_files[name] = workdir / f"{name}.json"
        auth_files[name].write_text(docker_config([registry.host], name, password))
        auth_files[name].chmod(0o600)
    release, tampered = workdir / "release", workdir / "tampered"
    oci_image(release, "v1.0.0", content=b"the release")
    oci_image(tampered, "v1.0.0", content=b"a tampered image")
    built = Stack(registry, certs, auth_files, release, tampered)
    for repository in ("team/app", "other/app"):
        assert built.copy("admin", f"oci:{release}:v1.0.0", f"{repository}:v1.0.0") == "ok"
    return built


def test_the_pull_identity_pulls_an_image(stack, tmp_path) -> None:
    assert stack.pull("pull-apps", "team/app:v1.0.0", tmp_path) == "ok"


def test_the_pull_identity_cannot_push_a_new_repository(stack) -> None:
    outcome = stack.copy("pull-apps", f"oci:{stack.release}:v1.0.0", "team/new:v1.0.0")
    assert refused(outcome), outcome


def test_the_pull_identity_cannot_overwrite_a_release_tag(stack) -> None:
    before = stack.digest("team/app:v1.0.0")
    outcome = stack.copy("pull-apps", f"oci:{stack.tampered}:v1.0.0", "team/app:v1.0.0")
    assert refused(outcome), outcome
    assert stack.digest("team/app:v1.0.0") == before


def test_the_pull_identity_cannot_delete_a_manifest(stack) -> None:
    outcome = stack.delete("pull-apps", "other/app:v1.0.0")
    assert refused(outcome), outcome


def test_the_pull_identity_cannot_list_the_catalog(stack) -> None:
    with pytest.raises(AuthError, match="refused"):
        list(stack.client("pull-apps").repositories())


def test_the_ci_identity_pushes_where_its_pattern_allows(stack) -> None:
    assert stack.copy("ci", f"oci:{stack.release}:v1.0.0", "team/service:v2.0.0") == "ok"


def test_the_ci_identity_cannot_push_outside_its_pattern(stack) -> None:
    outcome = stack.copy("ci", f"oci:{stack.tampered}:v1.0.0", "other/app:v1.0.0")
    assert refused(outcome), outcome


def test_the_ci_pattern_star_stays_within_one_path_component(stack) -> None:
    outcome = stack.copy("ci", f"oci:{stack.release}:v1.0.0", "team/app/nested:v1.0.0")
    assert refused(outcome), outcome


def test_the_ci_identity_cannot_delete(stack) -> None:
    outcome = stack.delete("ci", "team/app:v1.0.0")
    assert refused(outcome), outcome


def test_the_maintenance_identity_puts_gcs_reserved_tag_on_an_image(stack) -> None:
    # GC's protection tags every in-use manifest before it collects (components/jobs/gc_protect.py).
    assert stack.copy("admin", f"oci:{stack.release}:v1.0.0", "team/kept:v1") == "ok"
    digest = stack.digest("team/kept:v1")
    assert (
        stack.copy("maintenance", f"oci:{stack.release}:v1.0.0", "team/kept:regstack-gc-1") == "ok"
    )
    assert stack.digest("team/kept:regstack-gc-1") == digest


def test_the_maintenance_identity_lists_and_deletes_through_retentions_client(stack) -> None:
    assert stack.copy("admin", f"oci:{stack.release}:v1.0.0", "team/old:v0.1.0") == "ok"
    digest = stack.digest("team/old:v0.1.0")
    retention = stack.client("maintenance")
    listed = ("team/old" in list(retention.repositories()), retention.tags("team/old"))
    assert (listed, retention.delete_manifest("team/old", digest)) == ((True, ["v0.1.0"]), True)


def test_a_deleted_manifest_is_gone_for_every_identity(stack, tmp_path) -> None:
    assert stack.copy("admin", f"oci:{stack.release}:v1.0.0", "team/gone:v1") == "ok"
    assert stack.delete("maintenance", "team/gone:v1") == "ok"
    assert "manifest unknown" in stack.pull("admin", "team/gone:v1", tmp_path)


def test_a_wrong_password_gets_no_token(stack, tmp_path) -> None:
    stack.auth_files["intruder"] = tmp_path / "intruder.json"
    stack.auth_files["intruder"].write_text(
        docker_config([stack.registry.host], "pull-apps", "not-the-password")
    )
    outcome = stack.pull("intruder", "team/app:v1.0.0", tmp_path / "pulled")
    assert refused(outcome), outcome
