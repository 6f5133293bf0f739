"""A dry run from a workstation of a stack's own retention rules, against a real registry:
`python -m components retention-policy` prints what the stack's CronJob mounts."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devkit.oci_registry import RegistryServer, push_image, tags_of

from .conftest import REPO_ROOT, RunEngine

STACK = """config:
  regstack:retention:
    rules:
      - repositories: [team/*]
        keep_last: 1
"""


def retention_policy(stack: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "components", "retention-policy", str(stack)],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip


@pytest.mark.servers
def test_a_stacks_own_rules_plan_a_dry_run_that_deletes_nothing(
    registry: RegistryServer, run_engine: RunEngine, tmp_path: Path
) -> None:
    recent = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    push_image(registry, "team/app", "new", recent)
    push_image(registry, "team/app", "old", "2020-01-01T00:00:00Z")
    push_image(registry, "infra/base", "old", "2020-01-01T00:00:00Z")
    stack = tmp_path / "Pulumi.lab.yaml"
    stack.write_text(STACK)

    printed = retention_policy(stack)
    run = run_engine(registry.url, json.loads(printed.stdout))

    assert (printed.returncode, run.returncode) == (0, 0), printed.stderr + run.stderr
    assert run.actions("team/app") == {"new": "keep", "old": "delete"}
    assert run.actions("infra/base") == {"old": "keep"}  # no rule of the stack names it
    assert tags_of(registry, "team/app") == {"new", "old"}


def test_a_stack_without_retention_rules_has_no_policy_to_print() -> None:
    result = retention_policy(REPO_ROOT / "Pulumi.dev.yaml")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"regstack:retention.rules: {REPO_ROOT / 'Pulumi.dev.yaml'} has no retention rules to print\n"
    )


def test_an_invalid_stack_prints_its_problems_not_a_policy(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.bad.yaml"
    stack.write_text(STACK.replace("team/*", "Team/*"))
    result = retention_policy(stack)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(
        "regstack:retention.rules[0].repositories[0]: 'Team/*' can never"
    )


def test_the_policy_of_a_stack_whose_secrets_are_not_set_yet_prints(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.lab.yaml"
    stack.write_text(STACK + "  regstack:auth:\n    enabled: true\n    users:\n"
                     "      - {name: dev, password: {secure: v1:PLACEHOLDER}}\n")  # fmt: skip
    result = retention_policy(stack)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rules"][0]["repositories"] == ["team/*"]
