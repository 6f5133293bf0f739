"""scripts/pulumi-env.sh sets up the offline toolchain only when it is there, and keeps prompts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "pulumi-env.sh"


def sourced(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Source the script in bash; on success print the resulting environment."""
    return subprocess.run(
        ["bash", "-c", f'source "{SCRIPT}" && env'], capture_output=True, text=True, env=env
    )


def test_without_a_built_toolchain_it_says_what_to_run_and_changes_nothing(
    tmp_path: Path,
) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path),
           "REGSTACK_TOOLCHAIN_CACHE": str(tmp_path / "empty")}  # fmt: skip
    result = sourced(env)
    assert result.returncode == 1 and "run 'make toolchain' first" in result.stderr


def test_without_go_no_empty_entry_reaches_path(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "cat", "env"):
        (bin_dir / tool).symlink_to(shutil.which(tool) or f"/bin/{tool}")
    result = subprocess.run(
        ["bash", "-c", f'source "{SCRIPT}"; echo "PATH=$PATH"'],
        capture_output=True, text=True, env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
    )  # fmt: skip
    assert "run 'make toolchain' first" in result.stderr
    assert result.stdout.strip() == f"PATH={bin_dir}"


def with_toolchain(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment after sourcing the script, with a stand-in CLI where the toolchain goes."""
    cache = tmp_path / "toolchain"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path),
           "REGSTACK_TOOLCHAIN_CACHE": str(cache), "PULUMI_HOME": str(tmp_path / "home"),
           "REGSTACK_PULUMI_STATE": str(tmp_path / "state"), **extra}  # fmt: skip
    bin_dir = Path(
        subprocess.run(["bash", str(ROOT / "scripts" / "toolchain.sh"), "--bin-dir"], env=env,
                       check=True, capture_output=True, text=True).stdout.strip()
    )  # fmt: skip
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / "pulumi").write_text("#!/bin/sh\n")
    (bin_dir / "pulumi").chmod(0o755)
    result = sourced(env)
    assert result.returncode == 0, result.stderr
    values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    values["bin_dir"] = str(bin_dir)
    return values


needs_go = pytest.mark.skipif(
    shutil.which("go") is None, reason="the toolchain's cache key needs Go"
)


@needs_go
def test_with_the_toolchain_built_the_cli_is_first_on_path_and_prompts_stay_on(
    tmp_path: Path,
) -> None:
    values = with_toolchain(tmp_path)
    assert values["PATH"].split(":")[0] == values["bin_dir"]
    assert "PULUMI_SKIP_CONFIRMATIONS" not in values


@needs_go
def test_the_lab_state_gets_the_published_lab_passphrase(tmp_path: Path) -> None:
    values = with_toolchain(tmp_path)
    assert values["PULUMI_BACKEND_URL"] == f"file://{tmp_path / 'state'}?metadata=skip"
    assert values["PULUMI_CONFIG_PASSPHRASE"] == "regstack-local"


@needs_go
def test_a_backend_of_your_own_never_gets_the_published_lab_passphrase(tmp_path: Path) -> None:
    # A prod stack created there would be encrypted with a passphrase the README publishes.
    values = with_toolchain(tmp_path, PULUMI_BACKEND_URL="s3://team-state")
    assert values["PULUMI_BACKEND_URL"] == "s3://team-state"
    assert "PULUMI_CONFIG_PASSPHRASE" not in values


@needs_go
def test_a_passphrase_file_of_your_own_is_not_shadowed_by_the_lab_passphrase(
    tmp_path: Path,
) -> None:
    values = with_toolchain(tmp_path, PULUMI_CONFIG_PASSPHRASE_FILE=str(tmp_path / "mine"))
    assert "PULUMI_CONFIG_PASSPHRASE" not in values
