"""The registry password and tokens stay with the registry's origin (scheme, host, port).

Two stub servers on 127.0.0.1 are two origins: `registry` speaks the registry API for one
image and demands credentials; `elsewhere` records every request it gets, as an object
store, a hostile `Link` target or a foreign token realm would.  This is what Docker and
containerd do: drop `Authorization` on a redirect to another origin, refuse https->http,
and give a token realm the password only over https or on the registry's own origin.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devkit.oci_registry import OCI_MANIFEST, Answer, StubServer, make_cert

from .conftest import RunEngine

USER, PASSWORD = "ops", "s3cret"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
POLICY = {"rules": [{"repositories": "**", "keep_last": 1}]}
CONFIG = json.dumps({"created": "2025-01-01T00:00:00Z"}).encode()
CONFIG_DIGEST = "sha256:" + hashlib.sha256(CONFIG).hexdigest()
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": CONFIG_DIGEST,
            "size": len(CONFIG),
        },
        "layers": [],
    }
).encode()
JSON = {"Content-Type": "application/json"}


@dataclass
class Recorder:
    """Answers like an object store holding the config blob; remembers what it was sent."""

    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        self.requests.append((path, headers))
        if path.startswith("/token"):
            return 200, JSON, b'{"token": "from-elsewhere"}'
        return 200, JSON, CONFIG if "blob" in path else b'{"repositories": ["leaked"]}'

    def authorizations(self) -> list[str]:
        return [h["Authorization"] for _, h in self.requests if "Authorization" in h]


@dataclass
class Setup:
    registry: StubServer
    elsewhere: StubServer
    recorder: Recorder
    ca_file: Path
    credentials: tuple[str, ...]


def start_setup(
    tmp_path: Path, *, tls: bool, elsewhere_tls: bool, behaviour: dict[str, str]
) -> Setup:
    """`behaviour`: "auth" basic|bearer, "realm" same|elsewhere, "blob" here|redirect-same|
    redirect-elsewhere, "catalog" plain|link-elsewhere."""
    cert = make_cert(tmp_path / "tls", "servers")
    recorder = Recorder()
    elsewhere = StubServer(recorder.route, cert=cert if elsewhere_tls else None)
    registry: StubServer

    def route(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        if path.startswith("/token"):
            if headers.get("Authorization") != BASIC:
                return 401, JSON, b"{}"
            return 200, JSON, b'{"token": "granted"}'
        if path.startswith("/same-origin-blob"):
            return 200, JSON, CONFIG
        if behaviour["auth"] == "bearer" and headers.get("Authorization") != "Bearer granted":
            where = registry.url if behaviour["realm"] == "same" else elsewhere.url
            challenge = f'Bearer realm="{where}/token",service="reg",scope="repository:app:pull"'
            return 401, {"WWW-Authenticate": challenge}, b"{}"
        if behaviour["auth"] == "basic" and headers.get("Authorization") != BASIC:
            return 401, {"WWW-Authenticate": 'Basic realm="reg"'}, b"{}"
        if path.startswith("/v2/_catalog"):
            if behaviour["catalog"] == "link-elsewhere":
                link = f'<{elsewhere.url}/v2/_catalog?last=app&n=100>; rel="next"'
                return 200, {**JSON, "Link": link}, b'{"repositories": ["app"]}'
            return 200, JSON, b'{"repositories": ["app"]}'
        if path.startswith("/v2/app/tags/list"):
            return 200, JSON, b'{"tags": ["v1"]}'
        if "/manifests/" in path:
            digest = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
            return 200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest}, MANIFEST
        if behaviour["blob"] == "redirect-elsewhere":
            return 307, {"Location": f"{elsewhere.url}/blob?X-Amz-Signature=abc"}, b""
        if behaviour["blob"] == "redirect-same":
            return 307, {"Location": f"{registry.url}/same-origin-blob"}, b""
        return 200, JSON, CONFIG

    registry = StubServer(route, cert=cert if tls else None)
    password = tmp_path / "password"
    password.write_text(PASSWORD)
    credentials = ("--username", USER, "--password-file", str(password), "--ca-file", str(cert[0]))
    return Setup(registry, elsewhere, recorder, cert[0], credentials)


@pytest.fixture
def setups(tmp_path: Path) -> Iterator[list[Setup]]:
    started: list[Setup] = []
    yield started
    for setup in started:
        setup.registry.stop()
        setup.elsewhere.stop()


def setup_for(
    setups: list[Setup],
    tmp_path: Path,
    *,
    tls: bool = False,
    elsewhere_tls: bool = False,
    **behaviour: str,
) -> Setup:
    defaults = {"auth": "basic", "realm": "same", "blob": "here", "catalog": "plain"}
    setups.append(
        start_setup(
            tmp_path, tls=tls, elsewhere_tls=elsewhere_tls, behaviour={**defaults, **behaviour}
        )
    )
    return setups[-1]


@pytest.mark.parametrize("auth", ["basic", "bearer"])
def test_a_redirect_to_another_origin_does_not_carry_the_credentials(
    setups: list[Setup], tmp_path: Path, run_engine: RunEngine, auth: str
) -> None:
    setup = setup_for(setups, tmp_path, auth=auth, blob="redirect-elsewhere")

    run = run_engine(setup.registry.url, POLICY, *setup.credentials)

    assert run.returncode == 0, run.stderr
    assert [path for path, _ in setup.recorder.requests] == ["/blob?X-Amz-Signature=abc"]
    assert setup.recorder.authorizations() == []


def test_a_redirect_within_the_registry_keeps_the_credentials(
    setups: list[Setup], tmp_path: Path, run_engine: RunEngine
) -> None:
    setup = setup_for(setups, tmp_path, blob="redirect-same")

    run = run_engine(setup.registry.url, POLICY, *setup.credentials)

    assert run.returncode == 0, run.stderr  # the registry's stub refuses requests without them


def test_a_redirect_from_https_to_http_is_refused(
    setups: list[Setup], tmp_path: Path, run_engine: RunEngine
) -> None:
    setup = setup_for(setups, tmp_path, tls=True, blob="redirect-elsewhere")

    run = run_engine(setup.registry.url, POLICY, *setup.credentials)

    assert run.returncode == 1
    assert "refusing redirect" in run.stderr
    assert setup.recorder.requests == []


def test_a_next_page_on_another_origin_is_refused(
    setups: list[Setup], tmp_path: Path, run_engine: RunEngine
) -> None:
    setup = setup_for(setups, tmp_path, catalog="link-elsewhere")

    run = run_engine(setup.registry.url, POLICY, *setup.credentials)

    assert run.returncode == 1
    assert "refusing a next page on another origin" in run.stderr
    assert setup.recorder.requests == []


def test_a_token_realm_on_another_origin_over_http_never_gets_the_password(
    setups: list[Setup], tmp_path: Path, run_engine: RunEngine
) -> None:
    setup = setup_for(setups, tmp_path, auth="bearer", realm="elsewhere")

    run = run_engine(setup.registry.url, POLICY, *setup.credentials)

    assert setup.recorder.authorizations() == []
    assert run.returncode == 1
    assert "refusing to send it the credentials" in run.stderr


def test_a_token_realm_over_https_gets_the_password(
    setups: list[Setup], tmp_path: Path, run_engine: RunEngine
) -> None:
    setup = setup_for(setups, tmp_path, auth="bearer", realm="elsewhere", elsewhere_tls=True)

    run = run_engine(setup.registry.url, POLICY, *setup.credentials)

    # The realm grants a token the registry does not accept: what matters is who got what.
    assert setup.recorder.authorizations() == [BASIC]
    assert "token for repository:app:pull refused" in run.stderr


def test_a_token_realm_on_the_registry_itself_gets_the_password_over_http(
    setups: list[Setup], tmp_path: Path, run_engine: RunEngine
) -> None:
    setup = setup_for(setups, tmp_path, auth="bearer", realm="same")

    run = run_engine(setup.registry.url, POLICY, *setup.credentials)

    assert run.returncode == 0, run.stderr
