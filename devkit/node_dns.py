"""scripts/node_dns.py run as the test node runs it, and real UDP DNS queries to it."""

from __future__ import annotations

import random
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devkit.pulumi_mocks import ROOT


@contextmanager
def running_node_dns(api: str, ca: Path, cert: Path, key: Path) -> Iterator[str]:
    """The server's address: a loopback address of its own (any 127.x.y.z is local on Linux),
    port 53 as on the node, which needs root."""
    address = (
        f"127.{random.randrange(1, 255)}.{random.randrange(1, 255)}.{random.randrange(1, 255)}"
    )
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "node_dns.py"), address, api, str(ca), str(cert),
         str(key)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None and "serving" in process.stdout.readline()
        yield address
    finally:
        process.terminate()
        process.wait()


def query_packet(labels: list[bytes], qtype: int = 1, ident: int = 0x1234) -> bytes:
    """A query (recursion desired) with one question for the name made of `labels`."""
    name = b"".join(bytes([len(label)]) + label for label in labels) + b"\0"
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", qtype, 1)


def exchange(address: str, packet: bytes) -> bytes | None:
    """The server's response, or None when it sends none (a lost UDP packet is not waited on
    forever: five seconds is far past any answer on loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(5)
        client.sendto(packet, (address, 53))
        try:
            return client.recv(512)
        except TimeoutError:
            return None
