"""The YAML example (docs/examples/yaml/Pulumi.yaml) through the engine on the loopback API
server: a Pulumi YAML program deploys regstack's Registry from the component package, with the
user's password a stack secret. The node tier (tests/node/test_example_programs_on_node.py)
pushes and pulls through the registry it deploys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from component_package import YamlProject
from engine import Engine

pytestmark = pytest.mark.e2e

PASSWORD = "yaml-e2e-throwaway-password"
NAMESPACE = "yaml-registry"


@pytest.fixture(scope="module")
def project(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[YamlProject]:
    project = YamlProject.copy(engine, tmp_path_factory.mktemp("yaml"), PASSWORD)
    # No node here: no pod becomes ready.
    project.run("config", "set", "skipAwait", "true")
    project.run("config", "set", "namespace", NAMESPACE)  # other modules use the default
    yield project
    project.run("destroy", "--yes", "--skip-preview", check=False)


@pytest.fixture(scope="module")
def deployed(project: YamlProject) -> YamlProject:
    project.run("preview")
    project.run("up", "--yes", "--skip-preview")
    return project


def test_the_yaml_program_deploys_the_registry_and_exports_its_endpoint(
    deployed: YamlProject,
) -> None:
    outputs = deployed.outputs()
    assert outputs["endpoint"] == "localhost:32000"
    assert outputs["in_cluster_endpoint"].startswith(f"registry.{NAMESPACE}.svc")
    assert outputs["docker_login"] == "docker login localhost:32000 -u dev"


def test_the_registry_runs_in_the_namespace_the_program_names(deployed: YamlProject) -> None:
    status, deployment = deployed.engine.cluster.get(
        f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/registry"
    )
    assert status == 200, deployment
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":3.1.2")


def test_the_password_is_in_no_state_output_or_log_in_plaintext(
    deployed: YamlProject, tmp_path: Path
) -> None:
    state = deployed.run("stack", "export").stdout
    assert PASSWORD not in state
    assert json.loads(state)["deployment"]["resources"]
    up_log = deployed.run("up", "--yes", "--skip-preview").stdout
    assert PASSWORD not in up_log


def test_a_second_up_changes_nothing(deployed: YamlProject) -> None:
    deployed.run("up", "--yes", "--skip-preview")
    deployed.run("preview", "--expect-no-changes", "--diff")


def test_destroy_removes_every_resource_and_leaves_an_empty_stack(deployed: YamlProject) -> None:
    deployed.run("destroy", "--yes", "--skip-preview")
    resources = json.loads(deployed.run("stack", "export").stdout)["deployment"].get("resources")
    assert not resources
    status, _ = deployed.engine.cluster.get(
        f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/registry"
    )
    assert status == 404


def test_a_bad_value_fails_the_preview_with_its_config_path_and_no_traceback(
    engine: Engine, tmp_path: Path
) -> None:
    project = YamlProject.copy(engine, tmp_path, PASSWORD, stack="bad-value")
    project.run("config", "set", "skipAwait", "true")
    project.run("config", "set", "namespace", "Not_A_Namespace")
    failed = project.run("preview", check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "has a problem: regstack:registry.namespace: 'Not_A_Namespace' is not" in output, output
    assert "Traceback" not in output and 'File "' not in output, output  # no stack frames


def test_a_namespace_given_as_a_secret_is_refused_at_its_path_rather_than_shown_in_plain(
    engine: Engine, tmp_path: Path
) -> None:
    project = YamlProject.copy(engine, tmp_path, PASSWORD, stack="secret-namespace")
    project.run("config", "set", "skipAwait", "true")
    project.run("config", "set", "--secret", "namespace", NAMESPACE)
    failed = project.run("preview", check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    # The namespace may be an Output, but no secret one: it is checked when it resolves.
    refused = "regstack:registry.namespace: is a pulumi secret, but this value is shown in plain"
    assert refused in output, output
