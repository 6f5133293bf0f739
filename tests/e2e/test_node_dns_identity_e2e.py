"""The node DNS's own identity (scripts/node-dns-identity.sh), on the real API server: it reads
Services and nothing else, and scripts/node_dns.py resolves a Service with it."""

from __future__ import annotations

import random
import socket
import ssl
import struct
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine import REPO, Engine

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
    address = (
        f"127.{random.randrange(1, 255)}.{random.randrange(1, 255)}.{random.randrange(1, 255)}"
    )
    process = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "node_dns.py"), address, engine.cluster.api,
         str(engine.cluster.ca), str(identity / "client.crt"), str(identity / "client.key")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None and "serving" in process.stdout.readline()
    yield address
    process.terminate()
    process.wait()


def test_the_node_dns_resolves_a_service_with_its_own_identity(
    engine: Engine, identity: Path, dns: str
) -> None:
    labels = b"".join(
        bytes([len(p)]) + p for p in b"kubernetes.default.svc.cluster.local".split(b".")
    )
    query = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + labels + b"\0\0\1\0\1"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(10)
        client.sendto(query, (dns, 53))
        response = client.recv(512)
    found, service = engine.cluster.get("/api/v1/namespaces/default/services/kubernetes")
    assert found == 200
    assert response.endswith(socket.inet_aton(service["spec"]["clusterIP"]))
