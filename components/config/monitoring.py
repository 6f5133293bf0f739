"""`regstack:monitoring`: scrape settings, alert thresholds and the runbook."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from .registry import LabelKey, LabelValue
from .types import DnsLabel, HttpUrl, Section

_PROM_DURATION = re.compile(
    r"(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?"
)


_PROM_UNIT_SECONDS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)


def prometheus_duration_seconds(text: str) -> float:
    """Seconds in a Prometheus duration such as `8d` or `1h30m` (whole numbers, units in order)."""
    match = _PROM_DURATION.fullmatch(text) if text.isascii() and len(text) <= 64 else None
    if not text or not match:
        raise ValueError(
            f"{text!r} is not a Prometheus duration; use whole numbers with units y, w, d, h, m, "
            "s, ms from largest to smallest, e.g. 5m, 4h, 8d or 1h30m"
        )
    parts = zip(match.groups(), _PROM_UNIT_SECONDS, strict=True)
    seconds = sum(int(number) * unit for number, unit in parts if number)
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return seconds


def _check_prometheus_duration(text: str) -> str:
    prometheus_duration_seconds(text)
    return text


# Prometheus, not Go, durations: rule files reject `1.5h` but accept `8d`.
PromDuration = Annotated[str, AfterValidator(_check_prometheus_duration)]


class AlertsConfig(Section):
    """Alert thresholds and how long a condition must hold (`for:`) before an alert fires."""

    storage_free_ratio: float = Field(
        0.10, gt=0, lt=1, description="RegistryStorageAlmostFull below this free fraction."
    )
    storage_filling_horizon: PromDuration = Field(
        "4h", description="RegistryStorageFillingFast if the volume is predicted full within this."
    )
    storage_filling_window: PromDuration = Field(
        "6h", description="How much history the storage fill prediction (predict_linear) uses."
    )
    error_ratio_5xx: float = Field(
        0.05, gt=0, lt=1, description="RegistryHigh5xxRatio above this fraction of 5xx answers."
    )
    latency_p99_seconds: float = Field(
        2.0, gt=0, description="RegistryHighLatencyP99 above this p99 (blob transfers excluded)."
    )
    certificate_expiry_days: float = Field(
        14.0,
        gt=0,
        description="RegistryCertificateExpiringSoon within this many days; keep it below "
        "tls.renew_before so a healthy renewal never fires it.",
    )
    gc_stale_after: PromDuration = Field(
        "8d", description="RegistryGarbageCollectionNotSucceededRecently after this (weekly + 1d)."
    )
    retention_stale_after: PromDuration = Field(
        "8d", description="RegistryRetentionNotSucceededRecently after this (weekly + 1d)."
    )
    down_for: PromDuration = Field("5m", description="`for:` of RegistryDown and target missing.")
    storage_for: PromDuration = Field("15m", description="`for:` of the storage alerts.")
    http_for: PromDuration = Field("10m", description="`for:` of the 5xx and latency alerts.")
    jobs_for: PromDuration = Field("5m", description="`for:` of the GC and retention alerts.")
    certificate_for: PromDuration = Field("1h", description="`for:` of the certificate alert.")


class MonitoringConfig(Section):
    """Prometheus Operator objects (ServiceMonitor, PrometheusRule) and a Grafana dashboard."""

    enabled: bool = Field(False, description="Create ServiceMonitor, PrometheusRule, dashboard.")
    namespace: DnsLabel = Field(
        "monitoring", description="Namespace of the dashboard ConfigMap (Grafana's sidecar)."
    )
    release_label: dict[LabelKey, LabelValue] = Field(
        default_factory=lambda: {"release": "kube-prometheus-stack"},
        description="Labels the Prometheus Operator selects ServiceMonitors and rules by "
        "(kube-prometheus-stack: `release: <helm release name>`).",
    )
    interval: PromDuration = Field("30s", description="Scrape interval of the registry metrics.")
    prometheus_namespace: DnsLabel | None = Field(
        None,
        description="Namespace of the Prometheus that scrapes the registry; `monitoring.namespace` "
        "when unset. Only its pods reach the registry's debug port (metrics, pprof, expvar).",
    )
    prometheus_pod_labels: dict[LabelKey, LabelValue] = Field(
        default_factory=lambda: {"app.kubernetes.io/name": "prometheus"},
        description="Labels of those Prometheus pods (kube-prometheus-stack's by default); `{}` "
        "admits every pod of that namespace.",
    )
    runbook_url: HttpUrl | None = Field(
        None,
        description="Where your copy of docs/runbook.md is served; each alert then links to "
        "`<runbook_url>#<alertname lowercase>`. Unset: no link, rather than one to nowhere.",
    )
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)

    @property
    def scraper_namespace(self) -> str:
        """Where the Prometheus allowed on the debug port runs."""
        return self.prometheus_namespace or self.namespace
