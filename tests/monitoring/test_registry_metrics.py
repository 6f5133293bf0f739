"""Every registry metric the alerts and dashboard name, as a real Distribution exposes it.

Starts the real registry with the config the cluster gets, pushes and pulls a tiny image with
skopeo so that request metrics exist, then reads `/metrics` from the debug listener. Both lines:
3.x (the default, built by scripts/registry-server.sh) and Debian's 2.8.2, since a stack may pin
either and the same rules and dashboard serve both.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from components.alert_rules import alert_rules
from components.dashboard import registry_dashboard
from components.distribution_config import RenderSettings
from devkit.registry import RunningRegistry, oci_image, pull, push, require, start_registry
from tests.monitoring.rule_cases import EVERYTHING

pytestmark = pytest.mark.servers

# Labels Prometheus adds from the scrape target, not the registry itself.
TARGET_LABELS = {"job", "namespace"}
METRIC = re.compile(r"\bregistry_[a-z0-9_]+")
SELECTOR = re.compile(r"\b(registry_[a-z0-9_]+)\s*\{([^}]*)\}")
QUOTED = re.compile(r'"[^"]*"')


@pytest.fixture(scope="module", params=[3, 2], ids=["3.x", "2.x"])
def registry(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningRegistry]:
    require("skopeo")
    settings = RenderSettings(line=request.param)
    running = start_registry(tmp_path_factory.mktemp("registry"), settings)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def exposition(registry: RunningRegistry, tmp_path_factory: pytest.TempPathFactory) -> str:
    """/metrics after a push and a pull, so request counters and histograms exist."""
    work = tmp_path_factory.mktemp("images")
    oci_image(work / "pushed", "t")
    push(work / "pushed", "t", registry, "demo:t")
    pull(registry, "demo:t", work / "pulled")
    with urllib.request.urlopen(registry.metrics_url, timeout=10) as response:
        text: str = response.read().decode()
    return text


def exposed_labels(exposition: str) -> dict[str, set[str]]:
    """Metric name -> label names, from Prometheus text format."""
    labels: dict[str, set[str]] = {}
    for line in exposition.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition("{")
        name = name.split()[0]
        names = re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', rest.partition("}")[0]) if rest else []
        labels.setdefault(name, set()).update(names)
    return labels


def referenced() -> dict[str, set[str]]:
    """registry_* metric -> label names matched on, from every alert and dashboard query."""
    exprs = [r["expr"] for g in alert_rules(EVERYTHING)["groups"] for r in g["rules"]]
    exprs += [
        t["expr"] for p in registry_dashboard(EVERYTHING)["panels"] for t in p.get("targets", [])
    ]
    metrics: dict[str, set[str]] = {}
    for expr in exprs:
        # Quoted label values such as job="registry-metrics" are not metric names.
        for name in METRIC.findall(QUOTED.sub('""', expr)):
            metrics.setdefault(name, set())
        for name, matchers in SELECTOR.findall(expr):
            used = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", matchers))
            metrics.setdefault(name, set()).update(used - TARGET_LABELS)
    return metrics


def test_the_rules_and_dashboard_name_registry_metrics_at_all() -> None:
    assert {"registry_http_requests_total", "registry_http_request_duration_seconds_bucket"} <= set(
        referenced()
    )


def test_every_registry_metric_referenced_is_exposed_by_distribution(exposition: str) -> None:
    missing = set(referenced()) - set(exposed_labels(exposition))
    assert not missing, f"not in Distribution's /metrics: {sorted(missing)}"


def test_every_label_the_queries_match_on_is_exposed(exposition: str) -> None:
    exposed = exposed_labels(exposition)
    missing = {
        name: sorted(used - exposed.get(name, set()))
        for name, used in referenced().items()
        if used - exposed.get(name, set())
    }
    assert not missing, f"labels not on the exposed series: {missing}"


def test_distribution_reports_http_methods_in_lower_case(exposition: str) -> None:
    """The dashboard's push and pull queries match methods as `get|head`, `post|put|patch`."""
    methods = set(re.findall(r'method="([^"]*)"', exposition))
    assert methods and methods == {m.lower() for m in methods}, methods
