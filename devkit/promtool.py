"""promtool, the Prometheus rule checker the monitoring tests drive, and the rule files it reads."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from devkit.registry import require

ROOT = Path(__file__).resolve().parents[1]


def write_yaml(path: Path, document: object) -> Path:
    # width: one PromQL expression per line, so promtool's messages quote it whole.
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=10_000), encoding="utf-8")
    return path


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_promtool(), *map(str, args)], capture_output=True, text=True, timeout=300
    )


def _promtool() -> str:
    require("promtool")
    return str(shutil.which("promtool"))
