"""A TypeScript Pulumi program under the engine tests: Pulumi's Node.js language host
(scripts/language-nodejs.sh) beside the toolchain, and the program's npm packages installed
offline from regstack's npm cache (scripts/npm-parts.sh), as `npm ci` installs them for a user."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from engine import SCRIPTS


def _script_output(*args: str) -> str:
    return subprocess.run(
        ["bash", *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def nodejs_env(env: dict[str, str]) -> dict[str, str]:
    """`env` (an Engine's) with the Node.js language host on PATH, where the CLI finds language
    hosts, and npm installing from regstack's cache only. Builds and fetches what is missing."""
    subprocess.run(
        ["bash", str(SCRIPTS / "language-nodejs.sh")], check=True, stdout=subprocess.DEVNULL
    )
    subprocess.run(["bash", str(SCRIPTS / "npm-parts.sh")], check=True, stdout=subprocess.DEVNULL)
    host = Path(_script_output(str(SCRIPTS / "language-nodejs.sh"), "--bin"))
    return env | {
        "PATH": f"{host.parent}:{env['PATH']}",
        "npm_config_cache": _script_output(str(SCRIPTS / "npm-parts.sh"), "--cache-dir"),
        "npm_config_offline": "true",
        "npm_config_update_notifier": "false",
    }


def copy_program(source: Path, directory: Path, env: dict[str, str]) -> Path:
    """A copy of the program in `source` with its locked packages installed (`npm ci`)."""
    shutil.copytree(source, directory, ignore=shutil.ignore_patterns("node_modules"))
    proc = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise AssertionError(f"npm ci in {directory} exited {proc.returncode}\n{proc.stderr}")
    return directory
