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


# Open: the first scan of the real chart's objects (672 passed, 68 failed) found on its 8
# workloads: no CPU/memory requests or limits (CKV_K8S_10-13), writable root filesystems
# (CKV_K8S_22), secrets in environment variables (CKV_K8S_35), tags not digests and pull
# policy IfNotPresent (CKV_K8S_43/15), UID 999 for PostgreSQL and Redis (CKV_K8S_40), no
# NetworkPolicy (CKV2_K8S_6). Each needs a value or a skip with its reason on the object
# (a transform on the Chart); strict, so this fails once they are all handled.
@pytest.mark.xfail(strict=True, reason="Harbor chart findings not yet resolved or skipped")
def test_checkov_finds_no_failed_check_in_the_prod_stack(report: Report) -> None:
    assert report.failed == []


def test_every_skip_in_the_prod_stack_carries_its_reason(report: Report) -> None:
    assert all(f.reason and f.reason != "No comment provided" for f in report.skipped)
