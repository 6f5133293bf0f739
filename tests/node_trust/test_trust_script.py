"""The node-trust scripts, run by a real POSIX shell against a local stand-in for a node."""

from __future__ import annotations

import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.node_trust import BACKUP_SUFFIX, apply_script, remove_script, trust_files

CA = "-----BEGIN CERTIFICATE-----\nlab-ca\n-----END CERTIFICATE-----\n"
NEW_CA = "-----BEGIN CERTIFICATE-----\nrenewed-lab-ca\n-----END CERTIFICATE-----\n"
ENDPOINTS = ["localhost:32000", "registry.lab:32000"]


@dataclass
class Node:
    """A node's filesystem under a temporary directory; restarts are counted in a file."""

    root: Path
    runtime: str = "containerd"
    owner: str = "regstack/lab"
    """The project/stack whose files these are."""

    @property
    def certs_dir(self) -> Path:
        return self.root / "certs.d"

    @property
    def restart(self) -> str:
        return f"echo restarted >> {self.root / 'restarts'}"

    def restarts(self) -> int:
        log = self.root / "restarts"
        return len(log.read_text().splitlines()) if log.exists() else 0

    mirror_of: str | None = None
    """The upstream whose pull-through cache these endpoints are."""

    def files(self, endpoints: list[str], ca: str | None) -> dict[str, str]:
        certs = str(self.certs_dir)
        return trust_files(endpoints, certs, ca, self.runtime, self.owner, self.mirror_of)

    def apply(
        self, endpoints: list[str], ca: str | None, env: dict[str, str] | None = None
    ) -> None:
        files = self.files(endpoints, ca)
        script = apply_script(files, str(self.certs_dir), self.restart, self.owner)
        subprocess.run(["sh", "-c", script], check=True, env=env)

    def remove(self, endpoints: list[str], ca: str | None) -> None:
        files = self.files(endpoints, ca)
        script = remove_script(files, str(self.certs_dir), self.restart, self.owner)
        subprocess.run(["sh", "-c", script], check=True)

    def found(self, relative: str, content: str) -> Path:
        """A file that was on the node before regstack."""
        path = self.certs_dir / relative
        path.parent.mkdir(parents=True)
        path.write_text(content)
        return path

    def tree(self) -> list[str]:
        return sorted(str(p.relative_to(self.certs_dir)) for p in self.certs_dir.rglob("*"))


@pytest.fixture
def node(tmp_path: Path) -> Node:
    return Node(tmp_path)


def test_a_self_signed_registry_gets_an_https_hosts_toml_pointing_at_its_ca(node: Node) -> None:
    node.apply(ENDPOINTS, CA)
    folder = node.certs_dir / "registry.lab:32000"
    hosts = tomllib.loads((folder / "hosts.toml").read_text())
    assert hosts["server"] == "https://registry.lab:32000"
    assert hosts["host"]["https://registry.lab:32000"]["ca"] == str(folder / "ca.crt")
    assert (folder / "ca.crt").read_text() == CA


def test_a_plain_http_registry_gets_an_http_hosts_toml_and_no_ca(node: Node) -> None:
    node.apply(ENDPOINTS, None)
    hosts = tomllib.loads((node.certs_dir / "localhost:32000" / "hosts.toml").read_text())
    assert hosts["server"] == "http://localhost:32000"
    assert hosts["host"]["http://localhost:32000"]["capabilities"] == ["pull", "resolve", "push"]
    assert node.tree() == ["localhost:32000", "localhost:32000/hosts.toml",
                           "registry.lab:32000", "registry.lab:32000/hosts.toml"]  # fmt: skip


def test_the_runtime_restarts_once_after_the_files_are_written(node: Node) -> None:
    node.apply(ENDPOINTS, CA)
    assert node.restarts() == 1


def test_a_second_run_changes_nothing_and_does_not_restart(node: Node) -> None:
    node.apply(ENDPOINTS, CA)
    before = {p: p.stat().st_mtime_ns for p in node.certs_dir.rglob("*")}
    node.apply(ENDPOINTS, CA)
    assert node.restarts() == 1
    assert {p: p.stat().st_mtime_ns for p in node.certs_dir.rglob("*")} == before


def test_a_renewed_ca_is_written_and_restarts_the_runtime_again(node: Node) -> None:
    node.apply(ENDPOINTS, CA)
    node.apply(ENDPOINTS, NEW_CA)
    assert (node.certs_dir / "localhost:32000" / "ca.crt").read_text() == NEW_CA
    assert node.restarts() == 2


def test_an_endpoint_dropped_from_the_config_is_removed_from_the_node(node: Node) -> None:
    node.apply(ENDPOINTS, CA)
    node.apply(ENDPOINTS[:1], CA)
    assert node.tree() == ["localhost:32000", "localhost:32000/ca.crt",
                           "localhost:32000/hosts.toml"]  # fmt: skip


def test_folders_regstack_does_not_manage_are_left_alone(node: Node) -> None:
    node.found("docker.io/hosts.toml", 'server = "https://registry-1.docker.io"\n')
    node.apply(ENDPOINTS, CA)
    node.remove(ENDPOINTS, CA)
    assert node.tree() == ["docker.io", "docker.io/hosts.toml"]


def test_another_stack_on_the_same_node_leaves_this_stack_s_files_alone(node: Node) -> None:
    mirror = Node(node.root, owner="regstack/mirror")
    node.apply(ENDPOINTS[:1], CA)
    mirror.apply(["localhost:32001"], None)
    mirror.remove(["localhost:32001"], None)
    assert node.tree() == ["localhost:32000", "localhost:32000/ca.crt",
                           "localhost:32000/hosts.toml"]  # fmt: skip


def test_a_docker_hub_mirror_becomes_the_first_host_of_docker_io(node: Node) -> None:
    node.mirror_of = "https://registry-1.docker.io"
    node.apply(["localhost:32001"], None)
    hosts = tomllib.loads((node.certs_dir / "docker.io" / "hosts.toml").read_text())
    assert hosts["server"] == "https://registry-1.docker.io"
    assert hosts["host"] == {"http://localhost:32001": {"capabilities": ["pull", "resolve"]}}


def test_the_docker_io_file_a_node_had_is_put_back_when_the_mirror_goes(node: Node) -> None:
    theirs = node.found("docker.io/hosts.toml", 'server = "https://registry-1.docker.io"\n')
    node.mirror_of = "https://registry-1.docker.io"
    node.apply(["localhost:32001"], None)
    node.remove(["localhost:32001"], None)
    assert theirs.read_text() == 'server = "https://registry-1.docker.io"\n'
    assert node.tree() == ["docker.io", "docker.io/hosts.toml"]


def test_removal_deletes_the_files_and_their_folders_and_restarts(node: Node) -> None:
    node.apply(ENDPOINTS, CA)
    node.remove(ENDPOINTS, CA)
    assert node.tree() == []
    assert node.restarts() == 2


def test_a_file_found_on_the_node_is_put_back_on_removal(node: Node) -> None:
    # MicroK8s ships its own hosts.toml for localhost:32000.
    shipped = node.found("localhost:32000/hosts.toml", 'server = "http://localhost:32000"\n')
    node.apply(ENDPOINTS, CA)
    node.apply(ENDPOINTS, NEW_CA)
    assert (shipped.parent / f"hosts.toml{BACKUP_SUFFIX}").exists()
    node.remove(ENDPOINTS, NEW_CA)
    assert shipped.read_text() == 'server = "http://localhost:32000"\n'
    assert node.tree() == ["localhost:32000", "localhost:32000/hosts.toml"]


def test_a_user_other_than_root_writes_through_sudo(node: Node, tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "id").write_text("#!/bin/sh\necho 1000\n")
    log = tmp_path / "sudo.log"
    (fake_bin / "sudo").write_text(f'#!/bin/sh\nprintf \'%s\\n\' "$*" >> {log}\nshift\nexec "$@"\n')
    for tool in ("id", "sudo"):
        (fake_bin / tool).chmod(0o755)
    node.apply(ENDPOINTS, None, env={"PATH": f"{fake_bin}:/usr/bin:/bin"})
    commands = log.read_text().splitlines()
    assert all(line.startswith("-n ") for line in commands)
    assert any(line.startswith("-n mv ") and line.endswith("hosts.toml") for line in commands)
    assert node.restarts() == 1


@pytest.fixture
def docker_node(tmp_path: Path) -> Node:
    return Node(tmp_path, runtime="docker")


def test_a_docker_node_gets_the_lab_ca_beside_a_marker_and_no_hosts_toml(docker_node: Node) -> None:
    docker_node.apply(ENDPOINTS[:1], CA)
    assert docker_node.tree() == ["localhost:32000", "localhost:32000/ca.crt",
                                  "localhost:32000/regstack-managed"]  # fmt: skip
    assert (docker_node.certs_dir / "localhost:32000" / "ca.crt").read_text() == CA


def test_a_docker_endpoint_dropped_from_the_config_is_removed(docker_node: Node) -> None:
    docker_node.apply(ENDPOINTS, CA)
    docker_node.apply(ENDPOINTS[1:], CA)
    assert docker_node.tree() == ["registry.lab:32000", "registry.lab:32000/ca.crt",
                                  "registry.lab:32000/regstack-managed"]  # fmt: skip


def test_a_ca_docker_had_before_is_put_back_on_removal(docker_node: Node) -> None:
    theirs = docker_node.found("localhost:32000/ca.crt", NEW_CA)
    docker_node.apply(ENDPOINTS[:1], CA)
    docker_node.apply(ENDPOINTS[:1], CA)
    docker_node.remove(ENDPOINTS[:1], CA)
    assert theirs.read_text() == NEW_CA
    assert docker_node.tree() == ["localhost:32000", "localhost:32000/ca.crt"]


# --- a restart that failed ----------------------------------------------------------------------


def flaky_restart(node: Node, failures: int) -> str:
    """A runtime restart that fails `failures` times, then succeeds (counted in `restarts`)."""
    left = node.root / "failures-left"
    left.write_text(str(failures))
    return (f'n=$(cat {left}); if [ "$n" -gt 0 ]; then echo $((n - 1)) > {left}; exit 1; fi; '
            f"echo restarted >> {node.root / 'restarts'}")  # fmt: skip


def run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)


def test_a_failed_restart_fails_the_run_and_is_finished_by_the_next_one(node: Node) -> None:
    files = node.files(ENDPOINTS, CA)
    script = apply_script(files, str(node.certs_dir), flaky_restart(node, 1), node.owner)
    assert run(script).returncode != 0 and node.restarts() == 0
    # The files are in place now, so only the record of the pending restart can bring it about.
    assert run(script).returncode == 0 and node.restarts() == 1
    assert run(script).returncode == 0 and node.restarts() == 1


def test_a_restart_failing_twice_is_retried_until_it_succeeds(node: Node) -> None:
    files = node.files(ENDPOINTS, CA)
    script = apply_script(files, str(node.certs_dir), flaky_restart(node, 2), node.owner)
    assert [run(script).returncode != 0 for _ in range(3)] == [True, True, False]
    assert node.restarts() == 1


def test_a_failed_restart_after_removal_is_finished_by_the_next_run(node: Node) -> None:
    node.apply(ENDPOINTS, CA)
    files = node.files(ENDPOINTS, CA)
    script = remove_script(files, str(node.certs_dir), flaky_restart(node, 1), node.owner)
    assert run(script).returncode != 0 and node.restarts() == 1
    assert run(script).returncode == 0 and node.restarts() == 2


def test_a_symlink_planted_beside_hosts_toml_is_not_followed(node: Node, tmp_path: Path) -> None:
    # Whoever can write in the folder plants links at the names the root-run script once wrote
    # through, pointing at a file they could not write themselves.
    victim = tmp_path / "victim"
    victim.write_text("root's file\n")
    folder = node.certs_dir / "registry.lab:32000"
    folder.mkdir(parents=True)
    for name in ("hosts.toml.regstack-new", "ca.crt.regstack-new"):
        (folder / name).symlink_to(victim)
    node.apply(ENDPOINTS, CA)
    assert victim.read_text() == "root's file\n"
    assert not (folder / "hosts.toml").is_symlink() and not (folder / "ca.crt").is_symlink()
    assert (folder / "ca.crt").read_text() == CA
