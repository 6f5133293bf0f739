"""checkov over the prod stack with the Harbor chart's real objects (`make scan prod`).

The mock harness never sees a chart's objects, so these come from the provider's render mode
over the pinned chart: what the prod stack would apply, Secrets redacted.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from engine import Engine

from devkit.checkov import Report, installed, scan
from devkit.manifests import chart_objects, write_manifests, write_objects
from devkit.stacks import stack_program

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not installed(), reason="checkov not installed: scripts/checkov.sh --install"
    ),
]


@pytest.fixture(scope="module")
def objects(engine: Engine) -> list[dict[str, Any]]:
    return chart_objects("prod", engine.kubeconfig)


@pytest.fixture(scope="module")
def report(objects: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Report:
    directory = tmp_path_factory.mktemp("scan-prod")
    write_manifests(stack_program("prod"), directory)
    write_objects(objects, directory)
    return scan(directory)


def test_the_scan_holds_every_harbor_workload_of_the_chart(objects: list[dict[str, Any]]) -> None:
    workloads = Counter(o["kind"] for o in objects if o["kind"] in ("Deployment", "StatefulSet"))
    assert workloads == {"Deployment": 5, "StatefulSet": 3}


def test_no_secret_value_of_the_chart_reaches_the_scanned_files(
    objects: list[dict[str, Any]],
) -> None:
    secrets = [o for o in objects if o["kind"] == "Secret"]
    assert secrets and all(set(o.get("data", {}).values()) <= {"[secret]"} for o in secrets)


# The first scan of the real chart's objects found 68 failed checks on its 8 workloads (672
# passed): no limits, writable root filesystems, secrets in environment variables, tags and
# IfNotPresent, UID 999, no NetworkPolicy. components/harbor_hardening.py fixes what Harbor allows
# and components/scan_skips.HARBOR gives the reason for the rest (716 passed, 0 failed, 24
# skipped with chart 1.19.2).
def test_checkov_finds_no_failed_check_in_the_prod_stack(report: Report) -> None:
    assert report.failed == []


def test_every_skip_in_the_prod_stack_carries_its_reason(report: Report) -> None:
    assert all(f.reason and f.reason != "No comment provided" for f in report.skipped)
