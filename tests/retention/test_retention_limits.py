"""What a pusher can put in the registry must not exhaust, hang or end a retention run.

Big or foreign configs are not read (the image's age is unknown: it is kept); bodies are
read up to a limit; a document that does not parse skips its repository, and only it;
pagination is capped.  Real registry where the registry can hold the case, a stub where
only a misbehaving registry can (endless `Link` pages).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import urllib.parse
from collections.abc import Iterator

import pytest

from components.retention.http import HttpClient, ResponseTooLarge, ssl_context
from devkit.oci_registry import (
    OCI_MANIFEST,
    Answer,
    FaultProxy,
    RegistryServer,
    StubServer,
    push_image,
    push_with_config,
    tags_of,
)

from .conftest import RunEngine

pytestmark = pytest.mark.servers

OLD = "2020-01-01T00:00:00Z"
NEW = "2025-01-01T00:00:00Z"
KEEP_ONE = {"rules": [{"repositories": "**", "keep_last": 1}]}
FIVE_MIB = 5 << 20


def old_config(padding: int = 0) -> bytes:
    """An image config dated OLD, padded to about `padding` bytes."""
    return json.dumps(
        {"created": OLD, "architecture": "amd64", "os": "linux", "pad": "x" * padding}
    ).encode()


@pytest.fixture
def watched(registry: RegistryServer) -> Iterator[FaultProxy]:
    """The registry behind a proxy that records every request."""
    proxy = FaultProxy(registry, lambda method, path, n: "pass")
    yield proxy
    proxy.stop()


def blob_reads(proxy: FaultProxy, digest: str) -> int:
    return sum(
        method == "GET" and path.endswith(f"/blobs/{digest}") for method, path, _ in proxy.seen
    )


def test_a_config_over_the_size_limit_is_not_read_and_its_image_is_kept(
    registry: RegistryServer, run_engine: RunEngine, watched: FaultProxy
) -> None:
    push_image(registry, "team/app", "new", NEW)
    _, config = push_with_config(registry, "team/app", "huge", old_config(FIVE_MIB))

    run = run_engine(watched.url, KEEP_ONE, "--apply")

    assert run.returncode == 0, run.stderr
    assert tags_of(registry, "team/app") == {"new", "huge"}
    assert blob_reads(watched, config) == 0


def test_a_config_that_is_not_an_image_config_is_not_read(
    registry: RegistryServer, run_engine: RunEngine, watched: FaultProxy
) -> None:
    push_image(registry, "team/app", "new", NEW)
    _, config = push_with_config(
        registry,
        "team/app",
        "chart",
        old_config(),
        media_type="application/vnd.cncf.helm.config.v1+json",
    )

    run = run_engine(watched.url, KEEP_ONE, "--apply")

    assert run.returncode == 0, run.stderr
    assert tags_of(registry, "team/app") == {"new", "chart"}
    assert blob_reads(watched, config) == 0


@pytest.mark.parametrize(
    ("case", "config", "declared"),
    [
        ("config larger than it says", old_config(FIVE_MIB), 200),
        (
            "config nested too deep to parse",
            b'{"created": "2020-01-01T00:00:00Z", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            None,
        ),
        ("config that is a list", b"[]", None),
    ],
)
def test_an_image_whose_config_cannot_be_read_is_kept_and_its_repository_still_planned(
    registry: RegistryServer, run_engine: RunEngine, case: str, config: bytes, declared: int | None
) -> None:
    for repository in ("good", "odd"):
        push_image(registry, repository, "new", NEW)
        push_image(registry, repository, "old", OLD)
    push_with_config(registry, "odd", "bad", config, declared_size=declared)

    run = run_engine(registry.url, KEEP_ONE, "--apply")

    assert run.returncode == 0, (case, run.stderr)
    assert "Traceback" not in run.stderr
    assert run.repository("odd")["status"] == "ok"
    reasons = {t["tag"]: t["reason"] for t in run.repository("odd")["tags"]}
    assert reasons["bad"].startswith("creation time unknown")
    assert tags_of(registry, "odd") == {"new", "bad"}
    assert tags_of(registry, "good") == {"new"}


@pytest.fixture
def bloated() -> Iterator[StubServer]:
    """A registry serving one repository whose one tag is a 5 MiB manifest (Distribution
    itself refuses such a PUT; a proxy or another registry may still serve one), sent with
    or without a Content-Length."""
    manifest = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "annotations": {"pad": "x" * FIVE_MIB}}
    ).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()

    def route(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        kind = {"Content-Type": "application/json"}
        if path.startswith("/v2/_catalog"):
            return 200, kind, b'{"repositories": ["team/app"]}'
        if path.startswith("/v2/team/app/tags/list"):
            return 200, kind, b'{"tags": ["big"]}'
        answer = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest}
        return 200, answer, manifest

    server = StubServer(route)
    yield server
    server.stop()


def test_a_manifest_over_the_size_limit_skips_its_repository(
    bloated: StubServer, run_engine: RunEngine
) -> None:
    run = run_engine(bloated.url, KEEP_ONE, "--apply")

    assert run.returncode == 1
    assert "skipped team/app" in run.stderr
    assert "over the 4194304-byte limit" in run.stderr


def test_a_body_without_a_length_is_read_only_up_to_the_limit() -> None:
    class Endless(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)  # no Content-Length: the body ends when the server closes
            self.end_headers()
            try:
                for _ in range(64):
                    self.wfile.write(b"x" * (1 << 20))
            except OSError:
                pass  # the client stopped reading, as it should

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = HttpClient(context=ssl_context(None), retries=0)
        with pytest.raises(ResponseTooLarge, match="over the 1048576-byte limit"):
            client.send(
                "GET", f"http://127.0.0.1:{server.server_address[1]}/", kind="x", limit=1 << 20
            )
    finally:
        server.shutdown()
        server.server_close()


# --- pagination against a registry that never stops ---------------------------------


@pytest.fixture
def endless() -> Iterator[StubServer]:
    """A catalog whose every page links to a new URL: under /same/ each page repeats the
    same names, under /fresh/ each page brings new ones."""

    def route(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        page = int(query.get("page", ["0"])[0])
        names = ["a", "b"] if path.startswith("/same/") else [f"r{page}"]
        prefix = "/same" if path.startswith("/same/") else "/fresh"
        link = f'<{prefix}/v2/_catalog?n=100&page={page + 1}>; rel="next"'
        answer = json.dumps({"repositories": names}).encode()
        return 200, {"Content-Type": "application/json", "Link": link}, answer

    server = StubServer(route)
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("prefix", "message"),
    [("/same", "a page with no new names"), ("/fresh", "more than 50 pages")],
)
def test_a_registry_answering_new_link_urls_forever_ends_the_run_cleanly(
    endless: StubServer, run_engine: RunEngine, prefix: str, message: str
) -> None:
    run = run_engine(endless.url + prefix, KEEP_ONE, "--max-pages", "50", timeout=60)

    assert run.returncode == 1
    assert message in run.stderr
    assert "Traceback" not in run.stderr
