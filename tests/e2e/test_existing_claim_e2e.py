"""Taking over the MicroK8s addon's images: the dev stack on the addon's namespace and claim.

The namespace, `registry-claim` and kube-public's `local-registry-hosting` are made outside the
stack, as `microk8s enable registry` makes them (the claim ReadWriteMany, 20Gi). The stack must use
the namespace as it is (never create, label or delete it), mount the claim without managing it, change nothing on a second run, and leave both behind on destroy: the images in
that claim were only lent to regstack.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml
from engine import Engine
from regstack_project import RegstackProject

pytestmark = pytest.mark.e2e

NAMESPACE = "lab-registry"
NAMESPACE_PATH = f"/api/v1/namespaces/{NAMESPACE}"
CLAIMS = f"{NAMESPACE_PATH}/persistentvolumeclaims"
ADDON_CLAIM = {
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {"name": "registry-claim", "namespace": NAMESPACE},
    "spec": {"accessModes": ["ReadWriteMany"], "volumeMode": "Filesystem",
             "resources": {"requests": {"storage": "20Gi"}}},
}  # fmt: skip
HOSTING = "/api/v1/namespaces/kube-public/configmaps/local-registry-hosting"
# What the addon's registry-help manifest leaves in kube-public.
ADDON_HOSTING = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "local-registry-hosting", "namespace": "kube-public"},
    "data": {"localRegistryHosting.v1": 'host: "localhost:32000"\n'
                                        'help: "https://microk8s.io/docs/registry-built-in"\n'},
}  # fmt: skip


@pytest.fixture(scope="module")
def lab(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegstackProject]:
    engine.cluster.create_namespace(NAMESPACE)
    engine.cluster.create(CLAIMS, ADDON_CLAIM)
    engine.cluster.create("/api/v1/namespaces/kube-public/configmaps", ADDON_HOSTING)
    project = RegstackProject.dev_variant(engine, tmp_path_factory.mktemp("lab"), "lab",
                                         NAMESPACE, "e2e-lab-password-7d21")  # fmt: skip
    # The claim keeps its own size: regstack refuses one next to it.
    project.run("config", "rm", "--path", "regstack:registry.storage.size")
    project.set_path("regstack:registry.storage.existing_claim", "registry-claim")
    project.set_path("regstack:registry.storage.access_mode", "ReadWriteMany")
    project.up()
    yield project
    project.destroy(check=False)
    project.remove()


def test_the_registry_and_its_garbage_collection_mount_the_addon_claim(
    lab: RegstackProject,
) -> None:
    cluster = lab.engine.cluster
    deployment = cluster.get(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/registry")[1]
    cronjob = cluster.get(f"/apis/batch/v1/namespaces/{NAMESPACE}/cronjobs/registry-gc")[1]
    for pod in (deployment["spec"]["template"], cronjob["spec"]["jobTemplate"]["spec"]["template"]):
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "registry-claim"}


def test_the_stack_creates_no_claim_of_its_own(lab: RegstackProject) -> None:
    names = [c["metadata"]["name"] for c in lab.engine.cluster.get(CLAIMS)[1]["items"]]
    assert names == ["registry-claim"]
    assert "PersistentVolumeClaim" not in lab.export()


def test_the_addon_s_local_registry_hosting_now_describes_regstack(lab: RegstackProject) -> None:
    document = yaml.safe_load(lab.engine.cluster.get(HOSTING)[1]["data"]["localRegistryHosting.v1"])
    assert document == {
        "host": "registry.lab.local:32000",  # the dev stack's first host name at its node port
        "hostFromContainerRuntime": "registry.lab.local:32000",
        "hostFromClusterNetwork": f"registry.{NAMESPACE}.svc.cluster.local:5000",
    }


def test_a_second_run_changes_nothing(lab: RegstackProject) -> None:
    assert lab.preview_steps() == []


def test_destroy_leaves_the_claim_and_its_namespace(lab: RegstackProject) -> None:
    lab.destroy()
    cluster = lab.engine.cluster
    assert cluster.get(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/registry")[0] == 404
    assert cluster.get(f"{CLAIMS}/registry-claim")[0] == 200
    namespace = cluster.get(NAMESPACE_PATH)[1]
    assert namespace["status"]["phase"] == "Active"
