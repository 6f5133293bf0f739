"""Helpers for end-to-end tests that drive the locally built Pulumi CLI
against the throwaway control plane of scripts/cluster.sh."""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"


def toolchain_bin() -> Path:
    out = subprocess.run(
        ["bash", str(SCRIPTS / "toolchain.sh"), "--bin-dir"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip())


def ensure_toolchain() -> Path:
    """Builds whatever is missing (a no-op when warm) and returns the bin dir."""
    subprocess.run(["bash", str(SCRIPTS / "toolchain.sh")], check=True, stdout=subprocess.DEVNULL)
    return toolchain_bin()


def pulumi_env(
    pulumi_home: Path, state_dir: Path, base: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment scripts/pulumi-env.sh sets up, with home and state moved."""
    env = dict(os.environ if base is None else base)
    env["PULUMI_HOME"] = str(pulumi_home)
    env["REGSTACK_PULUMI_STATE"] = str(state_dir)
    env.pop("PULUMI_BACKEND_URL", None)
    out = subprocess.run(
        ["bash", "-c", f'source "{SCRIPTS / "pulumi-env.sh"}" && env -0'],
        check=True,
        capture_output=True,
        env=env,
    )
    result = {}
    for item in out.stdout.split(b"\0"):
        if item:
            k, _, v = item.decode().partition("=")
            result[k] = v
    return result


@dataclass
class Cluster:
    """A running scripts/cluster.sh control plane."""

    state: Path
    kubeconfig: Path
    api: str
    token: str
    ca: Path
    _ssl: ssl.SSLContext = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._ssl = ssl.create_default_context(cafile=str(self.ca))

    @classmethod
    def up(cls, state: Path) -> Cluster:
        env = dict(os.environ, REGSTACK_STATE=str(state))
        script = str(SCRIPTS / "cluster.sh")
        subprocess.run(["bash", script, "up"], check=True, env=env)
        out = subprocess.run(
            ["bash", script, "env"], check=True, env=env, capture_output=True, text=True
        ).stdout
        values = dict(
            line.removeprefix("export ").split("=", 1) for line in out.splitlines() if "=" in line
        )
        return cls(
            state=state,
            kubeconfig=Path(values["KUBECONFIG"]),
            api=values["REGSTACK_KUBE_API"],
            token=values["REGSTACK_KUBE_TOKEN"],
            ca=Path(values["REGSTACK_KUBE_CA"]),
        )

    def down(self) -> None:
        env = dict(os.environ, REGSTACK_STATE=str(self.state))
        subprocess.run(["bash", str(SCRIPTS / "cluster.sh"), "down"], check=False, env=env)

    def create_namespace(self, name: str) -> None:
        """A namespace that a real cluster's add-ons would own (e.g. Grafana's); idempotent."""
        self.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                           "metadata": {"name": name}})  # fmt: skip

    def delete_namespace(self, name: str, seconds: float = 120) -> None:
        """What an operator does once a namespace `pulumi destroy` left holds nothing they need:
        delete it, and wait until the namespace controller has emptied and removed it."""
        request = urllib.request.Request(
            f"{self.api}/api/v1/namespaces/{name}", method="DELETE",
            headers={"Authorization": f"Bearer {self.token}"},
        )  # fmt: skip
        try:
            urllib.request.urlopen(request, context=self._ssl, timeout=10).close()
        except urllib.error.HTTPError as err:
            if err.code != 404:
                raise
        deadline = time.monotonic() + seconds
        while self.get(f"/api/v1/namespaces/{name}")[0] != 404:
            if time.monotonic() > deadline:
                raise TimeoutError(f"namespace {name} was not removed in {seconds:.0f} s")
            time.sleep(1)

    def create(self, collection: str, manifest: dict) -> None:
        """POST an object made outside any stack to its collection path; idempotent."""
        body = json.dumps(manifest)
        request = urllib.request.Request(
            f"{self.api}{collection}",
            data=body.encode(),
            method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            urllib.request.urlopen(request, context=self._ssl, timeout=10)
        except urllib.error.HTTPError as err:
            if err.code != 409:  # 409: already there
                raise

    def patch(self, path: str, body: dict, manager: str) -> None:
        """A JSON merge patch by another field manager, e.g. what a controller writes."""
        request = urllib.request.Request(
            f"{self.api}{path}?fieldManager={manager}",
            data=json.dumps(body).encode(),
            method="PATCH",
            headers={"Authorization": f"Bearer {self.token}",
                     "Content-Type": "application/merge-patch+json"},
        )  # fmt: skip
        urllib.request.urlopen(request, context=self._ssl, timeout=10).close()

    def get(self, path: str) -> tuple[int, dict]:
        """GET an API path; returns (HTTP status, decoded JSON body)."""
        req = urllib.request.Request(
            self.api + path, headers={"Authorization": f"Bearer {self.token}"}
        )
        try:
            with urllib.request.urlopen(req, context=self._ssl, timeout=10) as resp:
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")


@dataclass
class Engine:
    """What an e2e test needs to run `pulumi` against the test cluster."""

    bin_dir: Path
    cluster: Cluster
    env: dict[str, str]
    venv: Path

    @property
    def kubeconfig(self) -> Path:
        return self.cluster.kubeconfig

    def pulumi(
        self,
        *args: str,
        cwd: Path,
        check: bool = True,
        timeout: float = 600,
        stdin: str | None = None,
        passphrase: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """`pulumi ARGS`; `passphrase`: the stack's own instead of the lab's published one."""
        exe = shutil.which("pulumi", path=self.env["PATH"]) or "pulumi"
        env = (
            self.env if passphrase is None else self.env | {"PULUMI_CONFIG_PASSPHRASE": passphrase}
        )
        proc = _run_as_group([exe, *args, "--non-interactive"], cwd, env, stdin, timeout)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} exited {proc.returncode}\n"
                f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
            )
        return proc


def _run_as_group(
    argv: list[str], cwd: Path, env: dict[str, str], stdin: str | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    """`argv` in a process group of its own, all of it killed on timeout: the CLI's plugins
    (language host, providers) are its children, and a timeout that kills the CLI alone leaves
    them running, holding CPU and the cluster's objects for the tests after it."""
    with subprocess.Popen(
        argv, cwd=cwd, env=env, text=True, start_new_session=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as proc:  # fmt: skip
        try:
            stdout, stderr = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def write_program(directory: Path, name: str, main_py: str, venv: Path) -> Path:
    """A Pulumi Python project in `directory` that runs in the given virtualenv."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Pulumi.yaml").write_text(
        f"name: {name}\n"
        "runtime:\n"
        "  name: python\n"
        "  options:\n"
        "    toolchain: pip\n"
        f"    virtualenv: {venv}\n"
    )
    (directory / "__main__.py").write_text(main_py)
    return directory
