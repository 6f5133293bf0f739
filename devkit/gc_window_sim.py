"""The GC window between real registry processes, with a loopback forwarder as the Service.

A SIMULATION of the registry's Service during the GC Job, not Kubernetes: real pods do not run
on this machine's test cluster. What is real: the registry processes (the shared
`start_registry`/`serve` helpers, with the config regstack renders), their storage (a directory,
or a bucket of SeaweedFS), the read-only variable the GC Job puts in the pod template, and
`registry garbage-collect --delete-untagged` as the gc container runs it. What stands in for
Kubernetes: a TCP forwarder whose backend is switched the way a rolling update moves the
Service's endpoints (new pod ready first, then the old one drained of its open connections and
stopped), or emptied, as scaling to zero does.

While the window opens and closes, pullers pull tagged images (every blob checked against its
digest) and a pusher tries to push a small blob every PUSH_EVERY seconds; `run_window` returns
what they saw.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from components.distribution_config import ENV_HTTP_SECRET, RenderSettings
from components.jobs.gc_window import READ_ONLY_ENV, READ_ONLY_VALUE
from devkit.registry import RunningRegistry, free_port, serve, start_registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PUSH_EVERY = 0.2
Mode = Literal["read-only", "stop"]


class Forwarder:
    """127.0.0.1:port -> the current backend; connections keep the backend they started on."""

    def __init__(self, backend: str | None):
        self.backend = backend
        self.active: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", free_port()))
        self.host = f"127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        # Picking the backend and counting the connection on it are one step: otherwise a
        # connection picked just before a switch is not yet counted when `drain` looks, and
        # reaches a backend already stopped.
        with self._lock:
            backend = self.backend
            if backend is not None:
                self.active[backend] += 1
        if backend is None:  # no endpoints: what a Deployment scaled to zero leaves
            client.close()
            return
        host, port = backend.rsplit(":", 1)
        try:
            upstream = socket.create_connection((host, int(port)), timeout=60)
        except OSError:
            client.close()
            self._release(backend)
            return
        done = threading.Event()

        def pipe(source: socket.socket, sink: socket.socket) -> None:
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                done.set()

        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)
        done.wait(60)
        for end in (client, upstream):
            end.close()
        self._release(backend)

    def _release(self, backend: str) -> None:
        with self._lock:
            self.active[backend] -= 1

    def switch(self, backend: str | None) -> None:
        with self._lock:
            self.backend = backend

    def drain(self, backend: str, timeout: float = 30) -> None:
        """Wait until no connection to `backend` is open: a pod's graceful termination."""
        deadline = time.monotonic() + timeout
        while self.active[backend] and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        self._listener.close()


def request(
    host: str, method: str, path: str, body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    connection = http.client.HTTPConnection(host, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, dict(answer.headers), answer.read()
    finally:
        connection.close()


def push_blob(host: str, repository: str, data: bytes) -> tuple[int, str]:
    """(status of the step that ended the push, digest): 201 when the blob is stored."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    status, headers, _ = request(host, "POST", f"/v2/{repository}/blobs/uploads/")
    if status != 202:
        return status, digest
    location = headers["Location"]
    path = location[location.index("/v2/") :]
    status, _, _ = request(host, "PUT", f"{path}&digest={digest}", data,
                            {"Content-Type": "application/octet-stream"})  # fmt: skip
    return status, digest


def push_image(host: str, repository: str, tag: str, layers: int, size: int) -> None:
    digests = []
    for _ in range(layers):
        status, digest = push_blob(host, repository, os.urandom(size))
        assert status == 201, status
        digests.append(digest)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": digests}}).encode()  # fmt: skip
    status, config_digest = push_blob(host, repository, config)
    assert status == 201, status
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d,
                    "size": size} for d in digests],
    }).encode()  # fmt: skip
    status, _, body = request(host, "PUT", f"/v2/{repository}/manifests/{tag}", manifest,
                               {"Content-Type": OCI_MANIFEST})  # fmt: skip
    assert status == 201, (status, body)


def pull_image(host: str, repository: str, tag: str) -> None:
    """Manifest and every blob, each checked against its digest; raises on any failure."""
    status, _, body = request(host, "GET", f"/v2/{repository}/manifests/{tag}",
                               headers={"Accept": OCI_MANIFEST})  # fmt: skip
    if status != 200:
        raise OSError(f"manifest: HTTP {status}")
    manifest = json.loads(body)
    for digest in [manifest["config"]["digest"]] + [
        layer["digest"] for layer in manifest["layers"]
    ]:
        status, _, blob = request(host, "GET", f"/v2/{repository}/blobs/{digest}")
        if status != 200 or "sha256:" + hashlib.sha256(blob).hexdigest() != digest:
            raise OSError(f"blob {digest[:19]}: HTTP {status}")


@dataclass
class Event:
    started: float
    at: float
    """When it ended."""
    outcome: str
    """"ok", an HTTP status, or the name of the connection error."""


@dataclass
class Traffic:
    """Pullers and a pusher going through `host` until stopped."""

    host: str
    repositories: list[str]
    pullers: int = 2
    pulls: list[Event] = field(default_factory=list)
    pushes: list[Event] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._pull, daemon=True)
                         for _ in range(self.pullers)]  # fmt: skip
        self._threads.append(threading.Thread(target=self._push, daemon=True))
        for thread in self._threads:
            thread.start()

    def _pull(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                pull_image(self.host, random.choice(self.repositories), "latest")
                outcome = "ok"
            except (OSError, http.client.HTTPException, ValueError) as err:
                outcome = type(err).__name__ + (f": {err}" if type(err) is OSError else "")
                time.sleep(0.05)  # as a client's retry would; a tight loop would starve the CPUs
            self.pulls.append(Event(started, time.monotonic(), outcome))

    def _push(self) -> None:
        while not self._stop.wait(PUSH_EVERY):
            started = time.monotonic()
            try:
                status, _ = push_blob(self.host, "probe/pushes", os.urandom(1024))
                outcome = "ok" if status == 201 else str(status)
            except (OSError, http.client.HTTPException) as err:
                outcome = type(err).__name__
            self.pushes.append(Event(started, time.monotonic(), outcome))

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(120)


@dataclass
class WindowFigures:
    mode: Mode
    pulls: int
    failed_pulls: int
    pulls_during_gc: int
    failed_pulls_during_gc: int
    push_refused_s: float
    """From the first refused push to the first accepted one after it."""
    push_refusals: Counter[str]
    """How pushes were refused: HTTP status or connection error, and how often."""
    gc_s: float
    window_s: float
    """From the start of closing to the end of reopening."""
    gc_exit: int
    failures: Counter[str]


def _refused_seconds(pushes: list[Event]) -> float:
    refused_since: float | None = None
    total = 0.0
    for event in pushes:
        if event.outcome != "ok" and refused_since is None:
            refused_since = event.at
        elif event.outcome == "ok" and refused_since is not None:
            total += event.at - refused_since
            refused_since = None
    return total


def start_on_a_volume(workdir: Path) -> RunningRegistry:
    """The registry as regstack renders it on a filesystem volume: with the shared http.secret
    every stack has (components/platform.py), which the read-only pod shares."""
    settings = RenderSettings(shared_secret=True)
    return start_registry(workdir, settings, secrets={ENV_HTTP_SECRET: "gc-window-simulation"})


def read_only_twin(registry: RunningRegistry, workdir: Path) -> RunningRegistry:
    """A second process on the same config and storage, started as the GC Job's template
    patch starts a pod: with the read-only variable. Only the listen ports differ."""
    config = yaml.safe_load(registry.config_path.read_text())
    config["http"]["addr"] = f"127.0.0.1:{free_port()}"
    if "debug" in config["http"]:
        config["http"]["debug"]["addr"] = f"127.0.0.1:{free_port()}"
    env = {**registry.env, READ_ONLY_ENV: READ_ONLY_VALUE}
    return serve(workdir, config, env, registry.ca_file, registry.user)


def seed(host: str, images: int, layers: int, size: int) -> list[str]:
    """`images` repositories with a `latest` tag, each pushed twice: the first manifest and
    its layers become garbage for `--delete-untagged`."""
    repositories = [f"team/app-{n:03d}" for n in range(images)]
    for repository in repositories:
        for _ in range(2):
            push_image(host, repository, "latest", layers, size)
    return repositories


def run_window(
    registry: RunningRegistry, workdir: Path, mode: Mode, repositories: list[str],
    settle: float = 1.0,
) -> WindowFigures:  # fmt: skip
    """Traffic through a forwarder while the GC window closes, GC runs and the window reopens;
    `registry` (read-write, running) is running again at the end."""
    forwarder = Forwarder(registry.host)
    traffic = Traffic(forwarder.host, repositories)
    traffic.start()
    twin: RunningRegistry | None = None
    try:
        time.sleep(settle)
        closing = time.monotonic()
        if mode == "read-only":
            twin = read_only_twin(registry, workdir / "read-only")
            forwarder.switch(twin.host)
        else:
            forwarder.switch(None)
        forwarder.drain(registry.host)
        registry.stop()
        gc_start = time.monotonic()
        gc = registry.garbage_collect("--delete-untagged")
        gc_end = time.monotonic()
        registry.start()
        forwarder.switch(registry.host)
        if twin is not None:
            forwarder.drain(twin.host)
            twin.stop()
        reopened = time.monotonic()
        time.sleep(settle)
    finally:
        traffic.stop()
        forwarder.close()
        if twin is not None and twin.process.poll() is None:
            twin.stop()
    failed = [e for e in traffic.pulls if e.outcome != "ok"]
    # A pull is "during GC" when any part of it is: a GC shorter than one pull still counts.
    during = [e for e in traffic.pulls if e.started <= gc_end and e.at >= gc_start]
    return WindowFigures(
        mode=mode, pulls=len(traffic.pulls), failed_pulls=len(failed),
        pulls_during_gc=len(during),
        failed_pulls_during_gc=sum(1 for e in during if e.outcome != "ok"),
        push_refused_s=_refused_seconds(traffic.pushes),
        push_refusals=Counter(e.outcome for e in traffic.pushes if e.outcome != "ok"),
        gc_s=gc_end - gc_start, window_s=reopened - closing, gc_exit=gc.returncode,
        failures=Counter(e.outcome for e in failed),
    )  # fmt: skip
