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
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml
from engine import Engine
from regstack_project import RegstackProject
from sshd import sshd

from components.distribution_config import DATA_DIR
from devkit.registry import RunningRegistry, free_port, oci_image, pull, push, require, serve
from tests.existing_claim.test_addon_data_real import addon_config

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

    @property
    def claim_files(self) -> Path:
        """What the addon's registry keeps on its claim: `disable` deletes it."""
        return self.state / "registry-claim"

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


def test_destroy_leaves_the_addon_and_its_images(lab: tuple[RegstackProject, Node]) -> None:
    project, node = lab
    before = len(node.calls())
    project.destroy()
    assert node.calls_since(before) == []  # `microk8s disable registry` deletes every image
    assert node.addon()["enabled"] is True and node.claim_files.is_dir()


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
        assert ["disable", "registry"] not in node.calls()
        assert node.addon()["enabled"] is True
        project.remove()


TAKEOVER_NAMESPACE = "takeover-registry"


def addon_objects(engine: Engine) -> None:
    """The addon's namespace and claim on the API server, as `microk8s enable registry` makes
    them (in a namespace of this test's own: the dev stack serves container-registry here)."""
    engine.cluster.create_namespace(TAKEOVER_NAMESPACE)
    engine.cluster.create(f"/api/v1/namespaces/{TAKEOVER_NAMESPACE}/persistentvolumeclaims", {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "registry-claim"},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "20Gi"}}},
    })  # fmt: skip


def push_to_the_addon(claim_files: Path, workdir: Path) -> dict[str, str]:
    """Two images pushed to the addon's registry (Debian's 2.8, its config) on the claim's
    files, which is then stopped as the README's first steps remove its pod."""
    addon = serve(workdir / "addon", addon_config(claim_files), env=dict(os.environ), line=2)
    digests = {}
    for reference in ("team/app:1.0", "team/tool:2.3"):
        layout = workdir / reference.replace("/", "-").replace(":", "-")
        digests[reference] = oci_image(layout, "v", content=os.urandom(2048))
        push(layout, "v", addon, reference)
    addon.stop()
    return digests


def serve_as_the_stack_renders_it(
    engine: Engine, claim_files: Path, workdir: Path
) -> RunningRegistry:
    """Distribution 3 with the config.yml the stack wrote to the API server, on the claim's files."""
    config_map = engine.cluster.get(
        f"/api/v1/namespaces/{TAKEOVER_NAMESPACE}/configmaps/registry-config"
    )[1]
    config = yaml.safe_load(config_map["data"]["config.yml"])
    assert config["storage"]["filesystem"]["rootdirectory"] == DATA_DIR  # the claim's mount
    config["storage"]["filesystem"]["rootdirectory"] = str(claim_files)
    config["http"]["addr"] = f"127.0.0.1:{free_port()}"
    config["http"].pop("debug", None)  # metrics: another port, not needed here
    return serve(workdir / "regstack", config, env=dict(os.environ), line=3)


@pytest.mark.servers
def test_taking_the_addon_s_images_over_keeps_every_image(engine: Engine, tmp_path: Path) -> None:
    """The README's "Taking over the addon's images", in the same stack: backend: distribution on
    the addon's claim. The addon's Command leaves the program and must not disable the addon."""
    require("skopeo")
    with ExitStack() as stack:
        project, node = addon_stack(engine, tmp_path, "takeover", stack)
        project.up()
        digests = push_to_the_addon(node.claim_files, tmp_path)
        addon_objects(engine)
        project.set_path("regstack:backend", "distribution")
        project.set_path("regstack:registry.namespace", TAKEOVER_NAMESPACE)
        project.run("config", "rm", "--path", "regstack:registry.storage.size")
        project.set_path("regstack:registry.storage.existing_claim", "registry-claim")
        project.set_path("regstack:registry.storage.access_mode", "ReadWriteMany")
        project.set_path("regstack:registry.service.node_port", "31997")  # the dev stack has 32000
        before = len(node.calls())
        project.up()
        assert node.calls_since(before) == []
        deployment = engine.cluster.get(
            f"/apis/apps/v1/namespaces/{TAKEOVER_NAMESPACE}/deployments/registry"
        )[1]
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "registry-claim"}
        registry = serve_as_the_stack_renders_it(engine, node.claim_files, tmp_path)
        try:
            for reference, digest in digests.items():
                assert pull(registry, reference, tmp_path / f"pulled-{digest[7:19]}") == digest
        finally:
            registry.stop()
        project.destroy()
        assert node.addon()["enabled"] is True
        project.remove()
