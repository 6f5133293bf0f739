"""The chapter's `latest` and environment alias tags, from `python -m components.images tags`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from components.images import pipeline_tags
from devkit.pulumi_mocks import ROOT

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_a_release_for_prod_is_also_prod_stable_and_latest() -> None:
    assert pipeline_tags(SHA, "refs/tags/v1.2.3", environment="prod") == [
        "sha-0123456", "v1.2.3", "prod", "stable", "latest",
    ]  # fmt: skip


def test_a_pre_release_for_staging_is_also_staging_and_never_latest() -> None:
    assert pipeline_tags(SHA, "refs/tags/v1.3.0-rc1", environment="staging") == [
        "sha-0123456", "v1.3.0-rc1", "staging",
    ]  # fmt: skip


def test_a_branch_build_for_dev_is_also_dev() -> None:
    assert pipeline_tags(SHA, "refs/heads/main", environment="dev") == [
        "sha-0123456",
        "main",
        "dev",
    ]


@pytest.mark.parametrize(
    ("ref", "environment", "message"),
    [
        ("refs/tags/v1.3.0-rc1", "prod", "only a release version"),
        ("refs/heads/main", "prod", "only a release version"),
        ("refs/heads/main", "staging", "staging takes a version"),
        ("refs/heads/main", "qa", "is not one of dev, staging, prod"),
    ],
)
def test_an_alias_the_build_does_not_deserve_is_refused(
    ref: str, environment: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        pipeline_tags(SHA, ref, environment=environment)


def test_the_command_prints_the_aliases_as_full_references() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "components.images", "tags", "--sha", SHA, "--ref", "refs/tags/v2.0.0",
         "--environment", "prod", "--image", "registry.example.com/chapter/app"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert result.stdout.splitlines()[-1] == "registry.example.com/chapter/app:latest"
