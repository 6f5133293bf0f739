"""The node DNS's own identity (scripts/node-dns-identity.sh), on the real API server: it reads
Services and nothing else, and scripts/node_dns.py resolves a Service with it."""

from __future__ import annotations

import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine import REPO, Engine

from devkit.node_dns import exchange, query_packet, running_node_dns

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def identity(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("node-dns")
    subprocess.run(
        ["bash", str(REPO / "scripts" / "node-dns-identity.sh"), str(engine.cluster.ca.parent),
         str(engine.kubeconfig), str(out)],
        check=True,
    )  # fmt: skip
    return out


def status(engine: Engine, identity: Path, path: str) -> int:
    """The HTTP status of GET `path` as the node DNS's user."""
    context = ssl.create_default_context(cafile=str(engine.cluster.ca))
    context.load_cert_chain(identity / "client.crt", identity / "client.key")
    try:
        with urllib.request.urlopen(engine.cluster.api + path, context=context, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_the_node_dns_user_reads_services(engine: Engine, identity: Path) -> None:
    assert status(engine, identity, "/api/v1/namespaces/default/services/kubernetes") == 200
    assert status(engine, identity, "/api/v1/services") == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/kube-system/secrets",
        "/api/v1/namespaces/default/services/kubernetes:443/proxy/",
        "/api/v1/namespaces/default/pods",
        "/api/v1/nodes",
    ],
    ids=["secrets", "service proxy", "pods", "nodes"],
)
def test_the_node_dns_user_may_read_nothing_else(engine: Engine, identity: Path, path: str) -> None:
    assert status(engine, identity, path) == 403


@pytest.fixture
def dns(engine: Engine, identity: Path) -> Iterator[str]:
    cert, key = identity / "client.crt", identity / "client.key"
    with running_node_dns(engine.cluster.api, engine.cluster.ca, cert, key) as address:
        yield address


def test_the_node_dns_resolves_a_service_with_its_own_identity(
    engine: Engine, identity: Path, dns: str
) -> None:
    labels = [label.encode() for label in ["kubernetes", "default", "svc", "cluster", "local"]]
    response = exchange(dns, query_packet(labels))
    assert response is not None
    found, service = engine.cluster.get("/api/v1/namespaces/default/services/kubernetes")
    assert found == 200
    assert response.endswith(socket.inet_aton(service["spec"]["clusterIP"]))
