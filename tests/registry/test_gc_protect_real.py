"""GC keeps what workloads run: `registry garbage-collect --delete-untagged` on the real
Distribution 3.x binary, with the config regstack renders, around gc_protect's reserved tags.

A tag pushed again leaves its old manifest untagged while Pods (or a Deployment at zero, a
CronJob between runs) still reference it by digest; without protection GC deletes it. The
in-use inventory is read from a stand-in API server (a Deployment scaled to zero); everything
on the registry side is real: the tags put and removed, the collection, the pulls after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import pytest

from components.jobs import gc_protect
from components.jobs.gc_window import READ_ONLY_ENV, READ_ONLY_VALUE
from components.retention.http import HttpClient, ssl_context
from components.retention.inuse import fetch_in_use_from_cluster
from components.retention.plan import InUse
from components.retention.registry import OCI_INDEX, OCI_MANIFEST, Registry, RegistryError
from devkit import gc_window_sim as sim
from devkit.oci_registry import Answer, StubServer
from devkit.registry import RunningRegistry

pytestmark = pytest.mark.servers


def client(registry: RunningRegistry) -> Registry:
    return Registry(registry.url, HttpClient(context=ssl_context(None), retries=0))


def pushed(registry: RunningRegistry, repository: str, tag: str) -> str:
    """Push a small image under `tag`; its manifest digest."""
    sim.push_image(registry.host, repository, tag, layers=1, size=2048)
    digest = client(registry).head_digest(repository, tag)
    assert digest is not None
    return digest


def re_pushed(registry: RunningRegistry, repository: str, tag: str) -> str:
    """Push `tag`, then push it again: the first manifest, now untagged, is returned."""
    first = pushed(registry, repository, tag)
    assert pushed(registry, repository, tag) != first
    return first


def pulls_in_full(registry: RunningRegistry, repository: str, digest: str) -> bool:
    """The manifest by digest and every blob (or child) it names, each checked by digest."""
    accept = {"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"}
    status, _, body = sim.request(registry.host, "GET", f"/v2/{repository}/manifests/{digest}",
                                  headers=accept)  # fmt: skip
    if status != 200 or "sha256:" + hashlib.sha256(body).hexdigest() != digest:
        return False
    document = json.loads(body)
    if "manifests" in document:
        return all(pulls_in_full(registry, repository, m["digest"]) for m in document["manifests"])
    for blob in [document["config"]["digest"], *(layer["digest"] for layer in document["layers"])]:
        status, _, data = sim.request(registry.host, "GET", f"/v2/{repository}/blobs/{blob}")
        if status != 200 or "sha256:" + hashlib.sha256(data).hexdigest() != blob:
            return False
    return True


def collect(registry: RunningRegistry) -> None:
    """What the GC Job does inside its window: the registry stopped, GC as rendered."""
    registry.stop()
    gc = registry.garbage_collect("--delete-untagged")
    assert gc.returncode == 0, gc.stderr
    registry.start()


class Cluster:
    """A stand-in API server listing Deployments scaled to zero, with the images tests set."""

    def __init__(self) -> None:
        self.deployments: list[str] = []
        self.server = StubServer(self._route)

    def _route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        images = self.deployments if path.startswith("/apis/apps/v1/deployments") else []
        items = [{"spec": {"replicas": 0, "template": {"spec": {"containers": [
            {"name": "app", "image": image}]}}}} for image in images]  # fmt: skip
        return 200, {"Content-Type": "application/json"}, json.dumps({"items": items}).encode()

    def inventory(self) -> InUse:
        http = HttpClient(context=ssl_context(None), retries=0)
        return fetch_in_use_from_cluster(http, self.server.url, "token")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    stand_in = Cluster()
    yield stand_in
    stand_in.server.stop()


def test_without_protection_gc_deletes_the_manifest_a_workload_runs_by_digest(
    registry: RunningRegistry,
) -> None:
    """The defect itself, on the real binary: what the test below shows no longer happens."""
    running = re_pushed(registry, "team/app", "latest")
    collect(registry)
    assert not pulls_in_full(registry, "team/app", running)


def test_a_manifest_a_workload_runs_by_digest_survives_gc_and_an_unused_one_is_collected(
    registry: RunningRegistry, cluster: Cluster
) -> None:
    running = re_pushed(registry, "team/app", "latest")
    unused = re_pushed(registry, "team/other", "latest")
    cluster.deployments = [f"{registry.host}/team/app@{running}"]

    assert gc_protect.protect(client(registry), cluster.inventory()) == 1
    collect(registry)
    assert gc_protect.release(client(registry)) == 1

    assert pulls_in_full(registry, "team/app", running)
    assert not pulls_in_full(registry, "team/other", unused)
    assert client(registry).tags("team/app") == ["latest"], "the reserved tag is gone"


def test_an_in_use_index_keeps_its_untagged_children_through_gc(
    registry: RunningRegistry, cluster: Cluster
) -> None:
    children = [re_pushed(registry, "team/multi", f"arch-{n}") for n in range(2)]
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": child,
         "size": len(sim.request(registry.host, "GET", f"/v2/team/multi/manifests/{child}",
                                 headers={"Accept": OCI_MANIFEST})[2])}
        for child in children]}).encode()  # fmt: skip
    digest = "sha256:" + hashlib.sha256(index).hexdigest()
    status, _, body = sim.request(registry.host, "PUT", f"/v2/team/multi/manifests/{digest}",
                                  index, {"Content-Type": OCI_INDEX})  # fmt: skip
    assert status == 201, body
    cluster.deployments = [f"team/multi@{digest}"]

    assert gc_protect.protect(client(registry), cluster.inventory()) == 3
    collect(registry)
    gc_protect.release(client(registry))

    assert pulls_in_full(registry, "team/multi", digest)


def test_a_registry_that_refuses_the_reserved_tag_fails_the_protection(
    registry: RunningRegistry,
) -> None:
    """A read-only registry (a window already closed) answers 405: GC must then not run."""
    running = re_pushed(registry, "team/app", "latest")
    registry.stop()
    registry.env[READ_ONLY_ENV] = READ_ONLY_VALUE
    registry.start()
    in_use = InUse(pinned=frozenset({("team/app", running)}))
    with pytest.raises(RegistryError, match="HTTP 405"):
        gc_protect.protect(client(registry), in_use)
