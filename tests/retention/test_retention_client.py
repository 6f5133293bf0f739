"""The HTTP client against stand-in servers: pagination, the Bearer flow, the pod lister.

Distribution 2.8 ignores `n` on tag lists and a real token service is not part of these
tests, so pagination and the Bearer challenge flow are exercised against stub servers.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.retention.http import HttpClient, ssl_context
from components.retention.inuse import fetch_in_use_from_cluster
from components.retention.registry import AuthError, Registry
from devkit.oci_registry import Answer, RegistryServer, StubServer, make_cert, push_image, tags_of

from .conftest import RunEngine

NAMES = [f"r{n}" for n in range(5)]


def client() -> HttpClient:
    return HttpClient(context=ssl_context(None), retries=0)


def paged(path: str, key: str, absolute: str) -> Answer:
    """Pages of two names; the catalog links relatively, the tag list absolutely."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    size = int(query["n"][0])
    last = query.get("last", [""])[0]
    rest = [name for name in NAMES if name > last]
    headers = {"Content-Type": "application/json"}
    if len(rest) > size:
        target = f"{urllib.parse.urlsplit(path).path}?n={size}&last={rest[size - 1]}"
        headers["Link"] = f'<{absolute}{target}>; rel="next"'
    return 200, headers, json.dumps({key: rest[:size]}).encode()


@pytest.fixture
def paging_registry() -> Iterator[StubServer]:
    def route(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        if path.startswith("/v2/_catalog"):
            return paged(path, "repositories", "")
        return paged(path, "tags", server.url)

    server = StubServer(route)
    yield server
    server.stop()


def test_catalog_and_tag_lists_follow_link_headers_page_by_page(
    paging_registry: StubServer,
) -> None:
    http = client()
    registry = Registry(paging_registry.url, http, page_size=2)

    assert list(registry.repositories()) == NAMES
    assert registry.tags("r0") == NAMES
    assert http.requests == {"catalog": 3, "tags": 3}


@pytest.fixture
def token_registry() -> Iterator[StubServer]:
    """A registry demanding Bearer tokens, with its token service at /token."""

    def route(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        if path.startswith("/token"):
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
            expected = "Basic " + base64.b64encode(b"ops:s3cret").decode()
            if headers.get("Authorization") != expected or query["service"] != ["reg"]:
                return 401, {}, b"{}"
            return 200, {}, json.dumps({"token": "t:" + query["scope"][0]}).encode()
        scope = "repository:app:pull"
        if headers.get("Authorization") != f"Bearer t:{scope}":
            challenge = f'Bearer realm="{server.url}/token",service="reg",scope="{scope}"'
            return 401, {"WWW-Authenticate": challenge}, b"{}"
        return 200, {"Content-Type": "application/json"}, b'{"tags": ["v1"]}'

    server = StubServer(route)
    yield server
    server.stop()


def test_a_bearer_challenge_is_answered_with_a_token_for_its_scope_and_reused(
    token_registry: StubServer,
) -> None:
    http = client()
    registry = Registry(token_registry.url, http, username="ops", password="s3cret")

    assert registry.tags("app") == ["v1"]
    assert registry.tags("app") == ["v1"]
    # One challenge, one token, then the cached token goes straight through.
    assert http.requests == {"tags": 3, "token": 1}


def test_a_token_service_refusing_the_credentials_is_an_auth_error(
    token_registry: StubServer,
) -> None:
    registry = Registry(token_registry.url, client(), username="ops", password="wrong")

    with pytest.raises(AuthError, match="rejected the credentials"):
        registry.tags("app")


PODS = [
    {
        "items": [
            {
                "spec": {"containers": [{"image": "reg.example:5000/team/app:running"}]},
                "status": {"containerStatuses": [{"imageID": "reg.example/x@sha256:ab"}]},
            }
        ],
        "metadata": {"continue": "page-2"},
    },
    {"items": [{"spec": {"initContainers": [{"image": "team/init:v0"}]}}], "metadata": {}},
]


@pytest.fixture
def kubernetes_api(tmp_path: Path) -> Iterator[StubServer]:
    """An HTTPS stand-in for the API server that lists pods in two pages."""
    cert = make_cert(tmp_path / "account", "kubernetes")
    (tmp_path / "account/ca.crt").write_bytes(cert[0].read_bytes())
    (tmp_path / "account/token").write_text("sa-token\n")

    def route(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        if headers.get("Authorization") != "Bearer sa-token" or method != "GET":
            return 403, {}, b"{}"
        if not path.startswith("/api/v1/pods?"):  # the other kinds the inventory lists
            return 200, {"Content-Type": "application/json"}, b'{"items": []}'
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        page = PODS[1] if query.get("continue") == ["page-2"] else PODS[0]
        return 200, {"Content-Type": "application/json"}, json.dumps(page).encode()

    server = StubServer(route, cert=cert)
    yield server
    server.stop()


def test_pods_in_all_namespaces_are_listed_page_by_page_with_the_service_account(
    kubernetes_api: StubServer, tmp_path: Path
) -> None:
    http = HttpClient(context=ssl_context(str(tmp_path / "account/ca.crt")), retries=0)

    in_use = fetch_in_use_from_cluster(http, kubernetes_api.url, "sa-token")

    assert in_use.tags == {("team/app", "running"), ("team/init", "v0")}
    assert in_use.digests == {"sha256:ab"}
    assert http.requests == {"kubernetes": 2 + 6}, "two pages of Pods, one of each other kind"


@pytest.mark.servers
def test_images_running_in_the_cluster_are_kept_by_an_applying_run(
    registry: RegistryServer, kubernetes_api: StubServer, run_engine: RunEngine, tmp_path: Path
) -> None:
    push_image(registry, "team/app", "running", "2020-01-01T00:00:00Z")
    push_image(registry, "team/app", "idle", "2020-01-01T00:00:00Z")
    cluster = ("--in-use-from-cluster", "--kubernetes-api", kubernetes_api.url)
    account = ("--service-account-dir", str(tmp_path / "account"))

    run = run_engine(
        registry.url,
        {"rules": [{"repositories": "*", "max_age_days": 1}]},
        "--apply",
        *cluster,
        *account,
    )

    assert run.returncode == 0, run.stderr
    assert tags_of(registry, "team/app") == {"running"}


def test_429_and_5xx_answers_are_retried_and_other_errors_are_returned() -> None:
    answers = iter([(429, {"Retry-After": "0"}, b""), (503, {}, b""), (200, {}, b"ok")])
    server = StubServer(lambda method, path, headers, body: next(answers))
    try:
        http = HttpClient(context=ssl_context(None), retries=2, backoff=0.01)
        assert http.send("GET", server.url + "/a", kind="x").status == 200
        assert http.requests == {"x": 3}
    finally:
        server.stop()


def test_a_client_error_is_an_answer_not_a_reason_to_retry() -> None:
    server = StubServer(lambda method, path, headers, body: (404, {}, b"{}"))
    try:
        http = HttpClient(context=ssl_context(None), retries=3, backoff=0.01)
        assert http.send("GET", server.url + "/a", kind="x").status == 404
        assert http.requests == {"x": 1}
    finally:
        server.stop()
