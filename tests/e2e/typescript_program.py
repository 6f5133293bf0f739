"""A TypeScript Pulumi program under the engine tests: Pulumi's Node.js language host
(scripts/language-nodejs.sh) beside the toolchain, and the program's npm packages installed
offline from regstack's npm cache (scripts/npm-parts.sh), as `npm ci` installs them for a user;
and the TypeScript example of regstack's component package as a stack."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from component_package import PACKAGE, provider_plugins
from engine import REPO, SCRIPTS, Engine


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


EXAMPLE = REPO / "docs" / "examples" / "typescript"
PASSPHRASE = "regstack-typescript-not-published"


@dataclass
class TypeScriptProject:
    """The TypeScript example (docs/examples/typescript) as a new stack in its own directory,
    with the component package's SDK generated and every npm package installed."""

    engine: Engine
    directory: Path

    @classmethod
    def copy(cls, engine: Engine, tmp: Path, password: str) -> TypeScriptProject:
        """The example as written, but for its package path: the copy is elsewhere, so it
        names the checkout's provider/ by its absolute path. `pulumi install` then does what
        it does for a user: generates the SDK into sdks/ and runs `npm install` (offline here)."""
        directory = tmp / "regstack-typescript"
        shutil.copytree(EXAMPLE, directory, ignore=shutil.ignore_patterns("node_modules", "sdks"))
        text = (directory / "Pulumi.yaml").read_text(encoding="utf-8")
        assert "regstack: ../../../provider" in text
        (directory / "Pulumi.yaml").write_text(text.replace("../../../provider", str(PACKAGE)))
        # The Python that runs Registry's dynamic resource (the stack key), as the example's
        # header says.
        env = nodejs_env(engine.env) | {"PULUMI_PYTHON_CMD": str(engine.venv / "bin" / "python")}
        project = cls(dataclasses.replace(engine, env=env), directory)
        provider_plugins(project.engine)
        project.run("install")
        project.run("stack", "init", "typescript")
        project.run("config", "set", "--secret", "registryPassword", password)
        return project

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.engine.pulumi(*args, cwd=self.directory, check=check, passphrase=PASSPHRASE)

    def outputs(self) -> dict:
        return json.loads(self.run("stack", "output", "--json", "--show-secrets").stdout)
