"""Node trust through the engine: pulumi-command 1.2.1 runs NodeTrust's scripts over real SSH.

The node is this machine, reached through Debian's sshd on 127.0.0.1 (tests/e2e/sshd.py: a
throwaway host key that the connection checks, a throwaway client key). The node's files live
under a temporary root: the stack's `certs_dir` is `<root>/var/snap/microk8s/current/args/certs.d`
(the microk8s runtime's path under that prefix), and sshd runs with /etc read-only, so the test
cannot write to this machine's /etc. The runtime restart is a stand-in command that logs each
call, so the tests count restarts.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from engine import Engine, write_program
from sshd import SshNode, a_host_key, sshd

pytestmark = pytest.mark.e2e

PROGRAM = '''"""NodeTrust alone: nodes, endpoints and CA from the stack's `trust:` config."""
import pulumi

from components.config import NodeTrustConfig
from components.node_trust import NodeTrust, NodeTrustArgs

config = pulumi.Config("trust")
NodeTrust(
    "trust",
    NodeTrustArgs(
        trust=NodeTrustConfig.model_validate(config.require_object("node_trust")),
        endpoints=config.require_object("endpoints"),
        ca_pem=config.get("ca"),
        private_key=config.require_secret("private_key"),
    ),
)
'''
ENDPOINTS = ["localhost:32000", "registry.lab.local:32000"]
# What MicroK8s ships for its addon's endpoint, found on the node before regstack.
SHIPPED = 'server = "http://localhost:32000"\n\n[host."http://localhost:32000"]\ncapabilities = ["pull", "resolve"]\n'  # fmt: skip


def new_ca(directory: Path, name: str) -> str:
    """A real self-signed CA certificate (PEM); its key is thrown away."""
    out = directory / f"{name}.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout", "/dev/null",
         "-subj", f"/CN={name}", "-days", "1", "-out", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    return out.read_text()


@dataclass
class TrustStack:
    engine: Engine
    directory: Path
    name: str
    root: Path
    """The node's root prefix: everything the scripts write is below it."""

    @property
    def certs_dir(self) -> Path:
        return self.root / "var/snap/microk8s/current/args/certs.d"

    def restarts(self) -> int:
        log = self.root / "restarts"
        return len(log.read_text().splitlines()) if log.exists() else 0

    def pulumi(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.engine.pulumi(
            *args, "--stack", self.name, cwd=self.directory, check=check, stdin=stdin
        )

    def set_ca(self, pem: str) -> None:
        self.pulumi("config", "set", "trust:ca", stdin=pem)

    def up(self, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.pulumi("up", "--yes", "--skip-preview", check=check)

    def changes(self) -> list[str]:
        """Operations a preview would do, other than `same`."""
        out = self.pulumi("preview", "--json").stdout
        return [s["op"] for s in yaml.safe_load(out).get("steps", []) if s["op"] != "same"]


def trust_stack(
    engine: Engine, directory: Path, name: str, node: SshNode, host_key: str, ca: str
) -> TrustStack:
    project = write_program(directory / "project", "node-trust-e2e", PROGRAM, engine.venv)
    stack = TrustStack(engine, project, name, directory / "node-root")
    stack.certs_dir.mkdir(parents=True)
    config = {
        "trust:node_trust": {
            "nodes": [{"host": node.host, "port": node.port, "user": node.user,
                       "host_key": host_key}],
            "runtime": "microk8s",
            "certs_dir": str(stack.certs_dir),
            "restart_command": f"echo restarted >> {stack.root / 'restarts'}",
        },
        "trust:endpoints": ENDPOINTS,
    }  # fmt: skip
    (project / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": config}))
    engine.pulumi("stack", "init", name, cwd=project)
    stack.pulumi("config", "set", "--secret", "trust:private_key", stdin=node.private_key)
    stack.set_ca(ca)
    return stack


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshNode]:
    with sshd(tmp_path_factory.mktemp("sshd"), {"PATH": "/usr/bin:/bin"}) as server:
        yield server


@pytest.fixture(scope="module")
def cas(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    directory = tmp_path_factory.mktemp("ca")
    return new_ca(directory, "lab-ca"), new_ca(directory, "renewed-lab-ca")


@pytest.fixture(scope="module")
def lab(
    engine: Engine, node: SshNode, cas: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TrustStack]:
    """One stack, `up` done over SSH, on a node where MicroK8s' own hosts.toml was found."""
    stack = trust_stack(
        engine, tmp_path_factory.mktemp("trust"), "lab", node, node.host_key, cas[0]
    )
    shipped = stack.certs_dir / "localhost:32000/hosts.toml"
    shipped.parent.mkdir()
    shipped.write_text(SHIPPED)
    stack.up()
    yield stack
    stack.pulumi("destroy", "--yes", "--skip-preview", check=False)
    stack.pulumi("stack", "rm", "--yes", "--force", check=False)


def test_up_writes_each_endpoints_files_and_restarts_the_runtime_once(
    lab: TrustStack, cas: tuple[str, str]
) -> None:
    for endpoint in ENDPOINTS:
        folder = lab.certs_dir / endpoint
        assert (folder / "ca.crt").read_text() == cas[0]
        assert f'server = "https://{endpoint}"' in (folder / "hosts.toml").read_text()
    assert (lab.certs_dir / "localhost:32000/hosts.toml.regstack-orig").read_text() == SHIPPED
    assert lab.restarts() == 1


def test_a_second_preview_shows_no_changes(lab: TrustStack) -> None:
    assert lab.changes() == []
    assert lab.restarts() == 1


def test_a_new_ca_is_written_and_restarts_the_runtime_once(
    lab: TrustStack, cas: tuple[str, str]
) -> None:
    lab.set_ca(cas[1])
    assert lab.changes() == ["update"]
    lab.up()
    for endpoint in ENDPOINTS:
        assert (lab.certs_dir / endpoint / "ca.crt").read_text() == cas[1]
    assert lab.restarts() == 2


def test_a_removed_endpoint_loses_its_files(lab: TrustStack) -> None:
    lab.pulumi("config", "rm", "--path", "trust:endpoints[1]")
    lab.up()
    assert not (lab.certs_dir / "registry.lab.local:32000").exists()
    assert (lab.certs_dir / "localhost:32000/ca.crt").exists()
    assert lab.restarts() == 3


def test_destroy_puts_back_the_files_it_found(lab: TrustStack) -> None:
    lab.pulumi("destroy", "--yes", "--skip-preview")
    remaining = sorted(str(p.relative_to(lab.certs_dir)) for p in lab.certs_dir.rglob("*"))
    assert remaining == ["localhost:32000", "localhost:32000/hosts.toml"]
    assert (lab.certs_dir / "localhost:32000/hosts.toml").read_text() == SHIPPED
    assert lab.restarts() == 4


def test_a_node_showing_another_host_key_is_refused(
    engine: Engine, node: SshNode, cas: tuple[str, str], tmp_path: Path
) -> None:
    stack = trust_stack(engine, tmp_path, "impostor", node, a_host_key(tmp_path), cas[0])
    result = stack.up(check=False)
    assert result.returncode != 0
    assert "host key mismatch" in result.stdout + result.stderr
    assert list(stack.certs_dir.iterdir()) == [] and stack.restarts() == 0
    stack.pulumi("stack", "rm", "--yes", "--force", check=False)
