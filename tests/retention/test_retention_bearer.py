"""The Bearer-token flow against Distribution's own `auth.token` implementation.

The token service is a stub (stdlib HTTP, JWTs signed RS256 with `openssl dgst`, the
certificate in the `x5c` header); the registry side -- challenges, token verification,
scope checks -- is the real registry, configured with that certificate as its
`rootcertbundle`.  The token service speaks https, as the engine sends it the password only
over https (the service's certificate is the engine's `--ca-file`).
"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from components.retention.http import HttpClient, ssl_context
from components.retention.registry import Registry
from devkit.oci_registry import TOOLS, Answer, RegistryServer, StubServer, make_cert, push_image
from devkit.registry import require

from .conftest import RunEngine

pytestmark = pytest.mark.servers

SERVICE, ISSUER = "regstack", "regstack-test-issuer"
USER, PASSWORD = "ops", "s3cret"
POLICY = {"rules": [{"repositories": "**", "keep_last": 1}]}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenService:
    """Grants every requested scope to USER:PASSWORD, and remembers the scopes asked for."""

    cert: Path
    key: Path
    scopes: list[str] = field(default_factory=list)

    def route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if headers.get("Authorization") != basic:
            return 401, {"Content-Type": "application/json"}, b'{"errors": []}'
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        self.scopes += query.get("scope", [])
        token = self.sign(query.get("scope", []))
        return 200, {"Content-Type": "application/json"}, json.dumps({"token": token}).encode()

    def sign(self, scopes: list[str]) -> str:
        access = []
        for scope in scopes:
            kind, rest = scope.split(":", 1)
            name, actions = rest.rsplit(":", 1)
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            **{"iss": ISSUER, "sub": USER, "aud": SERVICE, "jti": uuid.uuid4().hex},
            **{"iat": now - 5, "nbf": now - 5, "exp": now + 300, "access": access},
        }
        der = ssl.PEM_cert_to_DER_cert(self.cert.read_text())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        signed = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signed.encode(),
            capture_output=True,
            check=True,
        ).stdout
        return f"{signed}.{_b64url(signature)}"


@dataclass
class TokenSetup:
    registry: RegistryServer
    tokens: TokenService
    ca_file: Path  # signed the token service's https certificate

    def tags(self, repository: str) -> set[str]:
        client = HttpClient(context=ssl_context(str(self.ca_file)), retries=0)
        return set(
            Registry(self.registry.url, client, username=USER, password=PASSWORD).tags(repository)
        )


@pytest.fixture
def token_setup(tmp_path: Path) -> Iterator[TokenSetup]:
    require(*TOOLS)
    tokens = TokenService(*make_cert(tmp_path / "token", "token-signer"))
    tls = make_cert(tmp_path / "tls", "token-service")
    service = StubServer(tokens.route, cert=tls)
    auth = {
        "token": {
            "realm": f"{service.url}/token",
            "service": SERVICE,
            "issuer": ISSUER,
            "rootcertbundle": str(tokens.cert),
        }
    }
    registry = RegistryServer(tmp_path / "registry", {"auth": auth}, creds=f"{USER}:{PASSWORD}")
    registry.start()
    yield TokenSetup(registry, tokens, tls[0])
    registry.stop()
    service.stop()


def test_bearer_tokens_from_the_challenged_realm_let_the_engine_plan_and_delete(
    token_setup: TokenSetup, run_engine: RunEngine, tmp_path: Path
) -> None:
    registry = token_setup.registry
    push_image(registry, "team/app", "new", "2025-01-01T00:00:00Z")
    push_image(registry, "team/app", "old", "2020-01-01T00:00:00Z")
    (tmp_path / "password").write_text(PASSWORD)
    token_setup.tokens.scopes.clear()

    run = run_engine(
        registry.url,
        POLICY,
        "--apply",
        *("--username", USER, "--password-file", str(tmp_path / "password")),
        *("--ca-file", str(token_setup.ca_file)),
    )

    assert run.returncode == 0, run.stderr
    assert token_setup.tags("team/app") == {"new"}
    assert "registry:catalog:*" in token_setup.tokens.scopes
    assert any(
        s.startswith("repository:team/app:") and "delete" in s for s in token_setup.tokens.scopes
    )


def test_credentials_the_token_service_refuses_fail_cleanly_and_delete_nothing(
    token_setup: TokenSetup, run_engine: RunEngine, tmp_path: Path
) -> None:
    push_image(token_setup.registry, "team/app", "new", "2025-01-01T00:00:00Z")
    push_image(token_setup.registry, "team/app", "old", "2020-01-01T00:00:00Z")
    (tmp_path / "password").write_text("wrong")

    run = run_engine(
        token_setup.registry.url,
        POLICY,
        "--apply",
        *("--username", USER, "--password-file", str(tmp_path / "password")),
        *("--ca-file", str(token_setup.ca_file)),
    )

    assert run.returncode == 1
    assert "rejected the credentials" in run.stderr
    assert token_setup.tags("team/app") == {"new", "old"}
