"""The e2e helpers' own promise: a pulumi run that times out leaves no process behind."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from engine import _run_as_group


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of a dead parent is reaped by init; until then it is a zombie.
    return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()


def test_a_timed_out_run_kills_the_children_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    # Like the CLI's providers: a child that outlives nothing but its own long sleep.
    script = f"sleep 300 & echo $! > {pid_file}; wait"
    with pytest.raises(subprocess.TimeoutExpired):
        _run_as_group(["sh", "-c", script], tmp_path, dict(os.environ), None, timeout=2)
    child = int(pid_file.read_text())
    for _ in range(50):
        if not _alive(child):
            break
        time.sleep(0.1)
    assert not _alive(child), f"the child {child} still runs after the timeout"
