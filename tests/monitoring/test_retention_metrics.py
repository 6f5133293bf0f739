"""The retention panels have data on any cluster: each retention Job's pod serves its run's
metrics for a few scrapes, a PodMonitor scrapes them, and the panels read the last values."""

from __future__ import annotations

from pathlib import Path

from components.dashboard import registry_dashboard
from devkit.promtool import promtool, write_yaml
from devkit.pulumi_mocks import platform
from tests.monitoring.rule_cases import EVERYTHING

USER = {"name": "ci", "password": "pw-for-tests"}
STACK = {"auth": {"enabled": True, "users": [USER]},
         "retention": {"enabled": True, "rules": [{"repositories": ["*"], "keep_last": 5}]}}  # fmt: skip


def retention_container(config: dict) -> dict:
    cron = platform(config).named("rs-retention-cronjob").inputs
    (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return container


def test_with_monitoring_the_job_serves_its_metrics_for_three_scrape_intervals() -> None:
    container = retention_container({**STACK, "monitoring": {"enabled": True, "interval": "20s"}})
    assert container["command"][-3:] == [
        "--metrics-file=/var/run/retention/retention.prom", "--metrics-port=9102",
        "--metrics-linger=60",
    ]  # fmt: skip
    assert container["ports"] == [{"name": "metrics", "containerPort": 9102}]


def test_without_monitoring_the_job_publishes_nothing() -> None:
    container = retention_container(STACK)
    assert not any("--metrics" in part for part in container["command"])
    assert "ports" not in container


def test_a_pod_monitor_scrapes_the_retention_jobs_pods() -> None:
    rec = platform({**STACK, "monitoring": {"enabled": True}})
    (monitor,) = [r for r in rec.of_type("kubernetes:monitoring.coreos.com/v1:PodMonitor")]
    spec = monitor.inputs["spec"]
    assert spec["selector"] == {"matchLabels": {"app.kubernetes.io/name": "registry-retention"}}
    assert spec["podMetricsEndpoints"][0]["port"] == "metrics"
    assert monitor.inputs["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_the_panels_show_a_run_long_after_its_pod_is_gone(tmp_path: Path) -> None:
    """promtool: samples for 90s after a run, then none; ten hours later the panels still
    show that run, where the plain metric has gone stale."""
    queries = [t["expr"].replace("$namespace", "container-registry")
               for p in registry_dashboard(EVERYTHING)["panels"] for t in p.get("targets", [])
               if "regstack_retention_images" in t["expr"]]  # fmt: skip
    (images,) = queries
    series = 'regstack_retention_images{namespace="container-registry", repository="team/app"}'
    tests = write_yaml(tmp_path / "test.yml", {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "30s",
            "input_series": [{"series": series, "values": "7 7 7"}],
            "promql_expr_test": [
                {"expr": images, "eval_time": "10h",
                 "exp_samples": [{"labels": '{repository="team/app"}', "value": 7}]},
                {"expr": "regstack_retention_images", "eval_time": "10h", "exp_samples": []},
            ],
        }],
    })  # fmt: skip
    result = promtool("test", "rules", tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_only_the_prometheus_pods_reach_the_jobs_metrics_port() -> None:
    monitoring = {"enabled": True, "prometheus_namespace": "observability"}
    policy = platform({**STACK, "monitoring": monitoring}).named("rs-retention-network-policy")
    spec = policy.inputs["spec"]
    assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "registry-retention"
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 9102}]
    assert rule["from"] == [{
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    }]  # fmt: skip


def test_without_monitoring_the_job_has_no_network_policy() -> None:
    names = [r.name for r in platform(STACK).resources]
    assert "rs-retention-network-policy" not in names
