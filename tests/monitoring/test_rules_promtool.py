"""The alert rules and dashboard queries, checked and unit-tested by the real promtool."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from components.alert_rules import AlertSettings, alert_rules
from components.config import AlertsConfig
from components.dashboard import registry_dashboard
from devkit.promtool import ROOT, promtool, write_yaml
from tests.monitoring.rule_cases import EVERYTHING, Case, cases, promtool_tests

# Every threshold and `for:` moved away from its default, to show the cases follow them.
UNUSUAL = AlertSettings(
    "registry-test",
    AlertsConfig(
        storage_free_ratio=0.3, storage_filling_horizon="1d", storage_filling_window="2h",
        error_ratio_5xx=0.5, latency_p99_seconds=0.25, certificate_expiry_days=3,
        gc_stale_after="2d", retention_stale_after="1w", down_for="1m", storage_for="1h",
        http_for="3m", jobs_for="30m", certificate_for="10m",
    ),
    "https://example.com/runbook.md",
    "registry-claim",
)  # fmt: skip
# What Grafana substitutes before a query reaches Prometheus.
DASHBOARD_VARIABLES = {"$__rate_interval": "5m", "$namespace": "container-registry"}


def _run_cases(settings: AlertSettings, selected: list[Case], tmp_path: Path) -> None:
    rule_file = write_yaml(tmp_path / "rules.yml", alert_rules(settings))
    test_file = write_yaml(
        tmp_path / "tests.yml", promtool_tests(settings, str(rule_file), selected)
    )
    result = promtool("test", "rules", test_file)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stack", ["dev", "prod", "prod-distribution"])
def test_each_stacks_rendered_rule_file_passes_promtool_check(stack: str, tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "render_rules.py"), stack, "--out", str(tmp_path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result = promtool("check", "rules", tmp_path / f"{stack}.rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", cases(EVERYTHING), ids=lambda case: case.name)
def test_alert_behaves_as_the_case_says(case: Case, tmp_path: Path) -> None:
    _run_cases(EVERYTHING, [case], tmp_path)


def test_every_case_still_holds_with_every_threshold_changed(tmp_path: Path) -> None:
    _run_cases(UNUSUAL, cases(UNUSUAL), tmp_path)


def test_every_alert_has_a_firing_and_a_silent_case() -> None:
    alerts = {r["alert"] for g in alert_rules(EVERYTHING)["groups"] for r in g["rules"]}
    covered = {(case.alert, case.fires) for case in cases(EVERYTHING)}
    assert {(alert, fires) for alert in alerts for fires in (True, False)} <= covered


@pytest.mark.parametrize("fires", [True, False], ids=["firing", "silent"])
def test_a_case_with_the_wrong_expectation_fails_under_promtool(
    fires: bool, tmp_path: Path
) -> None:
    """Guards the harness itself: promtool must really compare what fires with what should."""
    case = next(case for case in cases(EVERYTHING) if case.fires is fires)
    wrong = dataclasses.replace(case, fires=not fires)
    rule_file = write_yaml(tmp_path / "rules.yml", alert_rules(EVERYTHING))
    test_file = write_yaml(
        tmp_path / "tests.yml", promtool_tests(EVERYTHING, str(rule_file), [wrong])
    )
    assert promtool("test", "rules", test_file).returncode != 0


def dashboard_queries(settings: AlertSettings) -> list[tuple[str, str]]:
    """(panel and query ref, expression with Grafana's variables filled in)."""
    queries = []
    for panel in registry_dashboard(settings)["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in DASHBOARD_VARIABLES.items():
                expr = expr.replace(variable, value)
            queries.append((f"panel_{panel['id']}_{target['refId']}", expr))
    return queries


def test_every_dashboard_query_parses_as_promql(tmp_path: Path) -> None:
    queries = dashboard_queries(EVERYTHING)
    assert not [expr for _, expr in queries if "$" in expr], "an unknown Grafana variable"
    # promtool parses recording rules like any query; a rule per dashboard query checks them all.
    rules = [{"record": f"dashboard:{ref}", "expr": expr} for ref, expr in queries]
    rule_file = write_yaml(tmp_path / "dashboard.rules.yml",
                           {"groups": [{"name": "dashboard", "rules": rules}]})  # fmt: skip
    result = promtool("check", "rules", rule_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(rf"SUCCESS: {len(rules)} rules found", result.stdout), result.stdout
