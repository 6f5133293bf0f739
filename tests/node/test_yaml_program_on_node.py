"""The YAML example (docs/examples/yaml/Pulumi.yaml) on the real node: the registry a Pulumi YAML
program deploys through regstack's component package serves a push and a pull, through the
node port, with the TLS of its lab CA and the password the program took as a stack secret."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lab import NAMESPACE, PASSWORD, Lab, node_engine, node_images
from node import NodeCluster

# isort: split
from component_package import YamlProject  # in tests/e2e, on the path once lab is imported


@pytest.fixture(scope="module")
def lab(node_cluster: NodeCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp("yaml-on-node")
    # As written: Pulumi waits for the registry pod, in the addon's namespace, on port 32000.
    project = YamlProject.copy(node_engine(node_cluster, tmp), tmp, PASSWORD)
    project.run("up", "--yes", "--skip-preview")
    try:
        # Lab reads the CA Secret the program exports as ca_secret_name, as from the dev stack.
        yield Lab.open(node_cluster, project, tmp)  # type: ignore[arg-type]
    finally:
        project.run("destroy", "--yes", "--skip-preview", check=False)
        # regstack never deletes the namespace it made: the next module's stack makes it again.
        project.engine.cluster.delete_namespace(NAMESPACE)


def test_the_yaml_deployed_registry_is_ready_behind_tls_and_its_login(lab: Lab) -> None:
    assert lab.registry_ready()
    assert (lab.get("/v2/", auth=False), lab.get("/v2/")) == (401, 200)


def test_an_image_pushed_to_the_yaml_deployed_registry_is_pulled_back_whole(lab: Lab) -> None:
    pushed = lab.push("yaml/busybox:1.35.0", node_images(lab.node)["busybox"])
    assert lab.pull("yaml/busybox:1.35.0", "pulled") == pushed
