"""regstack's component package (provider/) as a YAML or TypeScript program's engine meets it."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from engine import REPO, Engine

PACKAGE = REPO / "provider"


def provider_plugins(engine: Engine) -> None:
    """Put the toolchain's provider binaries in the engine's plugin cache.

    The package's requirements (pulumi-kubernetes, pulumi-command, as installed in the venv) are
    plugins the CLI looks for in its home before it uses the package; offline, it would try to
    download them. The binaries it would download are the ones beside the CLI."""
    pins = dict(re.findall(r"^pulumi-(kubernetes|command)==(\S+)$", (REPO / "constraints.txt")
                           .read_text(encoding="utf-8"), re.MULTILINE))  # fmt: skip
    for name, version in pins.items():
        binary = engine.bin_dir / f"pulumi-resource-{name}"
        engine.pulumi("plugin", "install", "resource", name, version, "--file", str(binary),
                      cwd=REPO)  # fmt: skip


EXAMPLE = REPO / "docs" / "examples" / "yaml" / "Pulumi.yaml"
PASSPHRASE = "regstack-yaml-not-published"


def yaml_host(engine: Engine) -> Engine:
    """`engine` with pulumi-language-yaml (scripts/language-yaml.sh, cached) on its PATH, and
    the Python that runs Registry's dynamic resource (the stack key) named, as the example's
    header asks: the engine starts that provider with `PULUMI_PYTHON_CMD`, and only a Python
    program tells it which virtualenv to use instead."""
    built = subprocess.run(["bash", str(REPO / "scripts" / "language-yaml.sh"), "--bin"],
                           check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    subprocess.run(["bash", str(REPO / "scripts" / "language-yaml.sh")], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    path = f"{Path(built).parent}{os.pathsep}{engine.env['PATH']}"
    python = str(engine.venv / "bin" / "python")
    return dataclasses.replace(engine, env=engine.env | {"PATH": path, "PULUMI_PYTHON_CMD": python})


@dataclass
class YamlProject:
    """The YAML example (docs/examples/yaml) as a new stack in its own directory."""

    engine: Engine
    directory: Path

    @classmethod
    def copy(cls, engine: Engine, tmp: Path, password: str, stack: str = "yaml") -> YamlProject:
        """The example as written, but for its package path: the copy is elsewhere, so it
        names the checkout's provider/ by its absolute path."""
        directory = tmp / "regstack-yaml"
        directory.mkdir()
        text = EXAMPLE.read_text(encoding="utf-8")
        assert "regstack: ../../../provider" in text
        (directory / "Pulumi.yaml").write_text(text.replace("../../../provider", str(PACKAGE)))
        project = cls(yaml_host(engine), directory)
        provider_plugins(project.engine)
        project.run("stack", "init", stack)  # one state for the session: one name each
        project.run("config", "set", "--secret", "registryPassword", password)
        return project

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.engine.pulumi(*args, cwd=self.directory, check=check, passphrase=PASSPHRASE)

    def outputs(self) -> dict:
        return json.loads(self.run("stack", "output", "--json", "--show-secrets").stdout)
