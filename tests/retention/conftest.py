"""Fixtures for the retention tests: a real registry and a way to run the engine's CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devkit.oci_registry import TOOLS, RegistryServer
from devkit.registry import require

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryServer]:
    require(*TOOLS)
    server = RegistryServer(tmp_path / "registry").start()
    yield server
    server.stop()


@dataclass
class EngineRun:
    returncode: int
    plan: dict[str, Any]
    stderr: str

    def repository(self, name: str) -> dict[str, Any]:
        return next(r for r in self.plan["repositories"] if r["repository"] == name)

    def actions(self, name: str) -> dict[str, str]:
        return {t["tag"]: t["action"] for t in self.repository(name)["tags"]}


RunEngine = Callable[..., EngineRun]


@pytest.fixture
def run_engine(tmp_path: Path) -> RunEngine:
    """Run `python -S -m components.retention`: -S hides site-packages, so every run also
    proves the engine needs nothing beyond the standard library."""
    counter = iter(range(1000))

    def run(url: str, policy: dict[str, Any], *args: str, timeout: float = 120) -> EngineRun:
        n = next(counter)
        policy_file = tmp_path / f"policy-{n}.json"
        policy_file.write_text(json.dumps(policy))
        plan_file = tmp_path / f"plan-{n}.json"
        done = subprocess.run(
            [
                *(sys.executable, "-S", "-m", "components.retention", "--registry", url),
                *("--policy", str(policy_file), "--plan-file", str(plan_file), *args),
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        plan = json.loads(plan_file.read_text()) if plan_file.exists() else {}
        return EngineRun(done.returncode, plan, done.stderr)

    return run
