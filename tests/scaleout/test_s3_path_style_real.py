"""`forcepathstyle`: Distribution 3.x honours it, 2.8 ignores it (always path-style with an
endpoint), against a real SeaweedFS.

A bucket-in-the-host-name request goes to `<bucket>.127.0.0.1:<port>`, which no resolver knows;
so both registries get HTTP_PROXY pointing at a loopback recorder. Go never proxies a request
to a loopback IP, so path-style requests reach SeaweedFS directly and only virtual-host ones
reach the recorder, which answers 502: which key the registry read shows in what it recorded.
"""

from __future__ import annotations

import http.server
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.distribution_config import (
    RenderSettings,
    S3Settings,
)
from devkit.registry import free_port, start_registry
from devkit.s3 import REGISTRY_KEYS, S3Server, start_s3

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = start_s3(tmp_path_factory.mktemp("s3"))
    yield server
    server.stop()


@pytest.fixture
def proxied_hosts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Hosts of the requests the registry sends through HTTP_PROXY."""
    hosts: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hosts.append(self.headers.get("Host", ""))
            self.send_error(502)

        do_HEAD = do_PUT = do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_port}")
    yield hosts
    server.shutdown()


def catalog_status(s3: S3Server, workdir: Path, line: int, path_style: bool) -> int:
    settings = RenderSettings(line=line, s3=S3Settings(
        bucket=s3.bucket, endpoint=s3.endpoint, secure=False, path_style=path_style,
        root_directory=f"/path-style-{line}-{path_style}"))  # fmt: skip
    registry = start_registry(workdir, settings, secrets=REGISTRY_KEYS)
    try:
        with urllib.request.urlopen(f"{registry.url}/v2/_catalog", timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code
    finally:
        registry.stop()


def test_3x_talks_path_style_to_the_endpoint_with_the_rendered_key(
    s3: S3Server, tmp_path: Path, proxied_hosts: list[str]
) -> None:
    assert catalog_status(s3, tmp_path, 3, path_style=True) == 200
    assert proxied_hosts == []


def test_3x_reads_forcepathstyle_false_and_puts_the_bucket_in_the_host_name(
    s3: S3Server, tmp_path: Path, proxied_hosts: list[str]
) -> None:
    assert catalog_status(s3, tmp_path, 3, path_style=False) != 200
    assert proxied_hosts and all(h.startswith(f"{s3.bucket}.127.0.0.1:") for h in proxied_hosts)


def test_2x_ignores_forcepathstyle_and_stays_path_style(
    s3: S3Server, tmp_path: Path, proxied_hosts: list[str]
) -> None:
    assert catalog_status(s3, tmp_path, 2, path_style=False) == 200
    assert proxied_hosts == []
