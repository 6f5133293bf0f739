"""checkov over each stack's manifests: no failed check, every skip explained on its object."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.stack_config import read_stack_file
from devkit.checkov import Report, installed, scan
from devkit.manifests import write_manifests
from devkit.pulumi_mocks import run_program
from devkit.stacks import DUMMY_SECRET, LAB_CA_ISSUED, STACK_FILES, STACKS, stack_program

pytestmark = pytest.mark.skipif(
    not installed(), reason="checkov not installed: run scripts/checkov.sh --install (make scan)"
)


@pytest.fixture(scope="module", params=STACKS)
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Report:
    directory = tmp_path_factory.mktemp(f"manifests-{request.param}")
    write_manifests(stack_program(request.param), directory)
    return scan(directory)


def test_checkov_finds_no_failed_check(report: Report) -> None:
    assert report.failed == []


def test_checkov_ran_checks(report: Report) -> None:
    assert report.passed > 0


def test_every_skip_carries_its_reason(report: Report) -> None:
    # checkov fills in "No comment provided" for a skip annotation without `=<reason>`.
    assert all(f.reason and f.reason != "No comment provided" for f in report.skipped)


def test_a_rendered_manifest_holds_no_secret_value(tmp_path: Path) -> None:
    write_manifests(stack_program("dev"), tmp_path)
    text = "".join(path.read_text() for path in tmp_path.iterdir())
    assert "policy-test-dummy-secret" not in text
    assert "[secret]" in text


# Every committed stack leaves retention off (rules are tried from a workstation first), so its
# CronJob is scanned on two of them with it turned on.
@pytest.mark.parametrize("stack", ["takeover", "prod-distribution"])
def test_checkov_finds_no_failed_check_on_the_retention_job(stack: str, tmp_path: Path) -> None:
    document = yaml.safe_load(STACK_FILES[stack].read_text())
    document["config"]["regstack:retention"] = {
        "enabled": True, "apply": True, "rules": [{"repositories": ["**"], "keep_last": 10}],
    }  # fmt: skip
    stack_file = tmp_path / f"Pulumi.{stack}.yaml"
    stack_file.write_text(yaml.safe_dump(document))
    program = run_program(read_stack_file(stack_file, secret=DUMMY_SECRET), existing=LAB_CA_ISSUED)
    write_manifests(program, tmp_path / "manifests")
    report = scan(tmp_path / "manifests")
    assert [f.resource for f in report.skipped if "retention" in f.resource]
    assert report.failed == []
