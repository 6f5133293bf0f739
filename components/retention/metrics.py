"""Prometheus text-format metrics for a textfile collector (and the Grafana panel).

The deletion counter and the last-success timestamp must survive runs, so they are read
back from the previous file: a failed run keeps the old timestamp (that staleness is what
alerts), and the counter only ever grows.

In the cluster there is no previous file and no collector: the Job's pod serves the file itself
for a while after the run (`serve_metrics`), long enough for a PodMonitor's scrapes.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_DELETED = "regstack_retention_deleted_total"
_LAST_SUCCESS = "regstack_retention_last_success_timestamp_seconds"


def write_metrics(
    path: str | Path,
    *,
    images: Mapping[str, int],
    deleted: int,
    skipped: int,
    succeeded: bool,
    now: float,
) -> None:
    path = Path(path)
    previous = _previous_values(path)
    last_success = now if succeeded else previous.get(_LAST_SUCCESS)
    lines = [
        "# HELP regstack_retention_images Distinct tagged images per repository after the run.",
        "# TYPE regstack_retention_images gauge",
        *(
            f'regstack_retention_images{{repository="{_escape(repo)}"}} {count}'
            for repo, count in sorted(images.items())
        ),
        "# HELP regstack_retention_skipped_repositories Repositories the last run could not plan.",
        "# TYPE regstack_retention_skipped_repositories gauge",
        f"regstack_retention_skipped_repositories {skipped}",
        f"# HELP {_DELETED} Manifests deleted by retention, over all runs.",
        f"# TYPE {_DELETED} counter",
        f"{_DELETED} {previous.get(_DELETED, 0) + deleted:g}",
    ]
    if last_success is not None:
        lines += [
            f"# HELP {_LAST_SUCCESS} When a retention run last completed without errors.",
            f"# TYPE {_LAST_SUCCESS} gauge",
            f"{_LAST_SUCCESS} {last_success:.3f}",
        ]
    # Write then rename, so a collector never reads a half-written file.
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text("\n".join(lines) + "\n")
    os.replace(temporary, path)


def serve_metrics(path: str | Path, port: int, seconds: float, host: str = "0.0.0.0") -> None:
    """Answer `GET /metrics` with the file at `path` for `seconds`, then return."""
    body = Path(path).read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path.split("?")[0] == "/metrics"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # a scrape every interval is not worth a log line

    deadline = time.monotonic() + seconds
    with ThreadingHTTPServer((host, port), Handler) as server:
        server.timeout = 0.2
        while time.monotonic() < deadline:
            server.handle_request()


def _previous_values(path: Path) -> dict[str, float]:
    if not path.exists():
        return {}
    values = {}
    for name in (_DELETED, _LAST_SUCCESS):
        match = re.search(rf"^{name} (\S+)$", path.read_text(), re.MULTILINE)
        if match:
            values[name] = float(match.group(1))
    return values


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
