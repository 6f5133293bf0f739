"""promtool unit tests for every alert, generated from the thresholds in force.

Each case feeds synthetic series placed relative to the thresholds (half of a ratio, twice a
duration, ...), so changing a default or a stack's settings moves the data with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from components import kube
from components.alert_rules import AlertSettings, alert_rules, number
from components.config import AlertsConfig, prometheus_duration_seconds

STEP = 60  # seconds between samples and between rule evaluations
# Past the `for:`, long enough for rate() over its 5m window to see several samples.
MARGIN = 10 * 60
CAPACITY = 100 * 2**30
REQUESTS_PER_STEP = 600
CERTIFICATE = "regstack-certificate-tls"
# Default thresholds with every optional part (GC, retention, TLS) switched on.
EVERYTHING = AlertSettings(
    "container-registry", AlertsConfig(), "https://example.com/runbook.md", kube.DATA_CLAIM
)


Series = tuple[str, dict[str, str], float, float]
"""(metric, labels, first value, change per step)."""


@dataclass(frozen=True)
class Case:
    """One promtool test: series up to `eval_seconds`, and whether `alert` fires then."""

    alert: str
    behaviour: str
    fires: bool
    eval_seconds: float
    series: list[Series]
    labels: dict[str, str]
    """Labels the firing alert carries besides alertname and the rule's own labels."""

    @property
    def name(self) -> str:
        return f"{self.alert} {'fires' if self.fires else 'stays silent'} {self.behaviour}"


def _eval_after(hold: str) -> float:
    return prometheus_duration_seconds(hold) + MARGIN


def _availability(s: AlertSettings) -> list[Case]:
    target = {"job": kube.METRICS_SERVICE, "namespace": s.namespace}
    pod = {**target, "pod": "registry-0", "instance": "10.1.0.7:5001"}
    at = _eval_after(s.thresholds.down_for)
    other = ("up", {"job": "other", "namespace": s.namespace}, 1, 0)
    return [
        Case("RegistryDown", "when a registry pod fails its scrapes", True, at,
             [("up", pod, 0, 0)], pod),
        Case("RegistryDown", "while the registry pod is scraped", False, at,
             [("up", pod, 1, 0)], pod),
        Case("RegistryMetricsTargetMissing", "when Prometheus has no registry target", True, at,
             [other], target),
        Case("RegistryMetricsTargetMissing", "while a registry target exists", False, at,
             [other, ("up", pod, 1, 0)], target),
    ]  # fmt: skip


def _storage(s: AlertSettings) -> list[Case]:
    t = s.thresholds
    assert s.claim is not None
    claim = {"namespace": s.namespace, "persistentvolumeclaim": s.claim}
    capacity = ("kubelet_volume_stats_capacity_bytes", claim, CAPACITY, 0)
    at = _eval_after(t.storage_for)
    horizon = prometheus_duration_seconds(t.storage_filling_horizon)

    def emptying(full_at: float) -> list[Series]:
        """Half the volume free at the start, falling linearly to nothing at `full_at`."""
        start = CAPACITY / 2
        return [capacity, ("kubelet_volume_stats_available_bytes", claim, start,
                           -start * STEP / full_at)]  # fmt: skip

    def free(ratio: float) -> list[Series]:
        return [capacity, ("kubelet_volume_stats_available_bytes", claim, CAPACITY * ratio, 0)]

    ratio = t.storage_free_ratio
    return [
        Case("RegistryStorageAlmostFull", "below the free-space ratio", True, at,
             free(ratio / 2), claim),
        Case("RegistryStorageAlmostFull", "above the free-space ratio", False, at,
             free((1 + ratio) / 2), claim),
        # Full between the evaluation and the horizon: predicted negative all along.
        Case("RegistryStorageFillingFast", "when the trend fills the volume within the horizon",
             True, at, emptying((at + horizon) / 2), claim),
        Case("RegistryStorageFillingFast", "when the trend fills it only after the horizon",
             False, at, emptying(at + 2 * horizon), claim),
    ]  # fmt: skip


def _http(s: AlertSettings) -> list[Case]:
    t = s.thresholds
    target = {"job": kube.METRICS_SERVICE, "namespace": s.namespace}
    at = _eval_after(t.http_for)

    def answers(error_ratio: float) -> list[Series]:
        request = {**target, "handler": "manifest", "method": "get"}
        errors = REQUESTS_PER_STEP * error_ratio
        return [
            ("registry_http_requests_total", {**request, "code": "200"}, 0,
             REQUESTS_PER_STEP - errors),
            ("registry_http_requests_total", {**request, "code": "500"}, 0, errors),
        ]  # fmt: skip

    latency = t.latency_p99_seconds
    bounds = [latency / 2, 2 * latency, 4 * latency]

    def observed(handler: str, slow: bool) -> list[Series]:
        """Every request below half the threshold, or (slow) between twice and four times it."""
        request = {**target, "handler": handler, "method": "get"}
        series = [
            ("registry_http_request_duration_seconds_bucket", {**request, "le": number(bound)},
             0, 0 if slow and bound < 4 * latency else REQUESTS_PER_STEP)
            for bound in bounds
        ]  # fmt: skip
        le_inf = {**request, "le": "+Inf"}
        return [*series, ("registry_http_request_duration_seconds_bucket", le_inf, 0,
                          REQUESTS_PER_STEP)]  # fmt: skip

    namespace = {"namespace": s.namespace}
    return [
        Case("RegistryHigh5xxRatio", "above the 5xx ratio", True, at,
             answers((1 + t.error_ratio_5xx) / 2), namespace),
        Case("RegistryHigh5xxRatio", "below the 5xx ratio", False, at,
             answers(t.error_ratio_5xx / 2), namespace),
        Case("RegistryHighLatencyP99", "when manifest requests are slow", True, at,
             observed("manifest", slow=True), namespace),
        Case("RegistryHighLatencyP99", "when manifest requests are fast", False, at,
             observed("manifest", slow=False), namespace),
        Case("RegistryHighLatencyP99", "when only blob downloads are slow", False, at,
             observed("blob", slow=True), namespace),
    ]  # fmt: skip


def _jobs(s: AlertSettings, cronjob: str, alert: str, stale_after: str) -> list[Case]:
    t = s.thresholds
    namespace = {"namespace": s.namespace}
    at = _eval_after(t.jobs_for)
    stale = prometheus_duration_seconds(stale_after)

    def run(index: int, started: float, outcome: str) -> list[Series]:
        job = {**namespace, "job_name": f"{cronjob}-{index}"}
        series: list[Series] = [("kube_job_status_start_time", job, started, 0),
                                (f"kube_job_{outcome}", {**job, "condition": "true"}, 1, 0)]  # fmt: skip
        if outcome == "complete":
            series.append(("kube_job_status_completion_time", job, started + 60, 0))
        return series

    def created(at_time: float) -> Series:
        return ("kube_cronjob_created", {**namespace, "cronjob": cronjob}, at_time, 0)

    # Times may be negative: promtool's clock starts at 0, and "long ago" must be before it.
    long_ago, recent = -(stale + 86400), at - stale / 2
    failed, stale_alert = f"{alert}Failed", f"{alert}NotSucceededRecently"
    return [
        Case(failed, "when the newest run failed after a success", True, at,
             run(1, 1000, "complete") + run(2, 2000, "failed"), namespace),
        Case(failed, "when a success followed the failure", False, at,
             run(1, 1000, "failed") + run(2, 2000, "complete"), namespace),
        Case(failed, "when no run has ever succeeded", True, at, run(1, 1000, "failed"),
             namespace),
        Case(stale_alert, "when the last success is older than allowed", True, at,
             [created(long_ago), *run(1, long_ago + 3600, "complete")], namespace),
        Case(stale_alert, "after a recent success", False, at,
             [created(long_ago), *run(1, recent, "complete")], namespace),
        Case(stale_alert, "when an old CronJob never succeeded", True, at,
             [created(long_ago)], namespace),
        Case(stale_alert, "for a new CronJob that has not run yet", False, at,
             [created(recent)], namespace),
    ]  # fmt: skip


def _certificate(s: AlertSettings) -> list[Case]:
    t = s.thresholds
    at = _eval_after(t.certificate_for)
    window = t.certificate_expiry_days * 86400
    cert = {"namespace": s.namespace, "name": CERTIFICATE}
    metric = "certmanager_certificate_expiration_timestamp_seconds"
    return [
        Case("RegistryCertificateExpiringSoon", "within the expiry window", True, at,
             [(metric, cert, window / 2, 0)], cert),
        Case("RegistryCertificateExpiringSoon", "well before the expiry window", False, at,
             [(metric, cert, at + 2 * window, 0)], cert),
    ]  # fmt: skip


def cases(settings: AlertSettings) -> list[Case]:
    """A firing and a silent case (at least) for every alert `alert_rules` produces."""
    t = settings.thresholds
    builders: list[Callable[[], list[Case]]] = [
        lambda: _availability(settings),
        lambda: _storage(settings) if settings.claim else [],
        lambda: _http(settings),
    ]
    if settings.gc:
        builders.append(lambda: _jobs(settings, kube.GC, "RegistryGarbageCollection",
                                      t.gc_stale_after))  # fmt: skip
    if settings.retention:
        builders.append(lambda: _jobs(settings, kube.RETENTION, "RegistryRetention",
                                      t.retention_stale_after))  # fmt: skip
    if settings.certificate:
        builders.append(lambda: _certificate(settings))
    return [case for build in builders for case in build()]


def _selector(metric: str, labels: dict[str, str]) -> str:
    matchers = ", ".join(f'{key}="{value}"' for key, value in labels.items())
    return f"{metric}{{{matchers}}}"


def promtool_tests(settings: AlertSettings, rule_file: str, selected: list[Case]) -> dict[str, Any]:
    """A `promtool test rules` file running `selected` against `rule_file`."""
    rules = {r["alert"]: r for g in alert_rules(settings)["groups"] for r in g["rules"]}
    tests = []
    for case in selected:
        steps = math.ceil(case.eval_seconds / STEP)
        rule = rules[case.alert]
        expected = [{"exp_labels": {**case.labels, **rule["labels"]},
                     "exp_annotations": rule["annotations"]}]  # fmt: skip
        tests.append({
            "name": case.name,
            "interval": f"{STEP}s",
            "input_series": [
                {"series": _selector(metric, labels),
                 "values": f"{number(first)}{'+' if change >= 0 else '-'}"
                           f"{number(abs(change))}x{steps}"}
                for metric, labels, first, change in case.series
            ],
            "alert_rule_test": [{"eval_time": f"{steps * STEP}s", "alertname": case.alert,
                                 "exp_alerts": expected if case.fires else []}],
        })  # fmt: skip
    return {"rule_files": [rule_file], "evaluation_interval": f"{STEP}s", "tests": tests}
