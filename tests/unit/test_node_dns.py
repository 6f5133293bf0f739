"""scripts/node_dns.py, started as the node starts it, answering real UDP DNS packets, in front of
an HTTPS stand-in for the API server that checks its client certificate and logs every path."""

from __future__ import annotations

import json
import os
import socket
import ssl
import struct
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from devkit.node_dns import exchange, query_packet, running_node_dns

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the node's DNS binds port 53")

NOERROR, FORMERR, NXDOMAIN = 0, 1, 3
SERVICES = {
    "/api/v1/namespaces/lab/services/registry": {"spec": {"clusterIP": "10.152.183.10"}},
    "/api/v1/namespaces/lab/services/odd": [],  # JSON, but not an object
    "/api/v1/namespaces/lab/services/badip": {"spec": {"clusterIP": "10.152.183"}},
}


@dataclass
class ApiServer:
    url: str
    paths: list[str] = field(default_factory=list)


def pki(directory: Path) -> None:
    """A CA, the API server's certificate for 127.0.0.1 and a client certificate."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.crt", "-days", "1", "-subj", "/CN=test-ca")  # fmt: skip
    (directory / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for who, ext in (("server", ["-extfile", "server.ext"]), ("client", [])):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{who}.key", "-out",
                f"{who}.csr", "-subj", f"/CN={who}")  # fmt: skip
        openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "1", "-out", f"{who}.crt", *ext)  # fmt: skip


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    pki(tmp_path)
    served = ApiServer("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.paths.append(self.path)
            found = self.path in SERVICES
            body = json.dumps(SERVICES.get(self.path, {"kind": "Status"})).encode()
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tmp_path / "ca.crt"))
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    served.url = f"https://127.0.0.1:{server.server_address[1]}"
    yield served
    server.shutdown()


@pytest.fixture
def dns(api: ApiServer, tmp_path: Path) -> Iterator[str]:
    files = (tmp_path / name for name in ("ca.crt", "client.crt", "client.key"))
    with running_node_dns(api.url, *files) as address:
        yield address


def rcode(response: bytes | None) -> int | None:
    return None if response is None else struct.unpack("!H", response[2:4])[0] & 0x000F


def service(name: str) -> list[bytes]:
    return [label.encode() for label in f"{name}.svc.cluster.local".split(".")]


def resolves_registry(address: str) -> bool:
    response = exchange(address, query_packet(service("registry.lab")))
    return response is not None and response.endswith(socket.inet_aton("10.152.183.10"))


def test_a_service_name_resolves_to_its_cluster_ip(dns: str, api: ApiServer) -> None:
    assert resolves_registry(dns)
    assert api.paths == ["/api/v1/namespaces/lab/services/registry"]


@pytest.mark.parametrize(
    "label",
    [b"registry:5000/proxy", b"evil?watch=1", b"Evil%2fx", b"-x", b"a_b"],
    ids=["service proxy", "query", "escaped", "leading hyphen", "underscore"],
)
def test_a_name_that_is_no_dns_1123_label_never_reaches_the_api(
    dns: str, api: ApiServer, label: bytes
) -> None:
    response = exchange(dns, query_packet([label, b"lab", b"svc", b"cluster", b"local"]))
    assert rcode(response) == NXDOMAIN
    assert api.paths == []


@pytest.mark.parametrize(
    "packet",
    [
        struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0),  # a question with no name
        query_packet(service("registry.lab"))[:-6],  # cut inside the name
        struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01",  # a pointer
        query_packet([b"r\xe9gistry", b"lab", b"svc", b"cluster", b"local"]),  # not ASCII
        struct.pack("!HHHHHH", 7, 0x0100, 2, 0, 0, 0) + b"\0\0\1\0\1" * 2,  # two questions
    ],
    ids=["no name", "cut", "pointer", "not ascii", "two questions"],
)
def test_a_malformed_query_gets_formerr_and_the_server_keeps_answering(
    dns: str, packet: bytes
) -> None:
    assert rcode(exchange(dns, packet)) == FORMERR
    assert resolves_registry(dns)


def test_a_packet_too_short_for_a_header_gets_no_answer_and_the_server_keeps_answering(
    dns: str,
) -> None:
    assert exchange(dns, b"\x12") is None
    assert resolves_registry(dns)


@pytest.mark.parametrize("name", ["odd.lab", "badip.lab"], ids=["not an object", "not an IP"])
def test_an_answer_from_the_api_it_cannot_use_is_nxdomain_and_the_server_keeps_answering(
    dns: str, name: str
) -> None:
    assert rcode(exchange(dns, query_packet(service(name)))) == NXDOMAIN
    assert resolves_registry(dns)
