"""`registry.autoscaling`: a HorizontalPodAutoscaler owns the number of registry pods."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError, load_config
from devkit.pulumi_mocks import platform, unwrap

BUCKET = {"bucket": "registry-blobs", "endpoint": "https://s3.lab.example:9000",
          "access_key": "AKIDREGSTACKTEST", "secret_key": "s3-secret-key-for-tests"}  # fmt: skip
AUTOSCALED = {"registry": {"storage": {"type": "s3", "s3": BUCKET},
                           "autoscaling": {"enabled": True, "min_replicas": 2, "max_replicas": 6,
                                           "target_cpu_percent": 60}}}  # fmt: skip


def refused(raw: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as error:
        load_config(raw)
    return error.value


def test_the_autoscaler_scales_the_registry_deployment_on_cpu() -> None:
    spec = platform(AUTOSCALED).named("rs-registry-autoscaler").inputs["spec"]
    assert spec == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "registry"},
        "minReplicas": 2,
        "maxReplicas": 6,
        "metrics": [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}],
    }  # fmt: skip


def test_the_deployment_leaves_the_pod_count_to_the_autoscaler() -> None:
    spec = platform(AUTOSCALED).named("rs-registry-deployment").inputs["spec"]
    assert "replicas" not in spec


def test_autoscaled_pods_are_spread_and_kept_by_a_disruption_budget() -> None:
    rec = platform(AUTOSCALED)
    assert rec.named("rs-registry-pdb").inputs["spec"]["minAvailable"] == 1
    assert (
        "podAntiAffinity"
        in rec.named("rs-registry-deployment").inputs["spec"]["template"]["spec"]["affinity"]
    )


def test_without_autoscaling_there_is_no_autoscaler_and_the_count_is_fixed() -> None:
    rec = platform({})
    assert rec.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler") == []
    assert rec.named("rs-registry-deployment").inputs["spec"]["replicas"] == 1


def test_autoscaling_on_a_read_write_once_volume_is_refused_at_the_maximum() -> None:
    error = refused({"registry": {"autoscaling": {"enabled": True}}})
    assert [p.path for p in error.problems] == ["registry.autoscaling.max_replicas"]
    assert "up to 5 replicas cannot share a ReadWriteOnce volume" in str(error)


def test_autoscaled_pods_on_a_shared_volume_share_an_http_secret_without_one_configured() -> None:
    raw = {"registry": {"storage": {"access_mode": "ReadWriteMany"},
                        "autoscaling": {"enabled": True}}}  # fmt: skip
    env = platform(raw).named("rs-registry-env").inputs["stringData"]
    assert "REGISTRY_HTTP_SECRET" in unwrap(env)


def test_a_fixed_replica_count_beside_the_autoscaler_is_refused() -> None:
    raw = {"registry": {**AUTOSCALED["registry"], "replicas": 3}}
    error = refused(raw)
    assert [p.path for p in error.problems] == ["registry.replicas"]
    assert "autoscaling.min_replicas" in str(error)


def test_a_minimum_above_the_maximum_is_refused() -> None:
    raw = {"registry": {**AUTOSCALED["registry"],
                        "autoscaling": {"enabled": True, "min_replicas": 4, "max_replicas": 3}}}  # fmt: skip
    assert [p.path for p in refused(raw).problems] == ["registry.autoscaling.min_replicas"]


@pytest.mark.parametrize(
    ("backend", "extra"),
    [("microk8s-addon", {}),
     ("harbor", {"harbor": {"admin_password": "harbor-admin-pw", "secret_seed": "s" * 32}})],
)  # fmt: skip
def test_autoscaling_is_refused_where_regstack_does_not_run_the_registry_pods(
    backend: str, extra: dict[str, Any]
) -> None:
    raw = {"backend": backend, "registry": {"autoscaling": {"enabled": True}}, **extra}
    assert "registry.autoscaling.enabled" in [p.path for p in refused(raw).problems]
