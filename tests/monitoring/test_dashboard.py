"""The Grafana dashboard model: a current schema and a layout Grafana accepts as is."""

from __future__ import annotations

import json

from components.dashboard import registry_dashboard
from tests.monitoring.rule_cases import EVERYTHING

DASHBOARD = registry_dashboard(EVERYTHING)


def test_the_dashboard_uses_a_current_grafana_schema() -> None:
    assert DASHBOARD["schemaVersion"] >= 39


def test_panel_ids_are_unique() -> None:
    ids = [panel["id"] for panel in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))


def test_no_two_panels_overlap_and_all_fit_the_grid() -> None:
    cells: set[tuple[int, int]] = set()
    for panel in DASHBOARD["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        area = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}  # fmt: skip
        assert not cells & area, panel["title"]
        cells |= area


def test_every_query_uses_the_datasource_variable() -> None:
    for panel in DASHBOARD["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_the_namespace_variable_defaults_to_the_registrys_namespace() -> None:
    (variable,) = [v for v in DASHBOARD["templating"]["list"] if v["name"] == "namespace"]
    assert variable["current"]["value"] == "container-registry"


def test_the_dashboard_covers_storage_traffic_latency_errors_jobs_and_images() -> None:
    queries = json.dumps([p.get("targets") for p in DASHBOARD["panels"]])
    for metric in (
        "kubelet_volume_stats_used_bytes",
        "kubelet_volume_stats_available_bytes",
        "registry_http_requests_total",
        "registry_http_request_duration_seconds_bucket",
        "kube_job_status_failed",
        "kube_cronjob_next_schedule_time",
        "regstack_retention_images",
        "regstack_retention_last_success_timestamp_seconds",
    ):
        assert metric in queries, metric  # fmt: skip


def test_the_retention_panels_read_the_last_values_the_jobs_pods_served() -> None:
    readers = [
        p for p in DASHBOARD["panels"] if "regstack_retention_" in json.dumps(p.get("targets"))
    ]
    assert len(readers) == 2
    for panel in readers:
        (target,) = panel["targets"]
        assert "last_over_time(regstack_retention_" in target["expr"], panel["title"]
        assert 'namespace="$namespace"}[8d])' in target["expr"], panel["title"]
