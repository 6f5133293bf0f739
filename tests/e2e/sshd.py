"""A throwaway OpenSSH server on 127.0.0.1 for tests that reach "nodes" over real SSH.

Debian's sshd runs from its own config under a temporary directory: a host key and a client key
made for the test, public-key login only. It runs in a mount namespace of its own where /etc is
read-only (and /run a private tmpfs for its privilege-separation directory), so nothing a test
runs over SSH can write to this machine's /etc; the tests also point node trust's `certs_dir` at a
temporary directory, its root prefix for tests.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"


@dataclass(frozen=True)
class SshNode:
    """How to reach the node: what a stack's config needs."""

    host: str
    port: int
    user: str
    private_key: str
    host_key: str
    """The server's public host key line (`ssh-ed25519 AAAA...`), as `ssh-keyscan` prints it."""


def _keypair(path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(path)], check=True
    )
    return path.with_suffix(".pub").read_text().strip()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def a_host_key(directory: Path) -> str:
    """Another, unrelated host key: what a node impersonating this one would show."""
    return _keypair(directory / "other_host_ed25519")


@contextmanager
def sshd(directory: Path, env: dict[str, str]) -> Iterator[SshNode]:
    """sshd on 127.0.0.1 until the block ends; `env` is set in every session (SetEnv)."""
    if not (os.path.exists(SSHD) and shutil.which("unshare")):
        pytest.skip("needs Debian's openssh-server and unshare (scripts/system-deps.sh)")
    if os.getuid() != 0:
        pytest.skip("sshd logs users in, and unshare makes a mount namespace, as root only")
    directory.mkdir(parents=True, exist_ok=True)
    host_key = _keypair(directory / "host_ed25519")
    (directory / "authorized_keys").write_text(_keypair(directory / "client_ed25519") + "\n")
    port = _free_port()
    settings = " ".join(f"{k}={v}" for k, v in env.items())
    (directory / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\n"
        f"HostKey {directory / 'host_ed25519'}\nPidFile none\n"
        f"AuthorizedKeysFile {directory / 'authorized_keys'}\n"
        "AuthenticationMethods publickey\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
        "UsePAM no\nStrictModes no\n"
        f"SetEnv {settings}\n"
    )
    namespace = (
        "mount -t tmpfs tmpfs /run && mkdir -m 0755 /run/sshd && mount --bind -o ro /etc /etc && "
        f'exec {SSHD} -D -e -f "$1"'
    )
    log = (directory / "sshd.log").open("wb")
    process = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private",
         "sh", "-c", namespace, "sh", str(directory / "sshd_config")],
        stdout=log, stderr=log,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    if conn.recv(64).startswith(b"SSH-2.0-"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"sshd did not start:\n{(directory / 'sshd.log').read_text()}")
            time.sleep(0.1)
        yield SshNode(
            host="127.0.0.1",
            port=port,
            user=pwd.getpwuid(os.getuid()).pw_name,
            private_key=(directory / "client_ed25519").read_text(),
            host_key=host_key,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
