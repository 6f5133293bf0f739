"""A TypeScript Pulumi program under the engine tests: Pulumi's Node.js language host
(scripts/language-nodejs.sh) beside the toolchain, and the program's npm packages installed
offline from regstack's npm cache (scripts/npm-parts.sh), as `npm ci` installs them for a user;
and the TypeScript example of regstack's component package as a stack."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

from component_package import (
    EXAMPLES,
    ExampleProject,
    naming_the_package,
    provider_plugins,
    with_language_host,
)
from engine import SCRIPTS, Engine


def _script_output(*args: str) -> str:
    return subprocess.run(
        ["bash", *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def nodejs_env(env: dict[str, str]) -> dict[str, str]:
    """`env` (an Engine's) with the Node.js language host on PATH, where the CLI finds language
    hosts, and npm offline (`npm_offline`). Builds the host if missing."""
    subprocess.run(
        ["bash", str(SCRIPTS / "language-nodejs.sh")], check=True, stdout=subprocess.DEVNULL
    )
    host = Path(_script_output(str(SCRIPTS / "language-nodejs.sh"), "--bin"))
    return npm_offline(env | {"PATH": f"{host.parent}:{env['PATH']}"})


def npm_offline(env: dict[str, str]) -> dict[str, str]:
    """`env` with npm installing from regstack's cache only; fetches what the cache lacks."""
    subprocess.run(["bash", str(SCRIPTS / "npm-parts.sh")], check=True, stdout=subprocess.DEVNULL)
    return env | {
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


class TypeScriptProject(ExampleProject):
    """The TypeScript example (docs/examples/typescript), its package's SDK generated and every
    npm package installed."""

    @classmethod
    def copy(cls, engine: Engine, tmp: Path, password: str) -> TypeScriptProject:
        """`pulumi install` does what it does for a user: generates the SDK into sdks/ and runs
        `npm install` (offline here, from regstack's npm cache)."""
        example = EXAMPLES / "typescript"
        directory = tmp / "regstack-typescript"
        shutil.copytree(example, directory, ignore=shutil.ignore_patterns("node_modules", "sdks"))
        (directory / "Pulumi.yaml").write_text(naming_the_package(example / "Pulumi.yaml"))
        host = with_language_host(engine, "language-nodejs.sh")
        project = cls(dataclasses.replace(host, env=npm_offline(host.env)), directory)
        provider_plugins(project.engine)
        project.run("install")
        project.new_stack("typescript", password)
        return project
