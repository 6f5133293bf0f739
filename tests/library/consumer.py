"""An existing Pulumi project's Python environment with the newest SDKs (newest.txt), built once
from PyPI under ~/.cache/regstack (keyed by those versions) and copied for each test session.

Mocks only: running the newest SDKs through the engine needs a Pulumi CLI and a
pulumi-kubernetes provider plugin at matching versions, and this machine builds the provider only
at 4.25.0 (the Go module proxy serves its module only at that pseudo-version, scripts/versions.env).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from devkit.pulumi_mocks import ROOT

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
    """The cached environment with the newest SDKs (and pytest, for the unit suite)."""
    wanted = f"{sys.version}\n{NEWEST.read_text()}\n{dev_tools()}"
    key = hashlib.sha256(wanted.encode()).hexdigest()[:16]
    base = CACHE / f"sdk-{key}"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"sdk-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (base / "complete").exists():
            shutil.rmtree(base, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(base)], check=True)
            pip(base / "bin" / "python", "install", "-q", "-r", str(NEWEST), *dev_tools())
            (base / "complete").touch()
    return base


def copy_environment(destination: Path) -> Path:
    """A copy of the base environment (its python, to run with `-m`), for one session to change."""
    shutil.copytree(base_environment(), destination, symlinks=True)
    return destination / "bin" / "python"


def dev_tools() -> list[str]:
    """pytest and hypothesis at the versions of the project's dev extra."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    return [pin for pin in extra["dev"] if pin.split("==")[0] in ("pytest", "hypothesis")]
