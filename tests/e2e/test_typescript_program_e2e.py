"""The TypeScript example (docs/examples/typescript) through the engine on the loopback API
server: a TypeScript program deploys regstack's Registry from the component package's generated
SDK, with the user's password a stack secret. The node tier
(tests/node/test_example_programs_on_node.py) pushes and pulls through the registry it deploys."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from engine import Engine
from typescript_program import TypeScriptProject

pytestmark = pytest.mark.e2e

PASSWORD = "typescript-e2e-throwaway-password"
NAMESPACE = "typescript-registry"
DEPLOYMENT = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/registry"


@pytest.fixture(scope="module")
def project(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TypeScriptProject]:
    project = TypeScriptProject.copy(engine, tmp_path_factory.mktemp("typescript"), PASSWORD)
    # No node here: no pod becomes ready.
    project.run("config", "set", "skipAwait", "true")
    project.run("config", "set", "namespace", NAMESPACE)
    yield project
    project.run("destroy", "--yes", "--skip-preview", check=False)


def test_a_bad_value_fails_the_preview_with_its_config_path_and_no_stack_frames(
    project: TypeScriptProject,
) -> None:
    # A second stack of the same copy, left unselected: the SDK and packages are installed once.
    project.run("stack", "init", "bad-value", "--no-select")
    for key, value in (("skipAwait", "true"), ("namespace", "Not_A_Namespace")):
        project.run("config", "set", "--stack", "bad-value", key, value)
    project.run("config", "set", "--stack", "bad-value", "--secret", "registryPassword", PASSWORD)
    failed = project.run("preview", "--stack", "bad-value", check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "has a problem: regstack:registry.namespace: 'Not_A_Namespace' is not" in output, output
    # Neither the Node.js SDK's frames (`    at ...`) nor the provider's Python ones.
    assert not re.search(r"^\s+at \S", output, re.M), output
    assert "Traceback" not in output, output


@pytest.fixture(scope="module")
def deployed(project: TypeScriptProject) -> TypeScriptProject:
    project.run("preview")
    project.run("up", "--yes", "--skip-preview")
    return project


def test_the_typescript_program_deploys_the_registry_and_exports_its_endpoint(
    deployed: TypeScriptProject,
) -> None:
    outputs = deployed.outputs()
    assert outputs["endpoint"] == "localhost:32000"
    assert outputs["in_cluster_endpoint"].startswith(f"registry.{NAMESPACE}.svc")
    assert outputs["docker_login"] == "docker login localhost:32000 -u dev"


def test_the_registry_runs_in_the_namespace_the_program_names(
    deployed: TypeScriptProject,
) -> None:
    status, deployment = deployed.engine.cluster.get(DEPLOYMENT)
    assert status == 200, deployment


def test_the_password_is_in_no_state_output_or_log_in_plaintext(
    deployed: TypeScriptProject,
) -> None:
    state = deployed.run("stack", "export").stdout
    assert json.loads(state)["deployment"]["resources"]
    assert PASSWORD not in state
    assert PASSWORD not in deployed.run("up", "--yes", "--skip-preview").stdout


def test_a_second_up_changes_nothing(deployed: TypeScriptProject) -> None:
    deployed.run("up", "--yes", "--skip-preview")
    deployed.run("preview", "--expect-no-changes", "--diff")


def test_destroy_removes_every_resource_and_leaves_an_empty_stack(
    deployed: TypeScriptProject,
) -> None:
    deployed.run("destroy", "--yes", "--skip-preview")
    resources = json.loads(deployed.run("stack", "export").stdout)["deployment"].get("resources")
    assert not resources
    assert deployed.engine.cluster.get(DEPLOYMENT)[0] == 404
