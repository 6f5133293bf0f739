"""The registry the GC tests share (modules with a `registry` of their own override it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit import gc_window_sim as sim
from devkit.registry import RunningRegistry


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    """Read-write, on a filesystem volume, with the shared http.secret; a test may stop and
    start it (GC runs while it is stopped)."""
    running = sim.start_on_a_volume(tmp_path / "rw")
    yield running
    if running.process.poll() is None:
        running.stop()
