"""The retention CLI refuses a malformed argument as bad usage (exit 2), before any request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("url", ["registry.lab.local:32000", "registry.lab.local", "ftp://reg:21"])
def test_a_registry_without_an_http_scheme_is_bad_usage_naming_the_fix(
    tmp_path: Path, url: str
) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text('{"rules": [{"repositories": "*", "keep_last": 3}]}')
    result = subprocess.run(
        [sys.executable, "-m", "components.retention", "--registry", url, "--policy", str(policy)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"{url!r} is not a URL: give the scheme, e.g. https://" in result.stderr
    assert "attempts" not in result.stderr
