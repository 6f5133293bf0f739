"""An existing Pulumi project's Python environment with the newest SDKs (newest.txt), built once
from PyPI under ~/.cache/regstack (keyed by those versions) and copied for each test session.

Mocks only: running the newest provider SDKs through the engine needs provider plugins at their
versions, and this machine builds the pulumi-kubernetes provider only at 4.25.0 (the Go module
proxy serves its module only at that pseudo-version, scripts/versions.env).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

NEWEST = Path(__file__).with_name("newest.txt")
CACHE = Path.home() / ".cache" / "regstack" / "library"
# pip's own cache, so that a rebuilt environment and regstack's build backend come from disk.
PIP_ENV = {**os.environ, "PIP_CACHE_DIR": str(CACHE / "pip"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def newest() -> dict[str, str]:
    lines = NEWEST.read_text().splitlines()
    return dict(line.split("==") for line in lines if line and not line.startswith("#"))


def pip(python: Path, *args: str) -> str:
    done = subprocess.run(
        [str(python), "-m", "pip", *args], env=PIP_ENV, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def installed(python: Path) -> dict[str, str]:
    """`pip list`: name -> version, as pip reports them."""
    listed = json.loads(pip(python, "list", "--format=json"))
    return {p["name"].lower().replace("_", "-"): p["version"] for p in listed}


def base_environment() -> Path:
    """The cached environment with the newest SDKs."""
    wanted = f"{sys.version}\n{NEWEST.read_text()}\n"
    key = hashlib.sha256(wanted.encode()).hexdigest()[:16]
    base = CACHE / f"sdk-{key}"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"sdk-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (base / "complete").exists():
            shutil.rmtree(base, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(base)], check=True)
            pip(base / "bin" / "python", "install", "-q", "-r", str(NEWEST))
            (base / "complete").touch()
    return base


def copy_environment(destination: Path) -> Path:
    """A copy of the base environment (its python, to run with `-m`), for one session to change."""
    shutil.copytree(base_environment(), destination, symlinks=True)
    return destination / "bin" / "python"
