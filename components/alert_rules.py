"""Prometheus alerting rules for a Distribution registry, as plain data.

The PrometheusRule in the cluster and the rule file `scripts/render_rules.py` writes come from
`alert_rules`, so `promtool` checks and unit-tests exactly what gets deployed. Annotations are
plain text with the thresholds written in, never `{{ $value }}` templates: the dashboard shows
current values, and promtool tests can then compare annotations exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import kube
from .config import AlertsConfig, RegstackConfig, prometheus_duration_seconds

RATE_WINDOW = "5m"
# Blob downloads and upload chunks move whole layers: their duration measures layer size and
# client bandwidth, not registry health, so the latency alert leaves them out.
TRANSFER_HANDLERS = "blob|blob_upload_chunk"
SECONDS_PER_DAY = 86400


@dataclass(frozen=True)
class AlertSettings:
    """What the rules watch: the registry's namespace, thresholds, and which parts exist."""

    namespace: str
    thresholds: AlertsConfig
    runbook_url: str | None
    """Where the runbook is served; None: the alerts carry no runbook link."""
    claim: str | None
    """The claim holding the blobs, whose volume statistics the storage alerts watch; None when
    they are in a bucket, which kubelet does not measure."""
    gc: bool = True
    retention: bool = True
    certificate: bool = True

    @classmethod
    def from_config(cls, cfg: RegstackConfig) -> AlertSettings:
        return cls(
            namespace=cfg.registry.namespace,
            thresholds=cfg.monitoring.alerts,
            runbook_url=cfg.monitoring.runbook_url,
            claim=kube.data_claim(cfg.registry.storage),
            gc=cfg.gc.enabled,
            retention=cfg.retention.enabled,
            certificate=cfg.tls.mode != "none",
        )


def number(value: float) -> str:
    """A PromQL number literal, exact (no `:g` rounding) and without a needless `.0`."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def job_selector(settings: AlertSettings, cronjob: str) -> str:
    """Jobs of a CronJob (`<cronjob>-<minutes>`) and manual runs created from it."""
    return f'namespace="{settings.namespace}", job_name=~"{cronjob}-.+"'


def registry_selector(settings: AlertSettings) -> str:
    return f'job="{kube.METRICS_SERVICE}", namespace="{settings.namespace}"'


def claim_selector(namespace: str, claim: str) -> str:
    return f'namespace="{namespace}", persistentvolumeclaim="{claim}"'


def _alert(
    settings: AlertSettings,
    name: str,
    expr: str,
    hold: str,
    severity: str,
    summary: str,
    description: str,
) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": hold,
        "labels": {"severity": severity},
        "annotations": {
            "summary": summary,
            "description": description,
            **(
                {"runbook_url": f"{settings.runbook_url}#{name.lower()}"}
                if settings.runbook_url
                else {}
            ),
        },
    }


def _availability(settings: AlertSettings) -> list[dict[str, Any]]:
    t, up = settings.thresholds, f"up{{{registry_selector(settings)}}}"
    where = f"in namespace {settings.namespace}"
    return [
        _alert(
            settings,
            "RegistryDown",
            f"{up} == 0",
            t.down_for,
            "critical",
            "The registry does not answer metrics scrapes",
            f"Prometheus cannot scrape a registry pod {where}; pushes and pulls through "
            "it are likely failing too.",
        ),
        _alert(
            settings,
            "RegistryMetricsTargetMissing",
            f"absent({up})",
            t.down_for,
            "warning",
            "Prometheus has no registry target",
            f"No scrape target for job {kube.METRICS_SERVICE} {where}: the registry has no running "
            "pod, or Prometheus does not select its ServiceMonitor.",
        ),
    ]


def _storage(settings: AlertSettings, claim_name: str) -> list[dict[str, Any]]:
    t, claim = settings.thresholds, claim_selector(settings.namespace, claim_name)
    available = f"kubelet_volume_stats_available_bytes{{{claim}}}"
    horizon = prometheus_duration_seconds(t.storage_filling_horizon)
    volume = f"The registry volume {claim_name} in namespace {settings.namespace}"
    return [
        _alert(
            settings,
            "RegistryStorageAlmostFull",
            f"{available} / kubelet_volume_stats_capacity_bytes{{{claim}}}"
            f" < {number(t.storage_free_ratio)}",
            t.storage_for,
            "critical",
            "Registry storage is almost full",
            f"{volume} has less than {t.storage_free_ratio * 100:g}% free space; pushes fail "
            "once it is full.",
        ),
        _alert(
            settings,
            "RegistryStorageFillingFast",
            f"predict_linear({available}[{t.storage_filling_window}], {number(horizon)}) < 0",
            t.storage_for,
            "warning",
            "Registry storage is filling fast",
            f"At the rate of the last {t.storage_filling_window}, {volume} will be full within "
            f"{t.storage_filling_horizon}.",
        ),
    ]


def _http(settings: AlertSettings) -> list[dict[str, Any]]:
    t, registry = settings.thresholds, registry_selector(settings)
    requests = "registry_http_requests_total"
    buckets = "registry_http_request_duration_seconds_bucket"
    where = f"in namespace {settings.namespace}"
    return [
        _alert(
            settings,
            "RegistryHigh5xxRatio",
            f'sum by (namespace) (rate({requests}{{{registry}, code=~"5.."}}[{RATE_WINDOW}]))'
            f" / sum by (namespace) (rate({requests}{{{registry}}}[{RATE_WINDOW}]))"
            f" > {number(t.error_ratio_5xx)}",
            t.http_for,
            "critical",
            "The registry answers many requests with 5xx",
            f"More than {t.error_ratio_5xx * 100:g}% of registry requests {where} failed "
            "with a server error.",
        ),
        _alert(
            settings,
            "RegistryHighLatencyP99",
            f"histogram_quantile(0.99, sum by (namespace, le) (rate({buckets}"
            f'{{{registry}, handler!~"{TRANSFER_HANDLERS}"}}[{RATE_WINDOW}])))'
            f" > {number(t.latency_p99_seconds)}",
            t.http_for,
            "warning",
            "Registry requests are slow",
            f"The 99th percentile of registry request time {where} is above "
            f"{t.latency_p99_seconds:g}s (blob downloads and upload chunks excluded).",
        ),
    ]


def _job(
    settings: AlertSettings, cronjob: str, alert: str, task: str, stale_after: str
) -> list[dict[str, Any]]:
    """Failed and stale alerts for one maintenance CronJob, from kube-state-metrics."""
    t, jobs = settings.thresholds, job_selector(settings, cronjob)

    def newest_start(condition: str) -> str:
        return (
            f"max by (namespace) (kube_job_status_start_time{{{jobs}}} and on (namespace, "
            f'job_name) (kube_job_{condition}{{{jobs}, condition="true"}} == 1))'
        )

    failed, complete = newest_start("failed"), newest_start("complete")
    # A failed Job stays listed (failedJobsHistoryLimit), so "any failed job" would fire until
    # someone deletes it; only a failure newer than the newest success counts.
    failed_expr = f"{failed} unless on (namespace) ({complete} >= {failed})"
    # Only successful Jobs get a completion time; a CronJob that never succeeded counts from
    # its creation, so a fresh install is not stale at once.
    stale_expr = (
        f"time() - max by (namespace) (kube_job_status_completion_time{{{jobs}}}"
        f' or kube_cronjob_created{{namespace="{settings.namespace}", cronjob="{cronjob}"}})'
        f" > {number(prometheus_duration_seconds(stale_after))}"
    )
    where = f"CronJob {cronjob} in namespace {settings.namespace}"
    return [
        _alert(
            settings,
            f"{alert}Failed",
            failed_expr,
            t.jobs_for,
            "warning",
            f"The last registry {task} failed",
            f"The newest finished run of {where} failed, with no later success.",
        ),
        _alert(
            settings,
            f"{alert}NotSucceededRecently",
            stale_expr,
            t.jobs_for,
            "warning",
            f"Registry {task} has not succeeded for {stale_after}",
            f"No run of {where} has succeeded for longer than {stale_after}.",
        ),
    ]


def _certificate(settings: AlertSettings) -> list[dict[str, Any]]:
    t = settings.thresholds
    days = t.certificate_expiry_days
    return [
        _alert(
            settings,
            "RegistryCertificateExpiringSoon",
            f'certmanager_certificate_expiration_timestamp_seconds{{namespace="{settings.namespace}"}}'
            f" - time() < {number(days * SECONDS_PER_DAY)}",
            t.certificate_for,
            "warning",
            "A registry certificate expires soon",
            f"A cert-manager certificate in namespace {settings.namespace} expires within "
            f"{days:g} days; cert-manager should have renewed it by now.",
        ),
    ]


def alert_rules(settings: AlertSettings) -> dict[str, Any]:
    """Rule groups as a Prometheus rule file (also the `spec` of a PrometheusRule)."""
    t = settings.thresholds
    maintenance = []
    if settings.gc:
        maintenance += _job(
            settings, kube.GC, "RegistryGarbageCollection", "garbage collection", t.gc_stale_after
        )
    if settings.retention:
        maintenance += _job(
            settings, kube.RETENTION, "RegistryRetention", "tag retention", t.retention_stale_after
        )
    groups = [
        ("regstack-registry-availability", _availability(settings)),
        ("regstack-registry-storage", _storage(settings, settings.claim) if settings.claim else []),
        ("regstack-registry-http", _http(settings)),
        ("regstack-registry-maintenance", maintenance),
        ("regstack-registry-certificate", _certificate(settings) if settings.certificate else []),
    ]
    return {"groups": [{"name": name, "rules": rules} for name, rules in groups if rules]}
