"""scripts/cluster.sh and node.sh signal, as root, only the processes they started: a pid read
back from .regstack/*.env is checked against the start time recorded with it, since after the
process ended (or the machine rebooted) the same number may name any other process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.pulumi_mocks import ROOT

SCRIPTS = ROOT / "scripts"


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """A process the scripts did not start, whose pid a stale record may hold."""
    process = subprocess.Popen(["sleep", "600"])
    yield process
    process.kill()
    process.wait()


def record_for(pid: int, start: str | None) -> str:
    """cluster.env as cluster.sh writes it, with ETCD_PID's start time `start`."""
    start_line = "" if start is None else f"ETCD_PID_START={start}\n"
    return f"DATA=/nonexistent/regstack-cluster.test\nETCD_PID={pid}\n{start_line}"


def processes_sh(command: str) -> str:
    """The output of `command` in bash with scripts/processes.sh sourced."""
    script = f'log() {{ :; }}; source "{SCRIPTS / "processes.sh"}"; {command}'
    return subprocess.run(["bash", "-c", script], check=True, capture_output=True,
                          text=True).stdout  # fmt: skip


def start_time(pid: int) -> str:
    """The start time processes.sh records for `pid`."""
    return processes_sh(f"start_time {pid}").strip()


def cluster_down(state: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, REGSTACK_STATE=str(state))
    return subprocess.run(["bash", str(SCRIPTS / "cluster.sh"), "down"], env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip


@pytest.mark.parametrize("recorded", [None, "1@another-boot"], ids=["old record", "other start"])
def test_a_recorded_pid_that_now_names_another_process_is_left_alone(
    tmp_path: Path, bystander: subprocess.Popen[bytes], recorded: str | None
) -> None:
    (tmp_path / "cluster.env").write_text(record_for(bystander.pid, recorded))
    done = cluster_down(tmp_path)
    assert bystander.poll() is None, "cluster.sh down killed a process it had not started"
    assert f"pid {bystander.pid} (recorded as ETCD_PID) is no longer ours" in done.stderr


def test_a_recorded_pid_that_is_still_the_one_started_is_stopped(
    tmp_path: Path, bystander: subprocess.Popen[bytes]
) -> None:
    # The lines cluster.sh's save_record writes for it.
    lines = processes_sh(f"ETCD_PID={bystander.pid}; record_pids ETCD_PID")
    (tmp_path / "cluster.env").write_text(f"DATA=/nonexistent/regstack-cluster.test\n{lines}")
    cluster_down(tmp_path)
    assert bystander.wait() == -15  # SIGTERM, from stop_pid


def test_the_start_time_survives_a_command_name_with_spaces_and_parentheses(
    tmp_path: Path,
) -> None:
    odd = tmp_path / "a b) c"
    odd.symlink_to("/bin/sleep")
    process = subprocess.Popen([str(odd), "600"])
    try:
        ticks = int(Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        assert start_time(process.pid).split("@")[0] == str(ticks)
    finally:
        process.kill()
        process.wait()


def test_node_down_leaves_a_process_outside_the_node_that_names_its_data_directory(
    tmp_path: Path,
) -> None:
    # Say an administrator's `tail -f` of a node log: named after the directory, not the node's.
    data = tmp_path / "regstack-node.test"
    data.mkdir()
    (tmp_path / "node.env").write_text(
        f"NODE_DATA={data}\nCGROUP_ROOT={data.name}\nNODE_NET_NS=net:[1]\nNODE_PORTS=32000\n"
    )
    (data / "containerd.log").touch()
    reader = subprocess.Popen(["tail", "-f", f"{data}/containerd.log"], stdout=subprocess.DEVNULL)
    try:
        env = dict(os.environ, REGSTACK_STATE=str(tmp_path))
        subprocess.run(["bash", str(SCRIPTS / "node.sh"), "down"], env=env, check=True,
                       capture_output=True)  # fmt: skip
        assert reader.poll() is None, "node.sh down killed a process outside the node"
    finally:
        reader.kill()
        reader.wait()
