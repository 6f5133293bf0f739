"""docs/reference/compatibility.md gives the versions the code and build scripts really pin."""

from __future__ import annotations

import re
import tomllib

from components.config import RegstackConfig
from devkit.pulumi_mocks import ROOT

PAGE = (ROOT / "docs" / "reference" / "compatibility.md").read_text()


def pinned() -> dict[str, str]:
    """Component (the page's first column, up to a parenthesis) -> the version its source holds."""
    env = "".join(
        (ROOT / "scripts" / name).read_text() for name in ("versions.env", "cluster-versions.env")
    )
    versions = dict(re.findall(r"^([A-Z_]+)=(\S+)$", env, re.M))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # The tested versions are the exact pins of constraints.txt; installs accept ranges from them.
    sdk = dict(re.findall(r"^([a-z-]+)==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M))
    assert sdk["pulumi-kubernetes"] == versions["KUBERNETES_PROVIDER_VERSION"]
    assert sdk["pulumi-command"] == versions["COMMAND_PROVIDER_VERSION"]
    defaults = RegstackConfig()
    return {
        "Python": project["requires-python"].removeprefix(">="),
        "Pulumi CLI": versions["PULUMI_VERSION"],
        "Pulumi Python SDK": sdk["pulumi"],
        "pulumi-kubernetes": sdk["pulumi-kubernetes"],
        "pulumi-command": sdk["pulumi-command"],
        "Kubernetes": versions["KUBERNETES_VERSION"],
        "cert-manager": versions["CERT_MANAGER_VERSION"],
        "Prometheus Operator CRDs": versions["PROMETHEUS_OPERATOR_VERSION"],
        "CNCF Distribution, default image tag": defaults.registry.version,
        "Harbor Helm chart": defaults.harbor.chart.version,
        "Token server": defaults.auth.token_server.version,
        "Redis, the scale-out cache": defaults.registry.cache.version,
    }


def test_every_version_on_the_page_is_the_one_pinned() -> None:
    rows = re.findall(r"^\| ([^|(]+?)(?: \([^|]*\))? \| `([^`]+)`", PAGE, re.M)
    assert dict(rows) == pinned()
