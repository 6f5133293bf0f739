"""The GC window always gives the registry back its replicas, whatever happens to GC.

The Kubernetes API is played by a small in-process HTTP server that keeps one Deployment's
scale; the end-to-end suite runs the same script against a real kube-apiserver.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from components.jobs import gc_window
from tests.helpers.registry import free_port


class FakeCluster:
    def __init__(self, replicas: int, pods_linger: int = 0):
        self.replicas = replicas
        self.pods_linger = pods_linger  # pod listings that still show pods after scaling to 0
        self.patches: list[int] = []


@pytest.fixture
def cluster() -> Iterator[tuple[FakeCluster, gc_window.Api]]:
    state = FakeCluster(replicas=2)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def reply(self, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.endswith("/scale"):
                self.reply({"spec": {"replicas": state.replicas}})
            else:
                lingering = state.replicas > 0 or state.pods_linger > 0
                state.pods_linger = max(0, state.pods_linger - 1)
                self.reply({"items": [{"metadata": {"name": "registry-0"}}] if lingering else []})

        def do_PATCH(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.replicas = body["spec"]["replicas"]
            state.patches.append(state.replicas)
            self.reply({"spec": {"replicas": state.replicas}})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api = gc_window.Api(f"http://127.0.0.1:{server.server_port}", "token", None)
    yield state, api
    server.shutdown()


def run(api: gc_window.Api, action: str, shared: Path, timeout: float = 5, *extra: str) -> int:
    flags = ["--namespace=ns", "--deployment=registry", "--selector=app=registry",
             f"--shared={shared}", f"--timeout={timeout}", "--poll=0.01"]  # fmt: skip
    return gc_window.main([action, *flags, *extra], api=api)


def test_stop_scales_the_registry_to_zero_and_remembers_its_replicas(cluster, tmp_path) -> None:
    state, api = cluster
    assert run(api, "stop", tmp_path) == 0
    assert (state.replicas, (tmp_path / "replicas").read_text()) == (0, "2")


def test_stop_waits_until_the_registry_pods_are_gone(cluster, tmp_path) -> None:
    state, api = cluster
    state.pods_linger = 3
    assert run(api, "stop", tmp_path) == 0 and state.pods_linger == 0


def test_restore_brings_the_replicas_back_and_passes_on_gc_success(cluster, tmp_path) -> None:
    state, api = cluster
    run(api, "stop", tmp_path)
    (tmp_path / "gc-exit").write_text("0\n")
    assert run(api, "restore", tmp_path) == 0 and state.replicas == 2


def test_a_failed_gc_still_restores_service_and_fails_the_job(cluster, tmp_path) -> None:
    state, api = cluster
    run(api, "stop", tmp_path)
    (tmp_path / "gc-exit").write_text("1\n")
    assert run(api, "restore", tmp_path) == 1 and state.replicas == 2


def test_a_cache_that_cannot_be_flushed_still_restores_service_and_fails_the_job(
    cluster, tmp_path
) -> None:
    state, api = cluster
    run(api, "stop", tmp_path)
    (tmp_path / "gc-exit").write_text("0\n")
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there
    assert run(api, "restore", tmp_path, 5, f"--redis={closed}") == 1 and state.replicas == 2


def test_a_gc_that_never_reports_is_cut_off_by_the_deadline(cluster, tmp_path) -> None:
    state, api = cluster
    run(api, "stop", tmp_path)
    assert run(api, "restore", tmp_path, timeout=0.2) == 1 and state.replicas == 2


def test_pods_that_never_stop_make_stop_restore_and_fail(cluster, tmp_path) -> None:
    state, api = cluster
    state.pods_linger = 10**6
    assert run(api, "stop", tmp_path, timeout=0.2) == 1 and state.replicas == 2


def test_a_registry_found_at_zero_comes_back_with_one_replica(cluster, tmp_path) -> None:
    state, api = cluster
    state.replicas = 0  # an earlier Job died inside its window
    run(api, "stop", tmp_path)
    (tmp_path / "gc-exit").write_text("0")
    run(api, "restore", tmp_path)
    assert state.replicas == 1


def test_an_unreachable_api_fails_cleanly(tmp_path) -> None:
    api = gc_window.Api("http://127.0.0.1:9", "token", None)
    assert run(api, "stop", tmp_path) == 1
