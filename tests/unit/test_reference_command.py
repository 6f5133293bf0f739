"""`python -m components.reference` writes the config page only when asked to regenerate it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from devkit.pulumi_mocks import ROOT


def run_in_copy(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run the command in a copy of the project whose config page's table is stale."""
    shutil.copytree(ROOT / "components", tmp_path / "components",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    readme = tmp_path / "docs" / "reference" / "config.md"
    readme.parent.mkdir(parents=True)
    page = (ROOT / "docs" / "reference" / "config.md").read_text()
    readme.write_text(page.replace("| `profile` |", "| `stale` |"))
    result = subprocess.run(
        [sys.executable, "-m", "components.reference", *args],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return result, readme


def test_help_prints_the_usage_and_leaves_the_page_alone(tmp_path: Path) -> None:
    result, readme = run_in_copy(tmp_path, "--help")
    assert (result.returncode, result.stdout.startswith("usage: ")) == (0, True)
    assert "| `stale` |" in readme.read_text()


def test_check_reports_a_stale_table_with_exit_1_and_writes_nothing(tmp_path: Path) -> None:
    result, readme = run_in_copy(tmp_path, "--check")
    assert result.returncode == 1
    assert "the config reference is out of date" in result.stderr
    assert "| `stale` |" in readme.read_text()


def test_without_arguments_the_stale_table_is_regenerated(tmp_path: Path) -> None:
    result, readme = run_in_copy(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "| `stale` |" not in readme.read_text()
    assert "| `profile` |" in readme.read_text()
