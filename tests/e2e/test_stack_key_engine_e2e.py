"""The stack key through the real engine and its dynamic-provider host, without a cluster: made
on the first `up`, kept in state as a secret, unchanged (no diff) on the next preview, and
different in another stack, so one user and password give different htpasswd lines there."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import bcrypt
import pytest
from engine import REPO, SCRIPTS, pulumi_env, toolchain_bin, write_program

pytestmark = pytest.mark.e2e

PASSWORD = "e2e-same-password-in-both-stacks"
PROGRAM = f"""\
import pulumi
from components import htpasswd
from components.stack_key import StackKey, rollout_checksum

key = StackKey("stack-key").secret
pulumi.export("line", key.apply(lambda k: htpasswd.entry("alice", {PASSWORD!r}, 10, k)))
pulumi.export("checksum", rollout_checksum(key, "redis", pulumi.Output.secret({PASSWORD!r})))
"""


class Pulumi:
    def __init__(self, env: dict[str, str], cwd: Path):
        self.env, self.cwd = env, cwd

    def __call__(self, *args: str) -> str:
        exe = shutil.which("pulumi", path=self.env["PATH"]) or "pulumi"
        done = subprocess.run([exe, *args, "--non-interactive"], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
        assert done.returncode == 0, f"pulumi {' '.join(args)}\n{done.stdout}\n{done.stderr}"
        return done.stdout


@pytest.fixture(scope="module")
def pulumi(tmp_path_factory: pytest.TempPathFactory) -> Pulumi:
    # Only the CLI and the Python hosts: no provider, no API server.
    subprocess.run(["bash", str(SCRIPTS / "toolchain.sh"), "pulumi", "language-python"],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    assert (toolchain_bin() / "pulumi-resource-pulumi-python").exists()
    env = pulumi_env(tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("state"))
    project = write_program(tmp_path_factory.mktemp("keyed"), "keyed", PROGRAM, REPO / ".venv")
    return Pulumi(env, project)


def up(pulumi: Pulumi, stack: str) -> dict[str, str]:
    pulumi("up", "--yes", "--skip-preview", "--stack", stack)
    return dict(json.loads(pulumi("stack", "output", "--json", "--show-secrets", "--stack", stack)))


def stack_key(pulumi: Pulumi, stack: str, *show: str) -> object:
    state = json.loads(pulumi("stack", "export", *show, "--stack", stack))
    [key] = [r for r in state["deployment"]["resources"] if r["type"].endswith(":StackKey")]
    return key["outputs"]["key"]


def test_the_key_is_made_once_kept_secret_and_differs_between_stacks(pulumi: Pulumi) -> None:
    pulumi("stack", "init", "one")
    pulumi("stack", "init", "two")
    one = up(pulumi, "one")
    pulumi("preview", "--expect-no-changes", "--stack", "one")
    assert up(pulumi, "one") == one
    two = up(pulumi, "two")
    assert one["line"] != two["line"] and one["checksum"] != two["checksum"]
    assert bcrypt.checkpw(PASSWORD.encode(), one["line"].split(":", 1)[1].encode())
    shown = stack_key(pulumi, "one", "--show-secrets")
    plain = json.loads(shown["plaintext"])  # type: ignore[index]
    assert len(plain) == 64
    assert plain not in pulumi("stack", "export", "--stack", "one")
    assert "ciphertext" in json.dumps(stack_key(pulumi, "one"))
