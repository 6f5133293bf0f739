"""Smoke test of the real engine: the built pulumi CLI, our Python language
host and pulumi-resource-kubernetes create, diff and destroy real objects on
the throwaway API server."""

from __future__ import annotations

import importlib.metadata
import json
import os
import pwd
import subprocess
import time
from pathlib import Path

import pytest
from engine import SCRIPTS, Engine, write_program

pytestmark = pytest.mark.e2e

PROGRAM = """\
import pulumi
import pulumi_kubernetes as k8s

cfg = pulumi.Config()
provider = k8s.Provider("test-cluster", kubeconfig=cfg.require("kubeconfigPath"))
opts = pulumi.ResourceOptions(provider=provider)
ns = k8s.core.v1.Namespace(
    "smoke", metadata={"name": "engine-smoke"}, opts=opts
)
cm = k8s.core.v1.ConfigMap(
    "smoke",
    metadata={"name": "smoke", "namespace": ns.metadata["name"]},
    data={"hello": "world"},
    opts=opts,
)
pulumi.export("configmap", cm.metadata["name"])
"""

VERSIONS_PROGRAM = """\
import importlib.metadata
import pulumi

for sdk in ("pulumi", "pulumi-kubernetes", "pydantic"):
    pulumi.export(sdk, importlib.metadata.version(sdk))
"""
CM_PATH = "/api/v1/namespaces/engine-smoke/configmaps/smoke"
NS_PATH = "/api/v1/namespaces/engine-smoke"


def test_up_preview_destroy(engine: Engine, tmp_path: Path) -> None:
    project = write_program(tmp_path / "smoke", "engine-smoke", PROGRAM, engine.venv)
    engine.pulumi("stack", "init", "smoke", cwd=project)
    engine.pulumi("config", "set", "kubeconfigPath", str(engine.kubeconfig), cwd=project)

    engine.pulumi("up", "--yes", "--skip-preview", cwd=project)
    status, body = engine.cluster.get(CM_PATH)
    assert status == 200, body
    assert body["data"] == {"hello": "world"}
    # Server-side apply (the provider's default) records pulumi as field manager.
    managers = {f.get("manager", "") for f in body["metadata"].get("managedFields", [])}
    assert any(m.startswith("pulumi") for m in managers), managers

    engine.pulumi("preview", "--expect-no-changes", cwd=project)

    engine.pulumi("destroy", "--yes", "--skip-preview", cwd=project)
    status, _ = engine.cluster.get(CM_PATH)
    assert status == 404
    # The namespace controller finishes the Namespace's deletion.
    deadline = time.monotonic() + 60
    while engine.cluster.get(NS_PATH)[0] != 404:
        assert time.monotonic() < deadline, "namespace engine-smoke was not deleted"
        time.sleep(1)

    engine.pulumi("stack", "rm", "--yes", cwd=project)


def test_the_program_runs_on_the_sdks_the_tests_run_on(engine: Engine, tmp_path: Path) -> None:
    """Both ends of the version ranges (`make test-newest-engine` runs these tests on the newest
    `pulumi` SDK): the engine must run the program in that environment too, not in .venv."""
    project = write_program(tmp_path / "sdks", "engine-sdks", VERSIONS_PROGRAM, engine.venv)
    engine.pulumi("stack", "init", "sdks", cwd=project)
    engine.pulumi("up", "--yes", "--skip-preview", cwd=project)
    outputs = json.loads(engine.pulumi("stack", "output", "--json", cwd=project).stdout)
    engine.pulumi("stack", "rm", "--yes", "--force", cwd=project)
    assert outputs == {sdk: importlib.metadata.version(sdk) for sdk in outputs}
    assert set(outputs) == {"pulumi", "pulumi-kubernetes", "pydantic"}


def test_listing_the_toolchain_writes_nothing_into_the_users_pulumi_home(engine: Engine) -> None:
    # The CLI logs every command under the passwd home's ~/.pulumi unless PULUMI_HOME says
    # otherwise, whatever $HOME is; the toolchain listing runs `pulumi version`.
    logs = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".pulumi" / "logs"
    before = set(logs.iterdir()) if logs.is_dir() else set()
    subprocess.run(["bash", str(SCRIPTS / "toolchain.sh")], check=True, capture_output=True)
    after = set(logs.iterdir()) if logs.is_dir() else set()
    assert after == before
