"""The registry's debug port (5001: /metrics, but also pprof, expvar and the full command line)
admits Prometheus only: its pods, in its namespace, as monitoring configures them (issue 14)."""

from __future__ import annotations

from typing import Any

from components.distribution_config import HTTP_PORT, METRICS_PORT
from devkit.pulumi_mocks import platform


def debug_port_peers(raw: dict[str, Any]) -> list[dict[str, Any]]:
    rules = platform(raw).named("rs-registry-network-policy").inputs["spec"]["ingress"]
    [rule] = [r for r in rules if r["ports"] == [{"protocol": "TCP", "port": METRICS_PORT}]]
    return list(rule["from"])


def test_by_default_only_prometheus_pods_in_the_monitoring_namespace_reach_the_debug_port() -> None:
    assert debug_port_peers({}) == [{
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    }]  # fmt: skip


def test_the_debug_port_follows_the_configured_prometheus() -> None:
    monitoring = {"namespace": "observability",
                  "prometheus_pod_labels": {"prometheus": "kube-prom-stack-prometheus"}}  # fmt: skip
    assert debug_port_peers({"monitoring": monitoring}) == [{
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}},
        "podSelector": {"matchLabels": {"prometheus": "kube-prom-stack-prometheus"}},
    }]  # fmt: skip


def test_prometheus_may_run_apart_from_the_dashboards() -> None:
    monitoring = {"namespace": "grafana", "prometheus_namespace": "metrics"}
    [peer] = debug_port_peers({"monitoring": monitoring})
    assert peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "metrics"}}


def test_no_rule_opens_the_debug_port_to_every_namespace() -> None:
    rules = (
        platform({"registry": {"service": {"type": "ClusterIP"}}})
        .named("rs-registry-network-policy")
        .inputs["spec"]["ingress"]
    )
    for rule in rules:
        opens_debug = {"protocol": "TCP", "port": METRICS_PORT} in rule["ports"]
        assert not (opens_debug and {"namespaceSelector": {}} in rule["from"])
    assert [r["ports"][0]["port"] for r in rules] == [HTTP_PORT, METRICS_PORT]
