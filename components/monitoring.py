"""RegistryMonitoring: Prometheus Operator scrape config and alerts, and a Grafana dashboard.

Needs the Prometheus Operator's CRDs (kube-prometheus-stack, MicroK8s `observability`) and,
for the dashboard, Grafana's dashboard sidecar watching the dashboard namespace.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import pulumi
import pulumi_kubernetes as k8s

from . import kube
from .alert_rules import AlertSettings, alert_rules
from .config import MonitoringConfig
from .dashboard import registry_dashboard
from .outputs import input_of, known_after

MONITORING_API = "monitoring.coreos.com/v1"
# The metrics Service's own labels (DistributionRegistry): the client-facing Service shares
# the app labels but not the component, so only the metrics Service is selected.
METRICS_SERVICE_LABELS = {
    "app.kubernetes.io/name": kube.REGISTRY,
    "app.kubernetes.io/component": "metrics",
}
# kube-prometheus-stack's Grafana sidecar imports ConfigMaps carrying this label.
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
DASHBOARD_FILE = "regstack-registry.json"

T = TypeVar("T")


def in_namespace(alerts: AlertSettings, render: Callable[[AlertSettings], T]) -> pulumi.Input[T]:
    """`render(alerts)`; rendered once the namespace resolves when it was given as an Output
    (the queries name it), else at once, as before."""
    namespace = input_of(alerts.namespace)
    if not isinstance(namespace, pulumi.Output):
        return render(alerts)
    return namespace.apply(lambda name: render(replace(alerts, namespace=name)))


@dataclass(frozen=True)
class RegistryMonitoringArgs:
    namespace: pulumi.Input[str]
    """The registry's namespace: the ServiceMonitor and PrometheusRule live next to it."""
    monitoring: MonitoringConfig
    alerts: AlertSettings


class RegistryMonitoring(pulumi.ComponentResource):
    """ServiceMonitor and PrometheusRule for the registry; dashboard ConfigMap for Grafana."""

    service_monitor_name: pulumi.Output[str]
    prometheus_rule_name: pulumi.Output[str]
    dashboard_config_map_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: RegistryMonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("regstack:index:RegistryMonitoring", name, None, opts)
        self._name, self._namespace = name, args.namespace
        child = pulumi.ResourceOptions(parent=self)
        monitoring = args.monitoring
        # The release label is how the Prometheus Operator picks up monitors and rules.
        self._labels = {**kube.app_labels(kube.REGISTRY), **monitoring.release_label}

        service_monitor = self._custom(
            "servicemonitor",
            "ServiceMonitor",
            {
                "selector": {"matchLabels": METRICS_SERVICE_LABELS},
                # Distribution's debug listener speaks plain HTTP even when the API uses TLS.
                "endpoints": [
                    {
                        "port": "metrics",
                        "path": "/metrics",
                        "scheme": "http",
                        "interval": monitoring.interval,
                    }
                ],
            },
            child,
        )
        rules = in_namespace(args.alerts, alert_rules)
        rule = self._custom("rules", "PrometheusRule", rules, child)
        if args.alerts.retention:
            # Each retention Job's pod serves its run's metrics for a few scrapes (RetentionJob).
            selector = {"app.kubernetes.io/name": kube.RETENTION}
            self._custom(
                "retention-podmonitor",
                "PodMonitor",
                {
                    "selector": {"matchLabels": selector},
                    "podMetricsEndpoints": [
                        {"port": "metrics", "path": "/metrics", "interval": monitoring.interval}
                    ],
                },
                child,
                object_name=kube.RETENTION,
            )
        dashboard = k8s.core.v1.ConfigMap(
            f"{name}-dashboard",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"regstack-{kube.REGISTRY}-dashboard",
                namespace=monitoring.namespace,
                labels={**kube.MANAGED_BY, **DASHBOARD_LABEL},
            ),
            data={
                DASHBOARD_FILE: in_namespace(
                    args.alerts, lambda alerts: json.dumps(registry_dashboard(alerts), indent=1)
                )
            },
            opts=child,
        )

        self.service_monitor_name = known_after(service_monitor, kube.REGISTRY)
        self.prometheus_rule_name = known_after(rule, kube.REGISTRY)
        self.dashboard_config_map_name = dashboard.metadata.name
        self.register_outputs(
            {
                "service_monitor_name": self.service_monitor_name,
                "prometheus_rule_name": self.prometheus_rule_name,
                "dashboard_config_map_name": self.dashboard_config_map_name,
            }
        )

    def _custom(
        self,
        role: str,
        kind: str,
        spec: pulumi.Input[dict[str, Any]],
        opts: pulumi.ResourceOptions,
        object_name: str = kube.REGISTRY,
    ) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            f"{self._name}-{role}",
            api_version=MONITORING_API,
            kind=kind,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=object_name, namespace=self._namespace, labels=self._labels
            ),
            spec=spec,
            opts=opts,
        )
