"""The registry's Grafana dashboard (schema 39), built from the same selectors as the alerts.

Generated rather than exported from Grafana so that its thresholds follow the alert settings
and its queries cannot drift from the metric names the alerts (and the tests) rely on.
"""

from __future__ import annotations

from typing import Any

from . import kube
from .alert_rules import TRANSFER_HANDLERS, AlertSettings, claim_selector
from .config import prometheus_duration_seconds

SCHEMA_VERSION = 39
UID = "regstack-registry"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
WIDTH = 24  # Grafana's grid is 24 columns wide
RATE = "[$__rate_interval]"


def _target(ref: str, expr: str, legend: str, instant: bool, table: bool) -> dict[str, Any]:
    return {
        "refId": ref,
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend,
        "range": not instant,
        "instant": instant,
        "format": "table" if table else "time_series",
    }


def _steps(*steps: tuple[str, float | None]) -> dict[str, Any]:
    """Colour thresholds; the first step (value None) is the base colour."""
    return {
        "mode": "absolute",
        "steps": [{"color": color, "value": value} for color, value in steps],
    }


def _panel(
    kind: str,
    title: str,
    targets: list[tuple[str, str]],
    unit: str,
    size: tuple[int, int],
    instant: bool = False,
    thresholds: dict[str, Any] | None = None,
    description: str = "",
) -> dict[str, Any]:
    """A panel without id or position: `_layout` places panels left to right, row by row."""
    defaults: dict[str, Any] = {"unit": unit}
    if thresholds is not None:
        defaults["thresholds"] = thresholds
        if kind == "timeseries":
            defaults["custom"] = {"thresholdsStyle": {"mode": "line"}}
    table = kind == "table"
    refs = [chr(ord("A") + i) for i in range(len(targets))]
    panel: dict[str, Any] = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"w": size[0], "h": size[1]},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {},
        "targets": [
            _target(ref, expr, legend, instant, table)
            for ref, (expr, legend) in zip(refs, targets, strict=True)
        ],
    }
    if table:
        # One table instead of one per query; the columns are named after the legends.
        names = {f"Value #{ref}": legend for ref, (_, legend) in zip(refs, targets, strict=True)}
        panel["transformations"] = [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True}, "renameByName": names}},
        ]
    return panel


def _row(title: str) -> dict[str, Any]:
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "panels": [],
        "gridPos": {"w": WIDTH, "h": 1},
    }


def _layout(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Number the panels and give each an x/y: fill a line, wrap, start rows on a new line."""
    x = y = line_height = 0
    for number, panel in enumerate(panels, start=1):
        grid = panel["gridPos"]
        if panel["type"] == "row" or x + grid["w"] > WIDTH:
            x, y, line_height = 0, y + line_height, 0
        grid.update(x=x, y=y)
        panel["id"] = number
        x, line_height = x + grid["w"], max(line_height, grid["h"])
        if panel["type"] == "row":
            x, y, line_height = 0, y + grid["h"], 0
    return panels


def _storage(settings: AlertSettings) -> list[dict[str, Any]]:
    claim_name = settings.claim or kube.DATA_CLAIM
    claim = claim_selector("$namespace", claim_name)
    free_ratio = settings.thresholds.storage_free_ratio
    return [
        _row("Storage"),
        _panel(
            "stat",
            "Free space",
            [
                (
                    f"kubelet_volume_stats_available_bytes{{{claim}}}"
                    f" / kubelet_volume_stats_capacity_bytes{{{claim}}}",
                    "free",
                )
            ],
            "percentunit",
            (6, 8),
            thresholds=_steps(("red", None), ("orange", free_ratio), ("green", 2 * free_ratio)),
            description=f"RegistryStorageAlmostFull fires below {free_ratio * 100:g}%.",
        ),
        _panel(
            "timeseries",
            "Storage used and free",
            [
                (f"kubelet_volume_stats_used_bytes{{{claim}}}", "used"),
                (f"kubelet_volume_stats_available_bytes{{{claim}}}", "free"),
                (f"kubelet_volume_stats_capacity_bytes{{{claim}}}", "capacity"),
            ],
            "bytes",
            (18, 8),
            description=f"Volume statistics of PVC {claim_name} from the kubelet; empty when "
            "the storage provisioner reports none (e.g. hostPath).",
        ),
    ]


def _traffic(settings: AlertSettings) -> list[dict[str, Any]]:
    registry = f'job="{kube.METRICS_SERVICE}", namespace="$namespace"'
    requests = f"registry_http_requests_total{{{registry}"
    buckets = (
        f"sum by (le) (rate(registry_http_request_duration_seconds_bucket{{{registry}, "
        f'handler!~"{TRANSFER_HANDLERS}"}}{RATE}))'
    )
    latency = settings.thresholds.latency_p99_seconds
    return [
        _row("Traffic"),
        # Distribution labels methods in lower case.
        _panel(
            "timeseries",
            "Pushes by handler and method",
            [
                (
                    f'sum by (handler, method) (rate({requests}, method=~"post|put|patch"}}{RATE}))',
                    "{{handler}} {{method}}",
                )
            ],
            "reqps",
            (12, 8),
        ),
        _panel(
            "timeseries",
            "Pulls by handler and method",
            [
                (
                    f'sum by (handler, method) (rate({requests}, method=~"get|head"}}{RATE}))',
                    "{{handler}} {{method}}",
                )
            ],
            "reqps",
            (12, 8),
        ),
        _panel(
            "timeseries",
            "Request latency (blob transfers excluded)",
            [
                (f"histogram_quantile({q}, {buckets})", f"p{round(q * 100)}")
                for q in (0.5, 0.9, 0.99)
            ],
            "s",
            (12, 8),
            thresholds=_steps(("green", None), ("red", latency)),
            description=f"RegistryHighLatencyP99 fires above {latency:g}s.",
        ),
        _panel(
            "timeseries",
            "HTTP errors by code",
            [(f'sum by (code) (rate({requests}, code=~"4..|5.."}}{RATE}))', "{{code}}")],
            "reqps",
            (12, 8),
            description="401 is normal before a login; 404 when a tag or blob is missing.",
        ),
    ]


def _maintenance(settings: AlertSettings) -> list[dict[str, Any]]:
    ns = 'namespace="$namespace"'
    jobs = f'{ns}, job_name=~"({kube.GC}|{kube.RETENTION})-.+"'
    stale = min(
        prometheus_duration_seconds(settings.thresholds.gc_stale_after),
        prometheus_duration_seconds(settings.thresholds.retention_stale_after),
    )
    # A retention Job's pod serves its metrics for a few scrapes only: the panels read the
    # last values seen within the staleness window of the retention alert.
    window = f"[{settings.thresholds.retention_stale_after}]"
    published = (
        "Served by each retention Job's pod for three scrape intervals after its run "
        f"(PodMonitor registry-retention); the last values within {window[1:-1]}."
    )
    return [
        _row("Garbage collection and retention"),
        _panel(
            "stat",
            "Since the last successful run",
            [
                (
                    f'time() - max(kube_job_status_completion_time{{{ns}, job_name=~"{cronjob}-.+"}})',
                    title,
                )
                for cronjob, title in ((kube.GC, "GC"), (kube.RETENTION, "retention"))
            ],
            "s",
            (8, 8),
            instant=True,
            thresholds=_steps(("green", None), ("red", stale)),
        ),
        _panel(
            "table",
            "Jobs (kube-state-metrics)",
            [
                (f"max by (job_name) (kube_job_status_{field}{{{jobs}}})", field)
                for field in ("succeeded", "failed", "active")
            ],
            "short",
            (16, 8),
            instant=True,
            description="Pods succeeded, failed and active per Job; a Job is kept until the "
            "CronJob's history limits remove it.",
        ),
        _panel(
            "stat",
            "Next scheduled run",
            [
                (
                    f'kube_cronjob_next_schedule_time{{{ns}, cronjob=~"{kube.GC}|{kube.RETENTION}"}}'
                    " * 1000",
                    "{{cronjob}}",
                )
            ],
            "dateTimeFromNow",
            (8, 8),
            instant=True,
        ),
        _panel(
            "stat",
            "Since retention last reported success",
            [
                (
                    f"time() - max(last_over_time(regstack_retention_last_success_timestamp_seconds{{{ns}}}{window}))",
                    "retention",
                )
            ],
            "s",
            (8, 8),
            instant=True,
            description=published,
        ),
        _panel(
            "bargauge",
            "Images per repository",
            [
                (
                    f"sort_desc(max by (repository) (last_over_time(regstack_retention_images{{{ns}}}{window})))",
                    "{{repository}}",
                )
            ],
            "short",
            (8, 8),
            instant=True,
            description=f"Counted by the last retention run. {published}",
        ),
    ]


def registry_dashboard(settings: AlertSettings) -> dict[str, Any]:
    """The dashboard JSON model, ready for Grafana's dashboard sidecar or an import."""
    namespace_query = f'label_values(up{{job="{kube.METRICS_SERVICE}"}}, namespace)'
    templating = [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
        },
        {
            "name": "namespace",
            "label": "Namespace",
            "type": "query",
            "datasource": DATASOURCE,
            "query": {"query": namespace_query, "refId": "namespace"},
            "definition": namespace_query,
            "refresh": 2,
            "current": {"text": settings.namespace, "value": settings.namespace},
            "hide": 0,
        },
    ]
    panels = _storage(settings) + _traffic(settings) + _maintenance(settings)
    return {
        "uid": UID,
        "title": "regstack registry",
        "description": "CNCF Distribution registry deployed by regstack",
        "tags": ["regstack", "registry"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "timezone": "browser",
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": templating},
        "panels": _layout(panels),
    }
