"""A Namespace the consumer's own program makes, handed to Registry with `createNamespace: false`:
the YAML example (docs/examples/yaml/Pulumi.yaml) deployed through the engine on the loopback API
server runs its registry there, and the Namespace stays the program's own (one object, made once,
gone with the program's `destroy`). Mocks cannot show that the engine and the API server accept
it: without the key regstack would create the same namespace a second time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from component_package import YamlProject
from engine import Engine

pytestmark = pytest.mark.e2e

PASSWORD = "yaml-existing-namespace-throwaway-password"
NAMESPACE = "yaml-team-namespace"
TEAM_NAMESPACE = f"""resources:
  team:
    type: kubernetes:core/v1:Namespace
    properties:
      metadata:
        name: {NAMESPACE}
"""


def test_a_namespace_the_program_makes_is_deployed_into_and_left_to_the_program(
    engine: Engine, tmp_path: Path
) -> None:
    project = YamlProject.copy(engine, tmp_path, PASSWORD, stack="existing-namespace")
    program = project.directory / "Pulumi.yaml"
    text = program.read_text(encoding="utf-8")
    given = "        namespace: ${namespace}\n"
    assert given in text and "\nresources:\n" in text
    made_here = "        namespace: ${team.metadata.name}\n        createNamespace: false\n"
    text = text.replace(given, made_here)
    program.write_text(text.replace("\nresources:\n", "\n" + TEAM_NAMESPACE), encoding="utf-8")
    project.run("config", "set", "skipAwait", "true")  # no node here: no pod becomes ready
    try:
        project.run("up", "--yes", "--skip-preview")
        status, deployment = engine.cluster.get(
            f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/registry"
        )
        assert status == 200, deployment
        state = json.loads(project.run("stack", "export").stdout)["deployment"]["resources"]
        namespaces = [r["urn"] for r in state if r["type"] == "kubernetes:core/v1:Namespace"]
        assert [urn.split("::")[-1] for urn in namespaces] == ["team"]
    finally:
        project.run("destroy", "--yes", "--skip-preview", check=False)
