"""RegistryMonitoring under Pulumi mocks: what it registers, where, with which labels."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from components import kube
from components.alert_rules import AlertSettings, alert_rules
from components.config import MonitoringConfig, RegistryConfig, load_config
from components.distribution import DistributionRegistry, DistributionRegistryArgs
from components.monitoring import RegistryMonitoring, RegistryMonitoringArgs
from components.platform import RegistryPlatform
from devkit.pulumi_mocks import evaluate
from tests.monitoring.rule_cases import EVERYTHING

MONITORING = MonitoringConfig(enabled=True, namespace="observability",
                              release_label={"release": "kube-prom-stack"})  # fmt: skip


@dataclass(frozen=True)
class Registered:
    type: str
    inputs: dict[str, Any]
    parent_type: str


def register(build: Callable[[], object]) -> dict[str, Registered]:
    """Run `build` under the mocks; every resource it registered, by Pulumi name."""
    rec = evaluate(build)
    return {r.name: Registered(r.type, r.inputs, rec.parent_type(r.name)) for r in rec.resources}


def monitoring(settings: AlertSettings = EVERYTHING) -> dict[str, Registered]:
    return register(lambda: RegistryMonitoring(
        "mon", RegistryMonitoringArgs("container-registry", MONITORING, settings)))  # fmt: skip


def test_it_registers_a_service_monitor_a_prometheus_rule_and_a_dashboard_config_map() -> None:
    kinds = {name: r.type for name, r in monitoring().items() if name.startswith("mon-")}
    assert kinds == {
        "mon-servicemonitor": "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
        "mon-rules": "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
        "mon-dashboard": "kubernetes:core/v1:ConfigMap",
        # The retention Job's pods serve their run's metrics (EVERYTHING has retention).
        "mon-retention-podmonitor": "kubernetes:monitoring.coreos.com/v1:PodMonitor",
    }


def test_every_child_is_parented_to_the_component() -> None:
    children = [r for name, r in monitoring().items() if name.startswith("mon-")]
    assert {r.parent_type for r in children} == {"regstack:index:RegistryMonitoring"}


def test_monitor_and_rule_live_in_the_registry_namespace_with_the_release_label() -> None:
    registered = monitoring()
    for name in ("mon-servicemonitor", "mon-rules"):
        metadata = registered[name].inputs["metadata"]
        assert metadata["namespace"] == "container-registry"
        assert metadata["labels"]["release"] == "kube-prom-stack"


def test_the_prometheus_rule_carries_exactly_the_alert_rules() -> None:
    assert monitoring()["mon-rules"].inputs["spec"] == alert_rules(EVERYTHING)


def test_the_dashboard_config_map_is_labelled_for_grafana_in_the_monitoring_namespace() -> None:
    dashboard = monitoring()["mon-dashboard"].inputs
    assert dashboard["metadata"]["namespace"] == "observability"
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    (document,) = dashboard["data"].values()
    assert json.loads(document)["uid"] == "regstack-registry"


KEY = "k" * 64  # a stack key (components/stack_key.py)


def test_the_service_monitor_selects_only_the_registrys_metrics_service_and_port() -> None:
    def build() -> None:
        DistributionRegistry(
            "reg", DistributionRegistryArgs("container-registry", RegistryConfig(), KEY)
        )
        RegistryMonitoring("mon", RegistryMonitoringArgs("container-registry", MONITORING,
                                                         EVERYTHING))  # fmt: skip

    registered = register(build)
    spec = registered["mon-servicemonitor"].inputs["spec"]
    wanted = spec["selector"]["matchLabels"].items()
    services = {
        r.inputs["metadata"]["name"]: r.inputs for r in registered.values()
        if r.type == "kubernetes:core/v1:Service"
    }  # fmt: skip
    selected = [n for n, s in services.items() if wanted <= s["metadata"]["labels"].items()]
    assert selected == ["registry-metrics"]
    ports = {port["name"] for port in services["registry-metrics"]["spec"]["ports"]}
    assert [endpoint["port"] for endpoint in spec["endpoints"]] == ["metrics"]
    assert "metrics" in ports


def test_the_alerts_name_the_metrics_service_and_volume_the_registry_creates() -> None:
    registered = register(lambda: DistributionRegistry(
        "reg", DistributionRegistryArgs("container-registry", RegistryConfig(), KEY)))  # fmt: skip
    assert registered["reg-metrics"].inputs["metadata"]["name"] == kube.METRICS_SERVICE
    assert registered["reg-data"].inputs["metadata"]["name"] == kube.DATA_CLAIM


@pytest.mark.parametrize("enabled", [True, False])
def test_the_platform_adds_monitoring_only_when_enabled(enabled: bool) -> None:
    cfg = load_config({"monitoring": {"enabled": enabled}})
    registered = register(lambda: RegistryPlatform("regstack", cfg))
    assert ("regstack-monitoring" in registered) is enabled
