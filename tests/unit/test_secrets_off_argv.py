"""Passwords reach commands on stdin or in files, never in their arguments: anyone on the machine
reads every process's command line (`ps`, /proc/PID/cmdline).

The README's Quickstart and the demo's push/pull flow run here against stand-in commands that log
their arguments and their stdin, so what a real run would put in the process list is what the
stand-ins logged as arguments."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from devkit.pulumi_mocks import ROOT
from devkit.readme import quickstart_commands

PASSWORD = "argv-test-password-7d2e"
DIGEST = "sha256:" + "ab" * 32

# One stand-in for every command: each call logs `ARGS` as one line to argv.log and its stdin
# (when it is not a terminal or empty) to stdin.log; a few print what their callers parse.
STAND_IN = f"""#!/bin/bash
name="$(basename "$0")"
printf '%s %s\\n' "$name" "$*" >> "$LOGS/argv.log"
case "$name $*" in
  "pulumi config get"*) printf '%s\\n' {PASSWORD!r} ;;
  "kubectl -n container-registry get secret"*) printf 'lab-ca' | base64 ;;
  "kubectl -n dev get pod"*) printf 'localhost:32000/demo/busybox@{DIGEST}' ;;
  "bash scripts/node.sh images"*) printf 'busybox\\t/tmp/busybox.tar\\n' ;;
  "skopeo inspect"*) echo {DIGEST} ;;
  "skopeo copy"*"--digestfile"*)
    for arg in "$@"; do [[ "${{previous:-}}" == --digestfile ]] && echo -n {DIGEST} > "$arg"; previous="$arg"; done ;;
esac
case "$name $*" in
  "pulumi config set"*|"skopeo login"*) cat >> "$LOGS/stdin.log" ;;
esac
exit 0
"""


def stand_ins(tmp_path: Path, *names: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in names:
        (bin_dir / name).write_text(STAND_IN)
        (bin_dir / name).chmod(0o755)
    logs = tmp_path / "logs"
    logs.mkdir()
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "LOGS": str(logs), "HOME": str(tmp_path)}


def test_the_quickstart_sets_the_lab_password_through_stdin_not_argv(tmp_path: Path) -> None:
    env = stand_ins(tmp_path, "python3", "microk8s", "pulumi") | {"LAB_PASSWORD": PASSWORD}
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    for tool in ("pip", "python"):
        (tmp_path / ".venv" / "bin" / tool).symlink_to(tmp_path / "bin" / "python3")
    (tmp_path / ".kube").mkdir()
    # The Quickstart copies the committed dev stack file into the reader's own.
    (tmp_path / "Pulumi.dev.yaml").write_text((ROOT / "Pulumi.dev.yaml").read_text())
    subprocess.run(["/bin/bash", "-euo", "pipefail", "-c", quickstart_commands()], cwd=tmp_path,
                   env=env, check=True)  # fmt: skip
    argv = (tmp_path / "logs" / "argv.log").read_text()
    assert "pulumi config set --secret --path auth.users[0].password" in argv
    assert PASSWORD not in argv
    assert (tmp_path / "logs" / "stdin.log").read_text() == PASSWORD


def demo_flow() -> str:
    """scripts/demo.sh's `flow` function (the script runs `up` when executed whole)."""
    script = (ROOT / "scripts" / "demo.sh").read_text()
    match = re.search(r"^flow\(\) \{\n.*?^\}\n", script, re.S | re.M)
    assert match, "scripts/demo.sh has no flow function"
    return match.group(0)


def test_the_demo_pushes_and_pulls_with_the_password_on_stdin_not_argv(tmp_path: Path) -> None:
    env = stand_ins(tmp_path, "kubectl", "skopeo", "pulumi", "bash")
    program = f"""say() {{ :; }}
CONFIG=Pulumi.demo.yaml STACK=demo
{demo_flow()}
flow
"""
    done = subprocess.run(["/bin/bash", "-euo", "pipefail", "-c", program], cwd=tmp_path, env=env,
                          check=True, capture_output=True, text=True)  # fmt: skip
    argv = (tmp_path / "logs" / "argv.log").read_text()
    assert argv.count("skopeo copy") == 2 and "skopeo inspect" in argv
    assert PASSWORD not in argv
    assert PASSWORD in (tmp_path / "logs" / "stdin.log").read_text()
    # The recipe it prints for doing the same by hand passes no password in arguments either.
    recipe = done.stdout[done.stdout.index("The same by hand") :]
    assert "creds" not in recipe and "--password-stdin" in recipe
