"""The component package's example programs on the real node, each as written (docs/examples:
the YAML one, the TypeScript one): the registry it deploys through regstack's component package
serves a push and a pull, through the node port, with the TLS of its lab CA and the password the
program took as a stack secret."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lab import NAMESPACE, PASSWORD, Lab, node_engine, node_images
from node import NodeCluster

# isort: split
# In tests/e2e, on the path once lab is imported.
from component_package import YamlProject
from typescript_program import TypeScriptProject

PROJECTS = {"yaml": YamlProject, "typescript": TypeScriptProject}


# One program at a time: pytest tears a module fixture's instance down before it makes the next
# one, and both deploy to the addon's namespace and port 32000.
@pytest.fixture(scope="module", params=PROJECTS)
def lab(
    request: pytest.FixtureRequest,
    node_cluster: NodeCluster,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp(f"{request.param}-on-node")
    # As written: Pulumi waits for the registry pod, in the addon's namespace, on port 32000.
    project = PROJECTS[request.param].copy(node_engine(node_cluster, tmp), tmp, PASSWORD)
    project.run("up", "--yes", "--skip-preview")
    try:
        # Lab reads the CA Secret the program exports as ca_secret_name, as from the dev stack.
        yield Lab.open(node_cluster, project, tmp)  # type: ignore[arg-type]
    finally:
        project.run("destroy", "--yes", "--skip-preview", check=False)
        # regstack never deletes the namespace it made: the next program's stack makes it again.
        project.engine.cluster.delete_namespace(NAMESPACE)


def test_the_deployed_registry_is_ready_behind_tls_and_its_login(lab: Lab) -> None:
    assert lab.registry_ready()
    assert (lab.get("/v2/", auth=False), lab.get("/v2/")) == (401, 200)


def test_an_image_pushed_to_the_deployed_registry_is_pulled_back_whole(lab: Lab) -> None:
    pushed = lab.push("example/busybox:1.35.0", node_images(lab.node)["busybox"])
    assert lab.pull("example/busybox:1.35.0", "pulled") == pushed
