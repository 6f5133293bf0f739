"""`registry.placement`: the registry and the pods that serve it run on the same chosen nodes."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError, load_config
from devkit.pulumi_mocks import Recorder, platform

STORAGE_NODES = {
    "node_selector": {"node-role.example.com/storage": "true"},
    "tolerations": [
        {"key": "dedicated", "value": "registry", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "toleration_seconds": 30},
    ],
}  # fmt: skip
EVERY_POD = {
    "registry": {"placement": STORAGE_NODES, "cache": {"redis": "deploy"}},
    "retention": {"enabled": True, "rules": [{"repositories": ["team/*"], "keep_last": 5}]},
}


def pod_specs(rec: Recorder) -> dict[str, dict[str, Any]]:
    """The pod spec of every workload regstack owns, by resource name."""

    def template(name: str) -> dict[str, Any]:
        spec = rec.named(name).inputs["spec"]
        if "jobTemplate" in spec:
            spec = spec["jobTemplate"]["spec"]
        return dict(spec["template"]["spec"])

    names = ["rs-registry-deployment", "rs-gc-cronjob", "rs-retention-cronjob",
             "rs-cache-deployment"]  # fmt: skip
    return {name: template(name) for name in names}


def test_every_pod_of_the_registry_runs_on_the_selected_nodes_and_tolerates_their_taints() -> None:
    for name, spec in pod_specs(platform(EVERY_POD)).items():
        assert spec["nodeSelector"] == {"node-role.example.com/storage": "true"}, name
        assert spec["tolerations"] == [
            {"key": "dedicated", "operator": "Equal", "value": "registry", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
             "effect": "NoExecute", "tolerationSeconds": 30},
        ], name  # fmt: skip


def test_without_placement_the_pods_carry_no_scheduling_fields() -> None:
    raw = {"registry": {"cache": {"redis": "deploy"}}, "retention": EVERY_POD["retention"]}
    for name, spec in pod_specs(platform(raw)).items():
        assert "nodeSelector" not in spec and "tolerations" not in spec, name


@pytest.mark.parametrize(
    ("raw", "path", "hint"),
    [
        ({"node_selector": {"Bad Key": "x"}}, "registry.placement.node_selector.Bad Key",
         "label key"),
        ({"node_selector": {"disk": "fast ssd"}}, "registry.placement.node_selector.disk",
         "label value"),
        ({"tolerations": [{"key": "gpu", "operator": "Exists", "value": "yes"}]},
         "registry.placement.tolerations[0].value", "remove the value"),
        ({"tolerations": [{"value": "registry"}]}, "registry.placement.tolerations[0].key",
         "needs the taint key"),
        ({"tolerations": [{"key": "gpu", "value": "a", "effect": "NoSchedule",
                           "toleration_seconds": 5}]},
         "registry.placement.tolerations[0].toleration_seconds", "NoExecute"),
        ({"tolerations": [{"key": "gpu", "effect": "NoRun"}]},
         "registry.placement.tolerations[0].effect", "NoSchedule"),
    ],
    ids=["label key", "label value", "exists with value", "equal without key",
         "seconds without NoExecute", "unknown effect"],
)  # fmt: skip
def test_a_bad_placement_is_refused_at_its_path(raw: dict[str, Any], path: str, hint: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config({"registry": {"placement": raw}})
    assert [p.path for p in error.value.problems] == [path]
    assert hint in str(error.value)


@pytest.mark.parametrize(
    ("backend", "extra"),
    [("microk8s-addon", {}),
     ("harbor", {"harbor": {"admin_password": "harbor-admin-pw", "secret_seed": "s" * 32}})],
)  # fmt: skip
def test_placement_is_refused_where_regstack_does_not_run_the_pods(
    backend: str, extra: dict[str, Any]
) -> None:
    raw = {"backend": backend, "registry": {"placement": STORAGE_NODES}, **extra}
    with pytest.raises(ConfigError) as error:
        load_config(raw)
    assert "registry.placement" in [p.path for p in error.value.problems]
