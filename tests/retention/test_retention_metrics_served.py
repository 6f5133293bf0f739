"""A retention Job's pod serves its metrics file over HTTP for a while, then ends."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from components.retention.cli import parse_args
from components.retention.metrics import serve_metrics, write_metrics


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, ""


def test_the_metrics_file_is_served_at_metrics_until_the_linger_ends(tmp_path: Path) -> None:
    path = tmp_path / "retention.prom"
    write_metrics(path, images={"team/app": 3}, deleted=2, skipped=0, succeeded=True, now=1e9)
    port = free_port()
    server = threading.Thread(target=serve_metrics, args=(path, port, 1.5, "127.0.0.1"))
    started = time.monotonic()
    server.start()
    time.sleep(0.3)
    status, body = get(f"http://127.0.0.1:{port}/metrics")
    assert (status, body) == (200, path.read_text())
    assert 'regstack_retention_images{repository="team/app"} 3' in body
    assert get(f"http://127.0.0.1:{port}/other")[0] == 404
    server.join(timeout=10)
    assert not server.is_alive() and time.monotonic() - started >= 1.5
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_a_metrics_port_without_a_metrics_file_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--registry", "http://r:5000", "--policy", "p.json", "--metrics-port", "9102"])
    assert "--metrics-port serves the --metrics-file" in capsys.readouterr().err
