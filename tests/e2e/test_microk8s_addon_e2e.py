"""The microk8s-addon backend through the engine: pulumi-command 1.2.1 runs the addon's commands,
on this machine and over real SSH (Debian's sshd on 127.0.0.1, host key checked).

The `microk8s` it runs is a STAND-IN (tests/e2e/standins/microk8s): the real CLI is a snap and
cannot run here. The stand-in copies the real CLI's argument grammar, messages and exit codes for
the registry addon, including its quirk of printing a refusal and exiting 0, and logs each call,
so each test can say which commands `up`, `preview` and `destroy` ran.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from engine import Engine
from regstack_project import RegstackProject
from sshd import sshd

pytestmark = pytest.mark.e2e

STANDINS = Path(__file__).resolve().parent / "standins"
STATUS = ["status", "-a", "registry"]
ENABLE_40 = ["enable", "registry", "--size", "40Gi"]
CLAIM_QUERY = ["kubectl", "-n", "container-registry", "get", "persistentvolumeclaim",
               "registry-claim", "-o",
               "jsonpath={.spec.resources.requests.storage} {.spec.storageClassName}"]  # fmt: skip


@dataclasses.dataclass
class Node:
    """The stand-in's view of a node: what the addon holds and every command it was asked."""

    state: Path

    def calls(self) -> list[list[str]]:
        log = self.state / "calls.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def calls_since(self, mark: int) -> list[list[str]]:
        return self.calls()[mark:]

    def addon(self) -> dict:
        path = self.state / "addon.json"
        return json.loads(path.read_text()) if path.exists() else {"enabled": False}

    def enable_before_regstack(self) -> None:
        (self.state / "addon.json").write_text(
            json.dumps({"enabled": True, "size": "20Gi", "storage_class": "microk8s-hostpath"})
        )


STACK = """config:
  regstack:profile: {profile}
  regstack:backend: microk8s-addon
  regstack:registry:
    storage: {storage}
"""


def addon_stack(
    engine: Engine,
    directory: Path,
    name: str,
    stack: ExitStack,
    ssh: bool = False,
    storage: str = "{size: 40Gi}",
    profile: str = "dev",
) -> tuple[RegstackProject, Node]:
    """A microk8s-addon stack whose `microk8s` is the stand-in, on this machine or over SSH."""
    node = Node(directory / "node")
    node.state.mkdir(parents=True)
    settings = {"MICROK8S_STANDIN_STATE": str(node.state)}
    stack_file = directory / "stack.yaml"
    stack_file.write_text(STACK.format(profile=profile, storage=storage))
    if ssh:
        server = stack.enter_context(
            sshd(directory / "sshd", {"PATH": f"{STANDINS}:/usr/bin:/bin", **settings})
        )
        with stack_file.open("a") as config:
            config.write(
                f"  regstack:microk8s: {{host: {server.host}, port: {server.port}, "
                f"user: {server.user}, host_key: {server.host_key}}}\n"
            )
    else:
        env = dict(engine.env, PATH=f"{STANDINS}:{engine.env['PATH']}", **settings)
        engine = dataclasses.replace(engine, env=env)
    project = RegstackProject.copy(engine, directory, name, source=stack_file)
    if ssh:
        project.set_secret("regstack:microk8s.private_key", server.private_key)
    if profile == "prod":  # the addon has neither TLS nor authentication
        project.set_path("regstack:allow_insecure", "true")
    return project, node


@pytest.fixture(scope="module", params=["local", "ssh"])
def lab(
    request: pytest.FixtureRequest, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RegstackProject, Node]]:
    """One addon stack, `up` done, for the tests below in order; then destroyed."""
    with ExitStack() as stack:
        directory = tmp_path_factory.mktemp(f"addon-{request.param}")
        project, node = addon_stack(
            engine, directory, f"lab-{request.param}", stack, ssh=request.param == "ssh"
        )
        project.up()
        yield project, node
        project.destroy(check=False)
        project.remove()


def test_up_enables_the_addon_with_the_chapter_command(lab: tuple[RegstackProject, Node]) -> None:
    project, node = lab
    assert node.calls() == [STATUS, ENABLE_40, STATUS]
    assert node.addon() == {"enabled": True, "size": "40Gi", "storage_class": "microk8s-hostpath"}
    assert project.outputs()["endpoint"] == "localhost:32000"


def test_a_second_preview_changes_nothing_and_runs_nothing(
    lab: tuple[RegstackProject, Node],
) -> None:
    project, node = lab
    before = len(node.calls())
    assert project.preview_steps() == []
    assert node.calls_since(before) == []


def test_a_new_size_is_refused_and_never_disables_the_addon(
    lab: tuple[RegstackProject, Node],
) -> None:
    project, node = lab
    before = len(node.calls())
    project.set_path("regstack:registry.storage.size", "60Gi")
    assert [op for op, _ in project.preview_steps()] == ["update"]  # not a replacement
    result = project.up(check=False)
    assert result.returncode != 0
    assert "cannot resize or move its volume: registry-claim has 40Gi" in result.stdout
    assert node.calls_since(before) == [CLAIM_QUERY]
    assert node.addon()["enabled"] is True and node.addon()["size"] == "40Gi"
    project.set_path("regstack:registry.storage.size", "40Gi")
    assert project.preview_steps() == []


def test_destroy_disables_the_addon(lab: tuple[RegstackProject, Node]) -> None:
    project, node = lab
    before = len(node.calls())
    project.destroy()
    assert node.calls_since(before) == [["disable", "registry"]]
    assert node.addon() == {"enabled": False}


def test_an_addon_enabled_before_regstack_is_left_alone(engine: Engine, tmp_path: Path) -> None:
    with ExitStack() as stack:
        project, node = addon_stack(engine, tmp_path, "enabled-before", stack)
        node.enable_before_regstack()
        result = project.up(check=False)
        assert result.returncode != 0
        assert "already enabled on this node" in result.stdout
        project.destroy()
        assert ["disable", "registry"] not in node.calls()
        assert node.addon()["enabled"] is True
        project.remove()


def test_a_refusal_the_addon_exits_0_on_fails_the_up(engine: Engine, tmp_path: Path) -> None:
    with ExitStack() as stack:
        project, node = addon_stack(engine, tmp_path, "unknown-class", stack,
                                    storage="{size: 40Gi, storage_class: fast-ssd}")  # fmt: skip
        result = project.up(check=False)
        assert result.returncode != 0
        assert "Storage class fast-ssd doesn't exit." in result.stdout  # the addon's own words
        assert "did not enable the addon" in result.stdout
        assert node.addon() == {"enabled": False}
        project.remove()


def test_the_prod_profile_protects_the_addon_from_destroy(engine: Engine, tmp_path: Path) -> None:
    with ExitStack() as stack:
        project, node = addon_stack(engine, tmp_path, "prod", stack, profile="prod")
        project.up()
        result = project.destroy(check=False)
        assert result.returncode != 0 and "protected" in result.stdout
        assert ["disable", "registry"] not in node.calls()
        project.run("state", "unprotect", "--all", "--yes")
        project.destroy()
        project.remove()
