"""A throwaway copy of the regstack project, driven by the real pulumi CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import REPO, Engine

# A fresh stack's own passphrase: the program refuses a prod profile under the published lab
# passphrase (`regstack-local`), which only copies of the committed dev stack keep.
E2E_PASSPHRASE = "regstack-e2e-not-published"


@dataclass
class RegstackProject:
    """The project's program and one stack file, copied so tests may change config freely."""

    engine: Engine
    directory: Path
    stack: str
    passphrase: str | None = None
    """None: the lab's, for a stack file encrypted with it (the committed dev stack's)."""

    @classmethod
    def copy(
        cls,
        engine: Engine,
        tmp_path: Path,
        stack: str,
        source: Path | None = None,
        passphrase: str | None = None,
    ) -> RegstackProject:
        """A copy of `source` (Pulumi.STACK.yaml) as a new stack; its passphrase: `passphrase`,
        else the lab's if the file is encrypted with it, else E2E_PASSPHRASE."""
        directory = tmp_path / f"regstack-{stack}"
        directory.mkdir()
        (directory / "Pulumi.yaml").write_text(
            "name: regstack\nruntime:\n  name: python\n  options:\n"
            f"    toolchain: pip\n    virtualenv: {engine.venv}\n"
        )
        shutil.copy(REPO / "__main__.py", directory / "__main__.py")
        stack_file = directory / f"Pulumi.{stack}.yaml"
        shutil.copy(source or REPO / f"Pulumi.{stack}.yaml", stack_file)
        salted = "\nencryptionsalt:" in "\n" + stack_file.read_text()
        project = cls(engine, directory, stack, passphrase or (None if salted else E2E_PASSPHRASE))
        engine.pulumi("stack", "init", stack, cwd=directory, passphrase=project.passphrase)
        # The API server has no nodes, so workloads never become ready (see README).
        project.run("config", "set", "regstack:skip_await", "true")
        return project

    @classmethod
    def dev_variant(
        cls, engine: Engine, tmp_path: Path, stack: str, namespace: str, password: str
    ) -> RegstackProject:
        """The dev stack under another stack name, in its own namespace, with its user's password."""
        engine.cluster.create_namespace("observability")  # where the dev stack's dashboard goes
        project = cls.copy(engine, tmp_path, stack, source=REPO / "Pulumi.dev.yaml")
        project.set_secret("regstack:auth.users[0].password", password)
        project.set_path("regstack:registry.namespace", namespace)
        # Namespaces of its own: regstack refuses to create one that exists (another stack's).
        for index, team in enumerate(("dev", "staging")):
            # --plaintext: the CLI takes any key naming "secret" for one and refuses it otherwise.
            project.run("config", "set", "--plaintext", "--path",
                        f"regstack:pull_secrets.namespaces[{index}]", f"{namespace}-{team}")  # fmt: skip
        return project

    def use_program(self, program: Path) -> None:
        """Make `program` (a `__main__.py`, with `components/` beside it or not) the project's:
        another release's, say; its `components/` then comes first on the program's path."""
        shutil.rmtree(self.directory / "components", ignore_errors=True)
        if (program.parent / "components").is_dir():
            shutil.copytree(program.parent / "components", self.directory / "components")
        shutil.copy(program, self.directory / "__main__.py")

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.engine.pulumi(*args, "--stack", self.stack, cwd=self.directory, check=check,
                                  passphrase=self.passphrase)  # fmt: skip

    def set_secret(self, path: str, value: str) -> None:
        # On stdin: a value such as a PEM key starts with "-" and would read as a flag.
        self.engine.pulumi("config", "set", "--secret", "--path", path, "--stack", self.stack,
                           cwd=self.directory, stdin=value, passphrase=self.passphrase)  # fmt: skip

    def set_path(self, path: str, value: str) -> None:
        self.run("config", "set", "--path", path, value)

    def up(self, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("up", "--yes", "--skip-preview", check=check)

    def preview_steps(self) -> list[tuple[str, str]]:
        """(operation, resource type::name) for every step that changes something: not `same`,
        nor the `read` of the stack's own last outputs (components/data_guard.py) each run makes."""
        out = self.run("preview", "--json").stdout
        steps = json.loads(out).get("steps", [])
        return sorted(
            (s["op"], s["urn"].split("::")[-2].split("$")[-1] + "::" + s["urn"].split("::")[-1])
            for s in steps if s["op"] not in ("same", "read")
        )  # fmt: skip

    def export(self) -> str:
        return self.run("stack", "export", "--show-secrets=false").stdout

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.run("stack", "output", "--json").stdout)

    def destroy(self, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("destroy", "--yes", "--skip-preview", check=check)

    def remove(self) -> None:
        self.run("stack", "rm", "--yes", "--force", check=False)
