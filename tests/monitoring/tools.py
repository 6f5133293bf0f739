"""The real binaries these tests drive; missing ones fail with a way to install them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"promtool": "prometheus", "docker-registry": "docker-registry", "skopeo": "skopeo"}


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.fail(
            f"{binary} is not installed; run `make system-deps` "
            f"(Debian package {PACKAGES[binary]})",
            pytrace=False,
        )
    return path


def write_yaml(path: Path, document: object) -> Path:
    # width: one PromQL expression per line, so promtool's messages quote it whole.
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=10_000), encoding="utf-8")
    return path


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require("promtool"), *map(str, args)], capture_output=True, text=True, timeout=300
    )
