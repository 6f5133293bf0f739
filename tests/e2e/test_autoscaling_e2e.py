"""An autoscaled registry on a real API server: the autoscaler's pod count outlives `pulumi up`.

The test cluster runs no autoscaler controller, so the test writes the scale subresource as the
HorizontalPodAutoscaler controller does; then a config change rolls the registry pods, which
must keep the count the autoscaler chose.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from engine import Engine
from regstack_project import RegstackProject

pytestmark = pytest.mark.e2e

NAMESPACE = "scaled-registry"
DEPLOYMENT = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/registry"
AUTOSCALER = f"/apis/autoscaling/v2/namespaces/{NAMESPACE}/horizontalpodautoscalers/registry"


@pytest.fixture(scope="module")
def scaled(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegstackProject]:
    project = RegstackProject.dev_variant(engine, tmp_path_factory.mktemp("hpa"), "hpa",
                                         NAMESPACE, "e2e-hpa-password-91c3")  # fmt: skip
    project.set_secret("regstack:registry.http_secret", "e2e-hpa-shared-http-secret")
    project.set_path("regstack:registry.storage.access_mode", "ReadWriteMany")
    project.set_path("regstack:registry.autoscaling.enabled", "true")
    project.set_path("regstack:registry.autoscaling.max_replicas", "4")
    project.up()
    yield project
    project.destroy(check=False)
    project.remove()


def test_the_api_server_keeps_an_autoscaler_for_the_registry_deployment(
    scaled: RegstackProject,
) -> None:
    spec = scaled.engine.cluster.get(AUTOSCALER)[1]["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                      "name": "registry"}  # fmt: skip
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 4)


def test_a_config_change_keeps_the_pod_count_the_autoscaler_chose(
    scaled: RegstackProject,
) -> None:
    cluster = scaled.engine.cluster
    cluster.patch(f"{DEPLOYMENT}/scale", {"spec": {"replicas": 3}}, "horizontal-pod-autoscaler")
    scaled.set_path("regstack:registry.resources.memory_limit", "768Mi")
    assert scaled.preview_steps() == [
        ("update", "kubernetes:apps/v1:Deployment::regstack-registry-deployment")
    ]
    scaled.up()
    deployment = cluster.get(DEPLOYMENT)[1]
    assert (
        deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
        == "768Mi"
    )
    assert deployment["spec"]["replicas"] == 3


def test_a_second_run_changes_nothing(scaled: RegstackProject) -> None:
    assert scaled.preview_steps() == []
