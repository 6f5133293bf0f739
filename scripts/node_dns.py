"""The test node's cluster DNS: Service names to their ClusterIPs, nothing else.

A real cluster runs CoreDNS; here pods (whose kubelet points them at this server on the node's
address) need only `<service>.<namespace>.svc.<domain>` names, e.g. the retention job's
in-cluster registry URL. Names outside the cluster domain are refused, never forwarded: nothing
leaves the node's network namespace.

    python node_dns.py LISTEN_ADDRESS API_SERVER CA_FILE CERT_FILE KEY_FILE
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
import sys
import urllib.error
import urllib.request

A, AAAA = 1, 28
NOERROR, NXDOMAIN, REFUSED = 0, 3, 5


class Api:
    """GETs on the API server with a client certificate."""

    def __init__(self, server: str, ca: str, cert: str, key: str) -> None:
        self.server = server
        self.context = ssl.create_default_context(cafile=ca)
        self.context.load_cert_chain(cert, key)

    def cluster_ip(self, namespace: str, service: str) -> str | None:
        url = f"{self.server}/api/v1/namespaces/{namespace}/services/{service}"
        try:
            with urllib.request.urlopen(url, context=self.context, timeout=5) as response:
                ip = json.load(response).get("spec", {}).get("clusterIP")
        except (urllib.error.URLError, OSError, ValueError):
            return None
        return ip if ip and ip != "None" else None


def _question(packet: bytes) -> tuple[str, int, int]:
    labels, offset = [], 12
    while packet[offset]:
        length = packet[offset]
        labels.append(packet[offset + 1 : offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
    qtype = struct.unpack("!H", packet[offset + 1 : offset + 3])[0]
    return ".".join(labels).lower(), qtype, offset + 5


def answer(packet: bytes, api: Api, domain: str) -> bytes:
    ident, flags = struct.unpack("!HH", packet[:4])
    name, qtype, end = _question(packet)
    question = packet[12:end]
    records = b""
    parts = name.removesuffix("." + domain).split(".")
    if not name.endswith("." + domain):
        code = REFUSED
    elif len(parts) == 3 and parts[2] == "svc" and (ip := api.cluster_ip(parts[1], parts[0])):
        code = NOERROR
        if qtype == A:
            records = b"\xc0\x0c" + struct.pack("!HHIH", A, 1, 5, 4) + socket.inet_aton(ip)
    else:
        code = NXDOMAIN
    header = struct.pack("!HHHHHH", ident, 0x8000 | (flags & 0x0100) | 0x0400 | code, 1,
                         1 if records else 0, 0, 0)  # fmt: skip
    return header + question + records


def main(address: str, server: str, ca: str, cert: str, key: str) -> None:
    domain = "cluster.local"
    api = Api(server, ca, cert, key)
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind((address, 53))
    print(f"serving {domain} on {address}:53", flush=True)
    while True:
        packet, client = listener.recvfrom(512)
        try:
            listener.sendto(answer(packet, api, domain), client)
        except (IndexError, struct.error, UnicodeError):
            continue


if __name__ == "__main__":
    main(*sys.argv[1:])
