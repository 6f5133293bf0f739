"""End to end: the harbor backend with the offline fixture chart against a real API server.

Uses the `engine` fixture (tests/e2e/conftest.py, provided with the Pulumi toolchain): an object
with `.kubeconfig` (path to a kubeconfig for a local kube-apiserver) and `.env` (environment for
the `pulumi` CLI: PATH, backend URL, passphrase). The program runs from a scratch project that
links this repository's code, so no stack file lands in the work tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_CHART = ROOT / "tests" / "fixtures" / "charts" / "harbor"
STACK = "harbor-e2e"
ADMIN_PASSWORD = "E2e-Admin-Passw0rd"
SEED = "e2e-seed-0123456789-abcdefghijklmnopqrstuv"


class Project:
    """A scratch Pulumi project running regstack's program on one stack."""

    def __init__(self, workdir: Path, engine: Any):
        self.workdir = workdir
        self.env = {**os.environ, **engine.env, "KUBECONFIG": str(engine.kubeconfig)}

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and result.returncode != 0:
            pytest.fail(f"pulumi {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def resources(self) -> list[dict[str, Any]]:
        state = json.loads(self.run("stack", "export", "--stack", STACK).stdout)
        return state["deployment"].get("resources") or []

    def state_text(self) -> str:
        return self.run("stack", "export", "--stack", STACK).stdout

    def live_object(self, kind: str, name: str) -> dict[str, Any]:
        (found,) = [r["outputs"] for r in self.resources()
                    if r["type"] == f"kubernetes:core/v1:{kind}"
                    and r.get("outputs", {}).get("metadata", {}).get("name") == name]  # fmt: skip
        return found


@pytest.fixture
def project(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Project]:
    try:
        engine = request.getfixturevalue("engine")
    except pytest.FixtureLookupError:
        pytest.skip("needs the `engine` fixture of tests/e2e/conftest.py (Pulumi toolchain)")
    workdir = tmp_path / "project"
    workdir.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", workdir)
    for name in ("__main__.py", "components", ".venv"):
        (workdir / name).symlink_to(ROOT / name)
    config = {
        "regstack:profile": "dev",
        "regstack:backend": "harbor",
        # A bare API server has no nodes: pods never become ready.
        "regstack:skip_await": True,
        "regstack:registry": {"namespace": "harbor-e2e"},
        "regstack:harbor": {
            "chart": {"path": str(FIXTURE_CHART)},
            "expose": {"type": "nodePort"},
        },
    }
    (workdir / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}))
    project = Project(workdir, engine)
    project.run("stack", "init", STACK)
    for key, value in (("harbor.admin_password", ADMIN_PASSWORD), ("harbor.secret_seed", SEED)):
        project.run("config", "set", "--stack", STACK, "--secret", "--path", key, value)
    try:
        yield project
    finally:
        project.run("destroy", "--yes", "--stack", STACK, check=False)
        project.run("stack", "rm", "--yes", "--force", STACK, check=False)


def test_harbor_installs_stays_unchanged_upgrades_and_is_destroyed(project: Project) -> None:
    project.run("up", "--yes", "--skip-preview", "--stack", STACK)
    core = project.live_object("ConfigMap", "harbor-core")
    assert core["data"]["EXT_ENDPOINT"] == "http://localhost:30002"

    # Every value the chart would draw at random is pinned: a second run has nothing to do.
    project.run("preview", "--expect-no-changes", "--stack", STACK)
    state = project.state_text()
    assert ADMIN_PASSWORD not in state and SEED not in state

    project.run(
        "config", "set", "--stack", STACK, "--path", "harbor.expose.node_ports.http", "30080"
    )
    project.run("up", "--yes", "--skip-preview", "--stack", STACK)
    assert project.live_object("ConfigMap", "harbor-core")["data"]["EXT_ENDPOINT"] == (
        "http://localhost:30080"
    )
    service = project.live_object("Service", "harbor")
    assert {p["name"]: p["nodePort"] for p in service["spec"]["ports"]}["http"] == 30080
    project.run("preview", "--expect-no-changes", "--stack", STACK)

    project.run("destroy", "--yes", "--stack", STACK)
    assert [r for r in project.resources() if r["type"].startswith("kubernetes:")] == []
