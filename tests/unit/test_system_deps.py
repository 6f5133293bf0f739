"""scripts/system-deps.sh installs what the tests need and leaves the host's services alone."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "system-deps.sh"
TOOLS = ["docker-registry", "skopeo", "promtool", "redis-server", "containerd", "ctr", "jq", "sshd",
         "openssl", "curl", "runc", "nsenter", "ip", "iptables", "dot", "node", "npm"]  # fmt: skip
HOST_UTILITIES = ["bash", "sort", "grep", "tee", "chmod", "rm", "cat", "printf"]


def run(
    tmp_path: Path, present: list[str], pid1: str = "systemd", cni: bool = True, **env: str
) -> list[str]:
    """Run the script with only `present` test tools on PATH (and the CNI plugins if `cni`);
    return the privileged calls.

    apt-get, systemctl and sudo are recorders: nothing on this machine is installed or changed.
    """
    bin_dir, log, cni_dir = tmp_path / "bin", tmp_path / "calls", tmp_path / "cni"
    bin_dir.mkdir()
    cni_dir.mkdir()
    if cni:
        (cni_dir / "bridge").write_text("#!/bin/sh\n")
        (cni_dir / "bridge").chmod(0o755)
    env = {"REGSTACK_CNI_DIR": str(cni_dir), **env}
    for utility in HOST_UTILITIES:
        (bin_dir / utility).symlink_to(shutil.which(utility) or f"/bin/{utility}")
    stubs = {tool: "exit 0" for tool in present}
    stubs |= {name: f'echo "{name} $*" >> {log}' for name in ("apt-get", "systemctl", "sudo")}
    stubs["id"] = "echo 0"
    stubs["ps"] = f"echo {pid1}"
    for name, body in stubs.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    policy = tmp_path / "policy-rc.d"
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True,
                            env={"PATH": str(bin_dir), "REGSTACK_POLICY_RC": str(policy), **env})  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    assert not policy.exists(), "the temporary policy-rc.d must be removed"
    return log.read_text().splitlines() if log.exists() else []


def test_nothing_is_installed_or_disabled_when_every_tool_is_there(tmp_path: Path) -> None:
    assert run(tmp_path, present=TOOLS) == []


def test_the_test_node_s_cni_plugins_are_installed_when_their_directory_lacks_them(
    tmp_path: Path,
) -> None:
    calls = run(tmp_path, present=TOOLS, cni=False)
    assert "apt-get install -y -qq --no-install-recommends containernetworking-plugins" in calls


def test_a_containerd_from_docker_ce_is_used_as_it_is(tmp_path: Path) -> None:
    """containerd.io provides the commands; Debian's containerd package would conflict."""
    calls = run(tmp_path, present=[t for t in TOOLS if t != "redis-server"])
    assert not any("containerd" in call for call in calls)


def test_only_the_services_of_packages_it_installed_are_disabled(tmp_path: Path) -> None:
    calls = run(tmp_path, present=[t for t in TOOLS if t != "redis-server"])
    assert "apt-get install -y -qq --no-install-recommends redis-server" in calls
    assert [c for c in calls if c.startswith("systemctl")] == ["systemctl disable redis-server"]
    assert not any("--now" in call for call in calls)


def test_without_systemd_no_service_is_touched(tmp_path: Path) -> None:
    calls = run(tmp_path, present=[t for t in TOOLS if t != "redis-server"], pid1="init")
    assert not any(call.startswith("systemctl") for call in calls)


def test_no_apt_lists_what_is_missing_and_fails_without_installing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="missing Debian packages for the tests: redis-server"):
        run(tmp_path, present=[t for t in TOOLS if t != "redis-server"], REGSTACK_NO_APT="1")
    assert not (tmp_path / "calls").exists()
