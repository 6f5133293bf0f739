"""Debian's containerd on a private socket, to check what it makes of regstack's hosts.toml."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

# Only what a pull needs: no CRI (it would look for a CNI and a kubelet), no exotic snapshotters.
CONFIG = """version = 2
root = "{dir}/root"
state = "{dir}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{dir}/containerd.sock"
[ttrpc]
  address = "{dir}/containerd.sock.ttrpc"
"""


@dataclass
class Containerd:
    socket: Path

    def fetch(self, reference: str, hosts_dir: Path) -> subprocess.CompletedProcess[str]:
        """`ctr content fetch`: resolve and download an image as the kubelet's pull would."""
        return subprocess.run(
            ["ctr", "--address", str(self.socket), "content", "fetch",
             "--hosts-dir", str(hosts_dir), reference],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
