"""The harbor section of the config model and its cross-field rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.config import ConfigError, load_config
from components.stack_config import read_stack_file

from .support import BASE, harbor_config, merged

ROOT = Path(__file__).resolve().parents[2]


def problem_paths(override: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as error:
        load_config(merged(BASE, override))
    return [problem.path for problem in error.value.problems]


def test_a_production_harbor_stack_is_valid() -> None:
    assert harbor_config().backend == "harbor"


def test_the_chart_defaults_to_the_pinned_goharbor_release() -> None:
    chart = harbor_config().harbor.chart
    assert (chart.repo, chart.name, chart.version) == (
        "https://helm.goharbor.io",
        "harbor",
        "1.19.2",
    )


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ({"harbor": {"expose": {"type": "nodePort", "tls": {"cert_source": "none"}}}},
         "harbor.expose.tls.cert_source"),
        ({"harbor": {"expose": {"type": "nodePort", "ingress": {"class_name": "nginx"}}}},
         "harbor.expose.ingress"),
        ({"harbor": {"expose": {"node_ports": {"http": 30080}}}}, "harbor.expose.node_ports"),
        ({"harbor": {"expose": {"type": "nodePort", "node_ports": {"http": 30003}}}},
         "harbor.expose.node_ports.https"),
        ({"registry": {"hostnames": []}}, "registry.hostnames"),
        ({"registry": {"hostnames": ["*.example.com"]}}, "registry.hostnames[0]"),
        ({"registry": {"ingress": {"enabled": True}}}, "registry.ingress.enabled"),
        ({"harbor": {"database": {"type": "external", "password": "x"}}}, "harbor.database.host"),
        ({"harbor": {"database": {"type": "external", "host": "db.example.com"}}},
         "harbor.database.password"),
        ({"harbor": {"redis": {"type": "external"}}}, "harbor.redis.host"),
        ({"auth": {"enabled": True, "users": [{"name": "ci", "password": "x"}]}}, "auth.enabled"),
        ({"pull_secrets": {"namespaces": ["prod"]}}, "pull_secrets.namespaces"),
        ({"harbor": {"admin_password": None}}, "harbor.admin_password"),
        ({"harbor": {"secret_seed": None}}, "harbor.secret_seed"),
        ({"harbor": {"metrics": {"service_monitor": True}}}, "harbor.metrics.service_monitor"),
        ({"harbor": {"internal_tls": {"enabled": True}}}, "harbor.internal_tls.secret_names.core"),
        ({"harbor": {"chart": {"path": "./chart", "version": "1.19.0"}}}, "harbor.chart.path"),
        ({"harbor": {"chart": {"version": "1.19"}}}, "harbor.chart.version"),
        ({"harbor": {"chart": {"repo": "helm.goharbor.io"}}}, "harbor.chart.repo"),
        ({"harbor": {"extra_values": {"harborAdminPassword": "inline"}}},
         "harbor.extra_values.harborAdminPassword"),
        ({"harbor": {"extra_values": {"core": {"xsrfKey": "random"}}}},
         "harbor.extra_values.core.xsrfKey"),
        ({"harbor": {"extra_values": {"enableMigrateHelmHook": True}}},
         "harbor.extra_values.enableMigrateHelmHook"),
        ({"harbor": {"extra_values": ["not", "a", "mapping"]}}, "harbor.extra_values"),
        ({"harbor": {"expose": {"type": "route"}}}, "harbor.expose.type"),
    ],
)  # fmt: skip
def test_an_impossible_combination_is_reported_at_its_dotted_path(
    override: dict[str, Any], path: str
) -> None:
    assert path in problem_paths(override)


def test_prod_with_harbor_still_needs_tls() -> None:
    assert "tls.mode" in problem_paths({"tls": {"mode": "none", "issuer": None}})


def test_prod_with_harbor_does_not_ask_for_htpasswd_auth() -> None:
    assert not harbor_config().auth.enabled


def test_a_node_port_stack_needs_no_hostname() -> None:
    cfg = harbor_config(
        registry={"hostnames": []},
        harbor={"expose": {"type": "nodePort"}},
        tls={"issuer": {"name": "corp-ca"}},
    )  # a private CA: see test_config_journey
    assert cfg.harbor.expose.node_ports.https == 30003


@pytest.mark.parametrize(
    "stack_file", ["Pulumi.prod.yaml", "examples/Pulumi.prod-distribution.yaml"]
)
def test_both_production_stack_files_are_valid_once_their_secrets_are_set(stack_file: str) -> None:
    cfg = load_config(read_stack_file(ROOT / stack_file))
    assert cfg.profile == "prod"
    with pytest.raises(ConfigError) as caught:
        load_config(read_stack_file(ROOT / stack_file), secret_sections=())
    assert {p.message.split(":")[0] for p in caught.value.problems} == {
        "is a placeholder, not an encrypted value"
    }


def test_the_production_stack_file_uses_harbor() -> None:
    assert read_stack_file(ROOT / "Pulumi.prod.yaml")["backend"] == "harbor"
