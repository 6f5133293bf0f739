"""A value from another resource through the component package: the YAML example
(docs/examples/yaml/Pulumi.yaml) with its namespace name read from a ConfigMap the same program
creates, deployed through the engine on the loopback API server. The engine hands Registry that
value as an Output (config/deferred.py), which the unit tests (tests/unit/test_output_values.py)
can only stand in for with mocks."""

from __future__ import annotations

from pathlib import Path

import pytest
from component_package import YamlProject
from engine import Engine

pytestmark = pytest.mark.e2e

PASSWORD = "yaml-output-e2e-throwaway-password"
NAMESPACE = "yaml-from-a-resource"
SOURCE = f"""resources:
  source:
    type: kubernetes:core/v1:ConfigMap
    properties:
      metadata:
        name: regstack-namespace-source
        namespace: default
      data:
        namespace: {NAMESPACE}
"""


def test_a_namespace_read_from_another_resource_is_the_one_the_registry_runs_in(
    engine: Engine, tmp_path: Path
) -> None:
    project = YamlProject.copy(engine, tmp_path, PASSWORD, stack="namespace-from-a-resource")
    program = project.directory / "Pulumi.yaml"
    text = program.read_text(encoding="utf-8")
    assert "        namespace: ${namespace}\n" in text and "\nresources:\n" in text
    text = text.replace(
        "        namespace: ${namespace}\n", "        namespace: ${source.data.namespace}\n"
    )
    program.write_text(text.replace("\nresources:\n", "\n" + SOURCE), encoding="utf-8")
    project.run("config", "set", "skipAwait", "true")  # no node here: no pod becomes ready
    try:
        project.run("up", "--yes", "--skip-preview")
        status, deployment = engine.cluster.get(
            f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/registry"
        )
        assert status == 200, deployment
        assert project.outputs()["in_cluster_endpoint"].startswith(f"registry.{NAMESPACE}.svc")
    finally:
        project.run("destroy", "--yes", "--skip-preview", check=False)
