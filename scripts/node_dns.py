"""The test node's cluster DNS: Service names to their ClusterIPs, nothing else.

A real cluster runs CoreDNS; here pods (whose kubelet points them at this server on the node's
address) need only `<service>.<namespace>.svc.<domain>` names, e.g. the retention job's
in-cluster registry URL. Names outside the cluster domain are refused, never forwarded: nothing
leaves the node's network namespace.

Any pod can send it any bytes. Only names whose service and namespace are RFC 1123 labels (what
Kubernetes names them with) reach the API server, each quoted into its path, with a credential
that may only read Services (scripts/node.sh); a packet it cannot parse gets FORMERR, an answer
it cannot use NXDOMAIN, and neither stops the server.

    python node_dns.py LISTEN_ADDRESS API_SERVER CA_FILE CERT_FILE KEY_FILE
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import re
import socket
import ssl
import struct
import sys
import urllib.error
import urllib.parse
import urllib.request

A, AAAA = 1, 28
NOERROR, FORMERR, NXDOMAIN, REFUSED = 0, 1, 3, 5
# A DNS-1123 label: how Kubernetes names namespaces and Services.
LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


class Malformed(ValueError):
    """A packet that is not one well-formed DNS query."""


class Api:
    """GETs on the API server with a client certificate."""

    def __init__(self, server: str, ca: str, cert: str, key: str) -> None:
        self.server = server
        self.context = ssl.create_default_context(cafile=ca)
        self.context.load_cert_chain(cert, key)

    def cluster_ip(self, namespace: str, service: str) -> str | None:
        # Both are DNS-1123 labels already; quoting keeps any byte from changing the path.
        path = "/api/v1/namespaces/{}/services/{}".format(
            *(urllib.parse.quote(part, safe="") for part in (namespace, service))
        )
        try:
            with urllib.request.urlopen(self.server + path, context=self.context, timeout=5) as r:
                body = json.load(r)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError):
            return None
        spec = body.get("spec") if isinstance(body, dict) else None
        ip = spec.get("clusterIP") if isinstance(spec, dict) else None
        try:
            return str(ipaddress.IPv4Address(ip)) if isinstance(ip, str) else None
        except ValueError:  # "None" (a headless Service), or anything else
            return None


def _question(packet: bytes) -> tuple[str, int, int]:
    """(name, qtype, end of the question) of a query with one question; Malformed otherwise."""
    if len(packet) < 12:
        raise Malformed("shorter than a DNS header")
    flags, qdcount = struct.unpack("!HH", packet[2:6])
    if flags & 0x8000 or qdcount != 1:
        raise Malformed("not a query with one question")
    labels, offset = [], 12
    while True:
        if offset >= len(packet):
            raise Malformed("the name runs past the packet")
        length = packet[offset]
        if length == 0:
            break
        if length > 63:  # a compression pointer or a reserved label type: no query needs one
            raise Malformed("not a plain label")
        label = packet[offset + 1 : offset + 1 + length]
        if len(label) < length:
            raise Malformed("a label runs past the packet")
        try:
            labels.append(label.decode("ascii"))
        except UnicodeDecodeError:
            raise Malformed("a label that is not ASCII") from None
        offset += 1 + length
    if offset + 5 > len(packet):
        raise Malformed("no type and class after the name")
    qtype = struct.unpack("!H", packet[offset + 1 : offset + 3])[0]
    return ".".join(labels).lower(), qtype, offset + 5


def _header(ident: int, flags: int, code: int, questions: int, answers: int) -> bytes:
    # A response (QR), recursion desired echoed, authoritative (AA), with `code`.
    flags = 0x8000 | (flags & 0x0100) | 0x0400 | code
    return struct.pack("!HHHHHH", ident, flags, questions, answers, 0, 0)


def answer(packet: bytes, api: Api, domain: str) -> bytes:
    """The response to one packet; Malformed if it is not a query one can answer at all."""
    name, qtype, end = _question(packet)
    ident, flags = struct.unpack("!HH", packet[:4])
    question = packet[12:end]
    records = b""
    parts = name.removesuffix("." + domain).split(".")
    if not name.endswith("." + domain):
        code = REFUSED
    elif (
        len(parts) == 3
        and parts[2] == "svc"
        and all(LABEL.fullmatch(part) for part in parts[:2])
        and (ip := api.cluster_ip(parts[1], parts[0]))
    ):
        code = NOERROR
        if qtype == A:
            records = b"\xc0\x0c" + struct.pack("!HHIH", A, 1, 5, 4) + socket.inet_aton(ip)
    else:
        code = NXDOMAIN
    return _header(ident, flags, code, 1, 1 if records else 0) + question + records


def respond(packet: bytes, api: Api, domain: str) -> bytes | None:
    """What to send back: the answer, FORMERR for a malformed query, nothing without a header."""
    try:
        return answer(packet, api, domain)
    except Malformed:
        if len(packet) < 12:
            return None
        ident, flags = struct.unpack("!HH", packet[:4])
        return _header(ident, flags, FORMERR, 0, 0)


def main(address: str, server: str, ca: str, cert: str, key: str) -> None:
    domain = "cluster.local"
    api = Api(server, ca, cert, key)
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind((address, 53))
    print(f"serving {domain} on {address}:53", flush=True)
    while True:
        packet, client = listener.recvfrom(512)
        try:
            response = respond(packet, api, domain)
            if response is not None:
                listener.sendto(response, client)
        except Exception as error:  # one packet, whatever it holds, must not stop the node's DNS
            print(f"dropped a packet from {client[0]}: {error!r}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
