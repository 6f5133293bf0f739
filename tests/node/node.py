"""Drive scripts/cluster.sh and scripts/node.sh for the node tests, and read what they leave."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
BUSYBOX = "localhost/regstack-test/busybox:1.35.0"
# The stacks' Python image (GC window, retention): a local stand-in of the same reference.
PYTHON = "docker.io/library/python:3.13.1-alpine3.21"


def _exports(out: str) -> dict[str, str]:
    return dict(
        line.removeprefix("export ").split("=", 1) for line in out.splitlines() if "=" in line
    )


@dataclass
class NodeCluster:
    state: Path
    kubeconfig: Path
    kubectl_bin: Path
    node: dict[str, str]

    @classmethod
    def up(cls, state: Path) -> NodeCluster:
        env = cls._env_for(state)
        subprocess.run(["bash", str(SCRIPTS / "cluster.sh"), "up"], check=True, env=env)
        cluster = _exports(cls._run(env, "cluster.sh", "env"))
        toolchain = cls._run(env, "toolchain.sh", "--bin-dir").strip()
        return cls(state, Path(cluster["KUBECONFIG"]), Path(toolchain) / "kubectl",
                   _exports(cls._run(env, "node.sh", "env")))  # fmt: skip

    @staticmethod
    def _env_for(state: Path) -> dict[str, str]:
        # 32001: the token server's node port (the realm of test_identities_on_node).
        ports = os.environ.get("REGSTACK_NODE_PORTS", "32000 32001")
        return dict(
            os.environ, REGSTACK_STATE=str(state), REGSTACK_NODE="1", REGSTACK_NODE_PORTS=ports
        )

    @staticmethod
    def _run(env: dict[str, str], script: str, *args: str) -> str:
        return subprocess.run(["bash", str(SCRIPTS / script), *args], check=True, env=env,
                              capture_output=True, text=True).stdout  # fmt: skip

    def script(self, script: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(SCRIPTS / script), *args], env=self._env_for(self.state),
                              capture_output=True, text=True)  # fmt: skip

    def down(self) -> None:
        self.script("cluster.sh", "down")

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        done = subprocess.run([str(self.kubectl_bin), "--kubeconfig", str(self.kubeconfig), *args],
                              input=stdin, capture_output=True, text=True)  # fmt: skip
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {done.stderr}")
        return done.stdout

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def apply(self, manifest: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))

    def wait_for(self, what: str, check: Any, timeout: float = 120) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(1)

    def pod_phase(self, namespace: str, name: str) -> str:
        pod = self.get("pod", "-n", namespace, name)
        return str(pod.get("status", {}).get("phase", ""))


def pod(
    name: str, namespace: str, command: str | list[str], image: str = BUSYBOX, **spec: Any
) -> dict[str, Any]:
    """A pod of one container running `sh -c COMMAND`, or COMMAND itself when a list."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": image, "imagePullPolicy": "IfNotPresent",
                            "command": ["sh", "-c", command] if isinstance(command, str) else command}],
            **spec,
        },
    }  # fmt: skip


def leftovers(data: str, cgroup_root: str) -> list[str]:
    """What of a stopped node is still on the host: processes, mounts, cgroups, files."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if data in cmdline:
                found.append(f"process {proc.name}: {cmdline}")
    found += [f"mount {line}" for line in Path("/proc/self/mountinfo").read_text().splitlines()
              if data in line]  # fmt: skip
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, mountpoint, kind, *_ = line.split()
        if kind in ("cgroup", "cgroup2") and (Path(mountpoint) / cgroup_root).exists():
            found.append(f"cgroup {mountpoint}/{cgroup_root}")
    if Path(data).exists():
        found.append(f"directory {data}")
    return found
