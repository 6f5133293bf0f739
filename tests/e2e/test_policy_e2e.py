"""End to end: `pulumi preview --policy-pack policy` with the real engine and API server.

Uses the `engine` fixture (tests/e2e/conftest.py, provided with the Pulumi toolchain): an object
with `.kubeconfig` and `.env` (environment for the `pulumi` CLI, `pulumi` on its PATH). Each
program runs from a scratch project, so no stack file lands in the work tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from devkit.vendor import harbor_chart

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
STACK = "policy-e2e"

# A careless program: what the pack exists to stop before anything reaches the cluster.
BAD_PROGRAM = """\
import pulumi_kubernetes as k8s

k8s.apps.v1.Deployment(
    "web",
    metadata={"name": "web", "namespace": "default"},
    spec={
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [{"name": "nginx", "image": "docker.io/nginx:latest",
                                "securityContext": {"privileged": True}}],
                "volumes": [{"name": "docker", "hostPath": {"path": "/var/run"}}],
            },
        },
    },
)
"""


@pytest.fixture
def env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The `pulumi` CLI's environment, pointed at the test cluster."""
    try:
        engine = request.getfixturevalue("engine")
    except pytest.FixtureLookupError:
        pytest.skip("needs the `engine` fixture of tests/e2e/conftest.py (Pulumi toolchain)")
    return {**os.environ, **engine.env, "KUBECONFIG": str(engine.kubeconfig)}


def preview(
    workdir: Path, env: dict[str, str], config: str, secrets: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    def pulumi(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["pulumi", *args, "--non-interactive"], cwd=workdir, env=env,
                              input=stdin, capture_output=True, text=True, timeout=600)  # fmt: skip

    pulumi("stack", "init", STACK)
    try:
        # Encrypted as a user sets them: the program refuses a password in plaintext.
        for path, value in (secrets or {}).items():
            pulumi("config", "set", "--secret", "--path", path, "--stack", STACK, stdin=value)
        return pulumi("preview", "--stack", STACK, "--policy-pack", str(ROOT / "policy"),
                      "--policy-pack-config", str(ROOT / "policy" / "config" / config))  # fmt: skip
    finally:
        pulumi("stack", "rm", "--yes", "--force", STACK)


def scratch_project(workdir: Path, main: Path | str, config: dict[str, Any]) -> Path:
    workdir.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", workdir)
    (workdir / ".venv").symlink_to(ROOT / ".venv")
    if isinstance(main, Path):
        (workdir / "__main__.py").symlink_to(main)
        (workdir / "components").symlink_to(ROOT / "components")
    else:
        (workdir / "__main__.py").write_text(main)
    (workdir / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}))
    return workdir


def test_the_dev_stack_previews_cleanly_under_the_policy_pack(
    env: dict[str, str], tmp_path: Path
) -> None:
    config = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    # The committed password is encrypted for the dev stack only: this stack sets its own.
    del config["regstack:auth"]["users"][0]["password"]
    config["regstack:skip_await"] = True
    workdir = scratch_project(tmp_path / "dev", ROOT / "__main__.py", config)
    secrets = {"regstack:auth.users[0].password": "policy-e2e-password"}
    result = preview(workdir, env, "dev.json", secrets)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mandatory" not in result.stdout


def test_a_bad_program_is_refused_with_how_to_fix_messages(
    env: dict[str, str], tmp_path: Path
) -> None:
    workdir = scratch_project(tmp_path / "bad", BAD_PROGRAM, {})
    result = preview(workdir, env, "prod.json")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "push it there and reference registry.example.com/nginx:" in output
    assert "remove securityContext.privileged: true" in output
    assert "volume docker is a hostPath" in output


def test_the_prod_stack_previews_cleanly_under_the_policy_pack(
    env: dict[str, str], tmp_path: Path
) -> None:
    config = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    harbor = config["regstack:harbor"]
    # Placeholders in the committed file: this stack sets its own.
    del harbor["admin_password"], harbor["secret_seed"]
    # helm.goharbor.io is out of reach here: the same chart, from the vendor directory.
    harbor["chart"] = {"path": str(harbor_chart())}
    config["regstack:skip_await"] = True
    workdir = scratch_project(tmp_path / "prod", ROOT / "__main__.py", config)
    secrets = {"regstack:harbor.admin_password": "policy-e2e-admin-password",
               "regstack:harbor.secret_seed": "policy-e2e-secret-seed-of-32-bytes!"}  # fmt: skip
    # Its own passphrase: the program refuses a prod profile under the published lab one.
    own = env | {"PULUMI_CONFIG_PASSPHRASE": "policy-e2e-not-published"}
    result = preview(workdir, own, "prod.json", secrets)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mandatory" not in result.stdout
