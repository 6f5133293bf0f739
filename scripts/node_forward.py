"""TCP forwards between the host's loopback and the test node's network namespace.

The node (kubelet, containerd, kube-proxy, pods) lives in a network namespace of its own with no
link out, so nothing it does can leave the machine. This process carries the few connections that
must cross: the node's API-server port to the host's 127.0.0.1, the host's 127.0.0.1 to the
NodePorts, and the API server's own connections to the cluster (kubelet logs/exec, proxies), which
its egress selector sends as HTTP CONNECT requests to a unix socket here and which are dialled in
the node's namespace, never on the host. A socket keeps the namespace it was made in, so one
process can listen in one namespace and dial in the other (setns(2) around socket creation).

    python node_forward.py NETNS_FILE SPEC...
    SPEC = FROM:LISTEN_ADDR:LISTEN_PORT>TO:DIAL_ADDR:DIAL_PORT, FROM/TO `host` or `node`
         | connect:SOCKET_PATH   (HTTP CONNECT proxy on a unix socket, dialling in the node)
"""

from __future__ import annotations

import asyncio
import ctypes
import ipaddress
import os
import socket
import sys

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class Namespaces:
    def __init__(self, node_netns: str) -> None:
        self.fds = {"host": os.open("/proc/self/ns/net", os.O_RDONLY),
                    "node": os.open(node_netns, os.O_RDONLY)}  # fmt: skip

    def socket_in(self, where: str) -> socket.socket:
        self._enter(where)
        try:
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            self._enter("host")

    def _enter(self, where: str) -> None:
        if _libc.setns(self.fds[where], CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into the {where} network namespace")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _dial(
    ns: Namespaces, address: str, port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = ns.socket_in("node")
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (address, port))
    except OSError:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock)


async def _connect_proxy(ns: Namespaces, path: str) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            host, _, port = target.rpartition(":")
            if method != "CONNECT":
                raise ValueError(method)
            # Addresses only: a name would be looked up by the host's resolver, off the machine.
            ipaddress.ip_address(host.strip("[]"))
            up_reader, up_writer = await _dial(ns, host.strip("[]"), int(port))
        except (OSError, ValueError, asyncio.IncompleteReadError):
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
            writer.close()
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    if os.path.exists(path):
        os.unlink(path)
    server = await asyncio.start_unix_server(handle, path=path)
    os.chmod(path, 0o600)
    return server


async def _forward(ns: Namespaces, spec: str) -> asyncio.Server:
    if spec.startswith("connect:"):
        return await _connect_proxy(ns, spec.removeprefix("connect:"))
    source, target = spec.split(">")
    where, address, port = source.split(":")
    to, dial_address, dial_port = target.split(":")
    loop = asyncio.get_running_loop()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = ns.socket_in(to)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, (dial_address, int(dial_port)))
        except OSError:
            sock.close()
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(sock=sock)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    listener = ns.socket_in(where)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, int(port)))
    return await asyncio.start_server(handle, sock=listener)


async def main(netns: str, specs: list[str]) -> None:
    ns = Namespaces(netns)
    servers = [await _forward(ns, spec) for spec in specs]
    print("forwarding", *specs, flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
