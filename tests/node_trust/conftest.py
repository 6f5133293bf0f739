"""A containerd of the tests' own for the node-trust tests."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.containerd import CONFIG, Containerd
from devkit.registry import require, stop_process


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Containerd]:
    require("containerd", "ctr")
    directory = Path(tmp_path_factory.mktemp("ctd"))
    (directory / "config.toml").write_text(CONFIG.format(dir=directory))
    log = (directory / "containerd.log").open("wb")
    process = subprocess.Popen(
        ["containerd", "--config", str(directory / "config.toml")], stdout=log, stderr=log
    )
    running = Containerd(directory / "containerd.sock")
    try:
        deadline = time.monotonic() + 20
        while not running.socket.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"containerd did not start:\n{(directory / 'containerd.log').read_text()}"
                )
            time.sleep(0.1)
        yield running
    finally:
        stop_process(process)
        log.close()
