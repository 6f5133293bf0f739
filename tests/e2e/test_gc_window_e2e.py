"""The GC window against a real kube-apiserver, with the RBAC and command line regstack renders.

Each test gets a namespace with a registry Deployment, the rendered ServiceAccount, Role and
RoleBinding, and runs gc_window.py's steps with that account's token and the flags of the
rendered CronJob. The test control plane runs no kubelet and no Deployment controller, so the
tests play both: they create the Pod objects that stand for registry pods (and for the GC pod
itself), set their status through the status subresource, and replace pods as a rollout would.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from engine import Engine

from components.jobs import gc_window
from components.kube import REGISTRY_SELECTOR as SELECTOR
from components.retention.http import HttpClient, ssl_context
from components.retention.inuse import InventoryError, fetch_in_use_from_cluster
from devkit.manifests import manifests
from devkit.pulumi_mocks import platform

pytestmark = pytest.mark.e2e

DEPLOYMENT = "registry"
REPO = Path(__file__).resolve().parents[2]
S3 = {"storage": {"type": "s3", "s3": {"bucket": "registry-blobs", "endpoint": "https://s3.lab"}}}


def rendered(config: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The GC objects regstack renders for `config`: RBAC objects and the Job's pod spec."""
    objects = [o for o in manifests(platform(config))
               if o["metadata"].get("name") == "registry-gc"]  # fmt: skip
    rbac = [o for o in objects if o["kind"] in ("ServiceAccount", "Role", "RoleBinding")]
    cron = next(o for o in objects if o["kind"] == "CronJob")
    return rbac, cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]


@dataclass
class Window:
    """One namespace with a registry Deployment, and the rendered GC steps to run in it."""

    engine: Engine
    namespace: str
    token: str
    pod_spec: dict[str, Any]
    shared: Path

    @property
    def api_base(self) -> str:
        return self.engine.cluster.api

    def admin(self, method: str, path: str, body: Any = None, patch: str = "") -> Any:
        """A request as the cluster's admin (what a controller or a kubelet would do)."""
        cluster = self.engine.cluster
        return gc_window.Api(cluster.api, cluster.token, str(cluster.ca)).request(
            method, path, body, patch
        )

    def deployment(self) -> dict[str, Any]:
        return dict(self.admin("GET", f"/apis/apps/v1/namespaces/{self.namespace}/deployments/"
                                      f"{DEPLOYMENT}"))  # fmt: skip

    def replicas(self) -> int:
        return int(self.deployment()["spec"]["replicas"])

    def registry_env(self) -> list[dict[str, Any]]:
        return self.deployment()["spec"]["template"]["spec"]["containers"][0].get("env") or []

    def pod(self, name: str, phase: str, template: dict[str, Any] | None = None,
            labels: dict[str, str] | None = None, reason: str = "") -> None:  # fmt: skip
        """A Pod object as a controller would create it, with `phase` set as a kubelet would."""
        spec = copy.deepcopy(template or self.deployment()["spec"]["template"]["spec"])
        body = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "labels": SELECTOR if labels is None else labels},
                "spec": spec}  # fmt: skip
        self.admin("POST", f"/api/v1/namespaces/{self.namespace}/pods", body)
        self.set_status(name, {"phase": phase, **({"reason": reason} if reason else {})})

    def set_status(self, name: str, status: dict[str, Any]) -> None:
        self.admin("PATCH", f"/api/v1/namespaces/{self.namespace}/pods/{name}/status",
                   {"status": status}, "application/merge-patch+json")  # fmt: skip

    def delete_pod(self, name: str) -> None:
        self.admin("DELETE", f"/api/v1/namespaces/{self.namespace}/pods/{name}")

    def gc_pod(self, holder: str) -> None:
        """The GC Job's own pod, its gc container running."""
        self.pod(holder, "Running", self.pod_spec, labels={"job": holder})
        self.gc_container(holder, {"running": {"startedAt": "2026-01-01T00:00:00Z"}})

    def gc_container(self, holder: str, state: dict[str, Any]) -> None:
        self.set_status(holder, {"containerStatuses": [{
            "name": "gc", "ready": "running" in state, "restartCount": 0, "image": "registry",
            "imageID": "", "state": state}]})  # fmt: skip

    def argv(self, action: str, holder: str, *extra: str) -> list[str]:
        """The rendered step's flags, in this namespace, polling fast."""
        containers = {c["name"]: c for c in self.pod_spec["initContainers"]
                      + self.pod_spec["containers"]}  # fmt: skip
        words = shlex.split(containers[action]["args"][0])
        flags = words[words.index(action) + 1 :]
        # No registry here: what protection does is tests/registry/test_gc_protect_real.py's.
        flags = [f for f in flags if not f.startswith(("--namespace=", "--shared=", "--timeout=",
                                                       "--protect-"))]  # fmt: skip
        return [action, *flags, f"--namespace={self.namespace}", f"--shared={self.shared}",
                f"--holder={holder}", "--poll=0.1", "--backoff-max=0.5", *extra]  # fmt: skip

    def run(self, action: str, holder: str, *extra: str, base: str = "") -> int:
        api = gc_window.Api(base or self.api_base, self.token, str(self.engine.cluster.ca))
        return gc_window.main(self.argv(action, holder, *extra), api=api)

    def spawn(self, action: str, holder: str, *extra: str) -> subprocess.Popen[str]:
        """The step as its container runs it: a process of its own, which a signal can reach,
        with the ServiceAccount's token and CA where the pod has them."""
        account = self.shared / "serviceaccount"
        account.mkdir(exist_ok=True)
        (account / "token").write_text(self.token)
        (account / "ca.crt").write_bytes(Path(self.engine.cluster.ca).read_bytes())
        host, port = self.api_base.removeprefix("https://").rsplit(":", 1)
        env = {**os.environ, "KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port,
               "PYTHONPATH": str(REPO)}  # fmt: skip
        argv = self.argv(action, holder, f"--service-account-dir={account}", *extra)
        return subprocess.Popen([sys.executable, "-m", "components.jobs.gc_window", *argv],
                                env=env, cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip

    def lease_holder(self) -> str | None:
        lease = self.admin("GET", f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}"
                                  "/leases/registry-gc")  # fmt: skip
        return lease["spec"].get("holderIdentity")

    def start(self, action: str, holder: str, *extra: str, base: str = "") -> Result:
        result = Result()

        def target() -> None:
            result.code = self.run(action, holder, *extra, base=base)

        result.thread = threading.Thread(target=target, daemon=True)
        result.thread.start()
        return result


class Result:
    code: int | None = None
    thread: threading.Thread

    def wait(self, timeout: float = 60) -> int | None:
        self.thread.join(timeout)
        return self.code


def eventually(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def open_window(
    engine: Engine, tmp_path: Path, config: dict[str, Any], replicas: int = 3
) -> Window:
    namespace = f"gc-{uuid.uuid4().hex[:8]}"
    cluster = engine.cluster
    cluster.create_namespace(namespace)
    rbac, pod_spec = rendered(config)
    for manifest in rbac:
        manifest = copy.deepcopy(manifest)
        manifest["metadata"]["namespace"] = namespace
        for subject in manifest.get("subjects", []):
            subject["namespace"] = namespace
        plural = {
            "ServiceAccount": "serviceaccounts",
            "Role": "roles",
            "RoleBinding": "rolebindings",
        }
        group = (
            "/api/v1"
            if manifest["kind"] == "ServiceAccount"
            else "/apis/rbac.authorization.k8s.io/v1"
        )
        cluster.create(f"{group}/namespaces/{namespace}/{plural[manifest['kind']]}", manifest)
    template = {
        "metadata": {"labels": SELECTOR},
        "spec": {"containers": [{"name": "registry", "image": "registry:3.1.2"}]},
    }
    cluster.create(f"/apis/apps/v1/namespaces/{namespace}/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": DEPLOYMENT, "labels": SELECTOR},
        "spec": {"replicas": replicas, "selector": {"matchLabels": SELECTOR}, "template": template},
    })  # fmt: skip
    window = Window(engine, namespace, "", pod_spec, tmp_path)
    # Pods name the default account; the controller manager would create it a moment later.
    cluster.create(f"/api/v1/namespaces/{namespace}/serviceaccounts",
                   {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})  # fmt: skip
    token = window.admin("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/registry-gc/token",
                         {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                          "spec": {"expirationSeconds": 3600}})  # fmt: skip
    window.token = token["status"]["token"]
    return window


@pytest.fixture
def read_only(engine: Engine, tmp_path: Path) -> Iterator[Window]:
    window = open_window(engine, tmp_path, {"registry": S3})  # gc.window auto: read-only
    yield window
    window.admin("DELETE", f"/api/v1/namespaces/{window.namespace}")


@pytest.fixture
def stopping(engine: Engine, tmp_path: Path) -> Iterator[Window]:
    window = open_window(engine, tmp_path, {"gc": {"window": "stop"}})
    yield window
    window.admin("DELETE", f"/api/v1/namespaces/{window.namespace}")


def read_only_env() -> dict[str, str]:
    return {"name": gc_window.READ_ONLY_ENV, "value": gc_window.READ_ONLY_VALUE}


# --- read-only window: pulls go on --------------------------------------------------------------


def test_gc_starts_only_once_every_serving_pod_is_read_only_and_reopening_undoes_it(
    read_only: Window,
) -> None:
    w = read_only
    w.pod("old-1", "Running")
    w.pod("old-2", "Running")
    stop = w.start("stop", "run-a")
    eventually(lambda: read_only_env() in w.registry_env())
    time.sleep(1)
    assert stop.code is None, "the window closed while a read-write pod still served"
    w.pod("new-1", "Running")  # the rollout: read-only pods first, old ones go after
    w.delete_pod("old-1")
    time.sleep(1)
    assert stop.code is None
    w.delete_pod("old-2")
    assert stop.wait() == 0
    assert w.replicas() == 3, "pulls need the pods: the read-only window never scales down"
    w.gc_pod("run-a")
    (w.shared / "gc-exit").write_text("0\n")
    assert w.run("restore", "run-a") == 0
    deployment = w.deployment()
    assert read_only_env() not in w.registry_env()
    assert gc_window.RECORD not in (deployment["metadata"].get("annotations") or {})


def test_a_read_only_pod_on_one_volume_starts_on_the_gc_pods_node(engine: Engine,
                                                                   tmp_path: Path) -> None:  # fmt: skip
    w = open_window(engine, tmp_path, {})  # the default layout: one ReadWriteOnce volume
    assert w.run("stop", "run-a", "--node=node-a") == 0  # no pods yet: nothing to wait for
    affinity = w.deployment()["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
    terms = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                       "values": ["node-a"]}]}]  # fmt: skip
    w.gc_pod("run-a")
    (w.shared / "gc-exit").write_text("0\n")
    assert w.run("restore", "run-a", "--node=node-a") == 0
    assert "nodeAffinity" not in (w.deployment()["spec"]["template"]["spec"].get("affinity") or {})
    w.admin("DELETE", f"/api/v1/namespaces/{w.namespace}")


# --- which pods count ---------------------------------------------------------------------------


def test_evicted_failed_and_succeeded_pods_do_not_hold_the_window_open(stopping: Window) -> None:
    w = stopping
    w.pod("evicted", "Failed", reason="Evicted")
    w.pod("crashed", "Failed")
    w.pod("done", "Succeeded")
    assert w.run("stop", "run-a", "--timeout=10") == 0
    assert w.replicas() == 0


def test_a_pod_that_still_runs_holds_the_window_until_it_is_gone(stopping: Window) -> None:
    w = stopping
    w.pod("running", "Running")
    assert w.run("stop", "run-a", "--timeout=2") == 1
    assert w.replicas() == 3, "a window that could not close is reopened"


# --- GC is bounded inside the window ------------------------------------------------------------


def closed(w: Window, holder: str) -> None:
    assert w.run("stop", holder) == 0
    w.gc_pod(holder)


def test_restore_keeps_the_registry_closed_while_gc_runs_however_long(stopping: Window) -> None:
    w = stopping
    closed(w, "run-a")
    restore = w.start("restore", "run-a")
    time.sleep(3)  # the old restore reopened after its own --timeout, GC or not
    assert (restore.code, w.replicas()) == (None, 0)
    (w.shared / "gc-exit").write_text("0\n")
    assert restore.wait() == 0 and w.replicas() == 3


def test_a_gc_killed_without_an_exit_code_still_reopens_and_fails(stopping: Window) -> None:
    w = stopping
    closed(w, "run-a")
    restore = w.start("restore", "run-a")
    time.sleep(1)
    assert w.replicas() == 0
    w.gc_container("run-a", {"terminated": {"exitCode": 137, "reason": "OOMKilled"}})
    assert restore.wait() == 1 and w.replicas() == 3


# --- restore survives failures ------------------------------------------------------------------


class FailingPatches:
    """A loopback proxy to the API server that answers the first `failures` PATCHes with 500."""

    def __init__(self, engine: Engine, failures: int):
        self.failures = failures
        self.failed = 0
        cluster = engine.cluster
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
                if self.command == "PATCH" and outer.failed < outer.failures:
                    outer.failed += 1
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                request = urllib.request.Request(cluster.api + self.path, data=body,
                                                 method=self.command)  # fmt: skip
                for header in ("Authorization", "Content-Type", "Accept"):
                    if header in self.headers:
                        request.add_header(header, self.headers[header])
                try:
                    answer = urllib.request.urlopen(request, context=cluster._ssl, timeout=10)
                except urllib.error.HTTPError as err:
                    answer = err
                data = answer.read()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()


def test_restore_retries_through_api_errors_and_brings_back_the_original_count(
    stopping: Window,
) -> None:
    w = stopping
    closed(w, "run-a")
    (w.shared / "gc-exit").write_text("0\n")
    proxy = FailingPatches(w.engine, failures=4)
    try:
        assert w.run("restore", "run-a", base=proxy.base) == 0
    finally:
        proxy.close()
    assert (proxy.failed, w.replicas()) == (4, 3)


def test_restore_rides_out_revoked_rbac_until_it_is_granted_again(stopping: Window) -> None:
    w = stopping
    closed(w, "run-a")
    (w.shared / "gc-exit").write_text("0\n")
    binding = (
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{w.namespace}/rolebindings/registry-gc"
    )
    saved = w.admin("GET", binding)
    w.admin("DELETE", binding)
    restore = w.start("restore", "run-a")
    time.sleep(2)
    assert (restore.code, w.replicas()) == (None, 0)
    saved["metadata"] = {"name": "registry-gc"}
    w.admin("POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{w.namespace}/rolebindings",
            saved)  # fmt: skip
    assert restore.wait() == 0 and w.replicas() == 3


def test_a_run_after_one_that_died_restores_the_original_count_not_one(stopping: Window) -> None:
    w = stopping
    assert w.run("stop", "died", "--lease-seconds=1") == 0  # its restore never runs
    assert w.replicas() == 0
    time.sleep(1.5)
    closed(w, "next")
    (w.shared / "gc-exit").write_text("0\n")
    assert w.run("restore", "next") == 0
    assert w.replicas() == 3


# --- one window at a time -----------------------------------------------------------------------


def test_a_second_run_neither_closes_nor_reopens_while_the_first_gc_runs(stopping: Window) -> None:
    w = stopping
    closed(w, "scheduled")
    record = w.deployment()["metadata"]["annotations"][gc_window.RECORD]
    assert w.run("stop", "manual") == 1
    (w.shared / "gc-exit").write_text("0\n")  # even with a result of its own
    assert w.run("restore", "manual", "--retry-for=2") == 1
    assert w.replicas() == 0
    assert w.deployment()["metadata"]["annotations"][gc_window.RECORD] == record
    assert w.run("restore", "scheduled") == 0 and w.replicas() == 3
    assert w.run("stop", "manual") == 0, "the Lease is free again once the first run reopened"


# --- termination and recovery -------------------------------------------------------------------


def test_a_gc_pod_terminated_inside_its_window_reopens_and_frees_the_lease(
    stopping: Window,
) -> None:
    w = stopping
    closed(w, "run-a")
    restore = w.spawn("restore", "run-a")
    assert restore.stdout is not None
    assert restore.stdout.readline().startswith("waiting for garbage collection"), (
        "its handler is set"
    )
    restore.send_signal(signal.SIGTERM)  # the kubelet, to every container of the pod
    time.sleep(1)
    assert (restore.poll(), w.replicas()) == (None, 0), "never reopened before GC has exited"
    (w.shared / "gc-exit").write_text("143\n")  # the gc container's trap ends garbage-collect
    _, stderr = restore.communicate(timeout=60)
    assert restore.returncode != 0, "a terminated window is a failed run"
    assert w.replicas() == 3, stderr
    assert w.lease_holder() is None, "the Lease is free for the next run"


def test_stop_terminated_while_the_window_closes_reopens_at_once(stopping: Window) -> None:
    w = stopping
    w.pod("running", "Running")  # keeps the window from closing: stop waits inside it
    stop = w.spawn("stop", "run-a")
    eventually(lambda: w.replicas() == 0)
    stop.send_signal(signal.SIGTERM)
    _, stderr = stop.communicate(timeout=60)
    assert stop.returncode == 1
    assert w.replicas() == 3, stderr
    assert w.lease_holder() is None


def test_a_manual_run_takes_over_the_lease_of_a_gc_pod_that_no_longer_exists(
    stopping: Window,
) -> None:
    w = stopping
    assert w.run("stop", "deleted-pod") == 0  # its pod was deleted inside the window
    assert w.replicas() == 0 and w.lease_holder() == "deleted-pod"
    closed(w, "manual")
    (w.shared / "gc-exit").write_text("0\n")
    assert w.run("restore", "manual") == 0
    assert w.replicas() == 3, "the dead run's record brings back the original count"


# --- the in-use inventory with the rendered RBAC ------------------------------------------------


@contextlib.contextmanager
def in_use_reader(w: Window) -> Iterator[None]:
    """The rendered ClusterRole and ClusterRoleBinding of GC's in-use reader, for this
    namespace's account (Pulumi names them; here the namespace does), while the block runs."""
    objects = [o for o in manifests(platform({})) if o["kind"].startswith("ClusterRole")
               and o["metadata"]["labels"]["app.kubernetes.io/name"] == "registry-gc"]  # fmt: skip
    role = next(copy.deepcopy(o) for o in objects if o["kind"] == "ClusterRole")
    binding = next(copy.deepcopy(o) for o in objects if o["kind"] == "ClusterRoleBinding")
    role["metadata"]["name"] = binding["metadata"]["name"] = w.namespace
    binding["roleRef"]["name"] = w.namespace
    binding["subjects"][0]["namespace"] = w.namespace
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    w.admin("POST", f"{rbac}/clusterroles", role)
    w.admin("POST", f"{rbac}/clusterrolebindings", binding)
    try:
        yield
    finally:  # cluster-wide: deleting the namespace would not remove them
        w.admin("DELETE", f"{rbac}/clusterrolebindings/{w.namespace}")
        w.admin("DELETE", f"{rbac}/clusterroles/{w.namespace}")


def attempt(action: Callable[[], Any]) -> Any:
    """What `action` returns, or the InventoryError it raises."""
    try:
        return action()
    except InventoryError as err:
        return err


def inventory_as(w: Window) -> Any:
    http = HttpClient(context=ssl_context(str(w.engine.cluster.ca)), retries=0)
    return fetch_in_use_from_cluster(http, w.api_base, w.token)


def test_the_rendered_in_use_reader_sees_a_cronjob_between_runs(stopping: Window) -> None:
    w = stopping
    digest = "sha256:" + "c" * 64
    w.admin("POST", f"/apis/batch/v1/namespaces/{w.namespace}/cronjobs", {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "job", "image": f"team/nightly@{digest}"}]}}}}},
    })  # fmt: skip
    with in_use_reader(w):
        # The API server's RBAC cache takes a moment to see a new binding.
        eventually(lambda: not isinstance(attempt(lambda: inventory_as(w)), InventoryError))
        assert ("team/nightly", digest) in inventory_as(w).pinned


def test_without_the_in_use_reader_the_inventory_fails_closed(stopping: Window) -> None:
    with pytest.raises(InventoryError, match="HTTP 403"):
        inventory_as(stopping)
