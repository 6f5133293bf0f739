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


EXAMPLES = REPO / "docs" / "examples"
PASSPHRASE = "regstack-examples-not-published"


def naming_the_package(example: Path) -> str:
    """The example's Pulumi.yaml as written, but for its package path: a copy is elsewhere, so
    it names the checkout's provider/ by its absolute path."""
    text = example.read_text(encoding="utf-8")
    assert "regstack: ../../../provider" in text
    return text.replace("../../../provider", str(PACKAGE))


def with_language_host(engine: Engine, script: str) -> Engine:
    """`engine` with the language host that scripts/`script` builds (cached) on its PATH, and
    the Python that runs Registry's dynamic resource (the stack key) named, as the examples tell
    their users: only a Python program names a virtualenv for it."""
    subprocess.run(["bash", str(REPO / "scripts" / script)], check=True, stdout=subprocess.DEVNULL)
    built = subprocess.run(["bash", str(REPO / "scripts" / script), "--bin"],
                           check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    path = f"{Path(built).parent}{os.pathsep}{engine.env['PATH']}"
    python = str(engine.venv / "bin" / "python")
    return dataclasses.replace(engine, env=engine.env | {"PATH": path, "PULUMI_PYTHON_CMD": python})


@dataclass
class ExampleProject:
    """An example program of the package (docs/examples/<language>) as a stack in a directory
    of its own; each language's `copy` makes one."""

    engine: Engine
    directory: Path

    def new_stack(self, stack: str, password: str) -> None:
        """A new stack (one state for the session: one name each) with the user's password as
        its secret."""
        self.run("stack", "init", stack)
        self.run("config", "set", "--secret", "registryPassword", password)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.engine.pulumi(*args, cwd=self.directory, check=check, passphrase=PASSPHRASE)

    def outputs(self) -> dict:
        return json.loads(self.run("stack", "output", "--json", "--show-secrets").stdout)


class YamlProject(ExampleProject):
    """The YAML example (docs/examples/yaml/Pulumi.yaml)."""

    @classmethod
    def copy(cls, engine: Engine, tmp: Path, password: str, stack: str = "yaml") -> YamlProject:
        directory = tmp / "regstack-yaml"
        directory.mkdir()
        example = EXAMPLES / "yaml" / "Pulumi.yaml"
        (directory / "Pulumi.yaml").write_text(naming_the_package(example))
        project = cls(with_language_host(engine, "language-yaml.sh"), directory)
        provider_plugins(project.engine)
        project.new_stack(stack, password)
        return project
