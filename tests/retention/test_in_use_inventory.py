"""The shared in-use inventory (components/retention/inuse.py) against a stand-in API server:
every kind with a pod template counts, and anything it cannot read in full fails the run.

A stub answers as the API server does for each list path; tests/e2e/test_gc_window_e2e.py
reads a real kube-apiserver with the rendered RBAC."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.retention.http import HttpClient, HttpError, ssl_context
from components.retention.inuse import (
    WORKLOADS,
    InventoryError,
    fetch_in_use_from_cluster,
    load_in_use_dir,
)
from devkit.oci_registry import Answer, StubServer

DIGEST = "sha256:" + "d" * 64


def template(image: str) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": "app", "image": image}]}}


# One object of each kind that runs no Pod now, yet starts one when scheduled.
IDLE = {
    "deployments": {"spec": {"replicas": 0, "template": template("team/scaled-to-zero:1")}},
    "statefulsets": {"spec": {"replicas": 0, "template": template("team/db:2")}},
    "daemonsets": {"spec": {"template": template("team/agent:3")}},  # no matching node
    "replicasets": {"spec": {"replicas": 0, "template": template("team/old-rollout:4")}},
    "jobs": {"spec": {"suspend": True, "template": template("team/suspended:5")}},
    "cronjobs": {"spec": {"jobTemplate": {"spec": {"template": template("team/nightly:6")}}}},
}


def api_server(answers: dict[str, Answer]) -> StubServer:
    """Lists what `answers` holds by resource name, an empty list for every other kind."""

    def route(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        resource = path.split("?")[0].rsplit("/", 1)[-1]
        empty = (200, {"Content-Type": "application/json"}, b'{"items": []}')
        return answers.get(resource, empty)

    return StubServer(route)


def listing(*items: dict[str, Any]) -> Answer:
    return 200, {"Content-Type": "application/json"}, json.dumps({"items": list(items)}).encode()


def client(timeout: float = 30) -> HttpClient:
    return HttpClient(context=ssl_context(None), retries=0, timeout=timeout)


@pytest.fixture
def idle_workloads() -> Iterator[StubServer]:
    server = api_server({resource: listing(item) for resource, item in IDLE.items()})
    yield server
    server.stop()


@pytest.mark.parametrize("resource", sorted(IDLE))
def test_the_image_of_a_pod_template_is_in_use_though_no_pod_runs_it(
    idle_workloads: StubServer, resource: str
) -> None:
    in_use = fetch_in_use_from_cluster(client(), idle_workloads.url, "token")
    spec = IDLE[resource]["spec"]
    pod = (spec.get("jobTemplate") or {"spec": spec})["spec"]["template"]["spec"]
    image = pod["containers"][0]["image"]
    assert (image.split(":")[0], image.split(":")[1]) in in_use.tags


def test_a_digest_reference_keeps_its_repository_so_gc_can_tag_it() -> None:
    deployment = {"spec": {"template": template(f"reg.lab:5000/team/app@{DIGEST}")}}
    server = api_server({"deployments": listing(deployment)})
    try:
        in_use = fetch_in_use_from_cluster(client(), server.url, "token")
    finally:
        server.stop()
    assert in_use.pinned == {("team/app", DIGEST)}
    assert in_use.digests == {DIGEST}


def test_the_inventory_reads_exactly_the_kinds_its_rbac_grants() -> None:
    seen: list[str] = []

    def route(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        seen.append(path.split("?")[0])
        return listing()

    server = StubServer(route)
    try:
        fetch_in_use_from_cluster(client(), server.url, "token")
    finally:
        server.stop()
    expected = [
        f"/apis/{group}/{version}/{resource}" if group else f"/api/{version}/{resource}"
        for group, version, resource, _ in WORKLOADS
    ]
    assert seen == expected


@pytest.mark.parametrize("resource", ["pods", "cronjobs"])
def test_a_kind_the_account_may_not_list_fails_the_inventory(resource: str) -> None:
    server = api_server({resource: (403, {"Content-Type": "application/json"}, b"{}")})
    try:
        with pytest.raises(InventoryError, match="HTTP 403"):
            fetch_in_use_from_cluster(client(), server.url, "token")
    finally:
        server.stop()


@pytest.mark.parametrize("page", [b'{"items": "none"}', b'{"items": [1]}', b'["items"]'])
def test_a_page_that_is_not_a_list_of_objects_fails_the_inventory(page: bytes) -> None:
    server = api_server({"deployments": (200, {"Content-Type": "application/json"}, page)})
    try:
        with pytest.raises(InventoryError, match="not a list of objects"):
            fetch_in_use_from_cluster(client(), server.url, "token")
    finally:
        server.stop()


def test_an_api_server_that_does_not_answer_fails_the_inventory() -> None:
    silent = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(silent.accept()[0]), daemon=True).start()
    try:
        with pytest.raises(HttpError):
            url = f"http://127.0.0.1:{silent.getsockname()[1]}"
            fetch_in_use_from_cluster(client(timeout=0.5), url, "token")
    finally:
        silent.close()
        for connection in accepted:
            connection.close()


def test_in_use_files_of_other_clusters_join_the_inventory(tmp_path: Path) -> None:
    (tmp_path / "edge").write_text(f"# edge cluster\nteam/edge@{DIGEST}\n")
    (tmp_path / "lab").write_text(json.dumps(["team/lab:7"]))
    in_use = load_in_use_dir(tmp_path)
    assert in_use.pinned == {("team/edge", DIGEST)}
    assert ("team/lab", "7") in in_use.tags
