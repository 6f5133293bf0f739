"""Pulls served while GC runs: the read-only window with real registry processes.

The variable the GC Job puts in the pod template is checked against the real registry binary,
on the config regstack renders. The window itself runs between real processes with a loopback
forwarder standing in for the Service (devkit/gc_window_sim.py says what is simulated);
benchmarks/bench_gc_window.py measures the same runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from components.distribution_config import (
    ENV_HTTP_SECRET,
    ENV_S3_ACCESS_KEY,
    ENV_S3_SECRET_KEY,
    RenderSettings,
    S3Settings,
)
from components.jobs.gc_window import READ_ONLY_ENV, READ_ONLY_VALUE
from devkit import gc_window_sim as sim
from devkit.registry import RunningRegistry, start_registry
from devkit.s3 import ACCESS_KEY, SECRET_KEY, S3Server, start_s3

pytestmark = pytest.mark.servers


def restarted_with(registry: RunningRegistry, name: str, value: str) -> RunningRegistry:
    registry.stop()
    registry.env[name] = value
    registry.start()
    return registry


def test_the_read_only_variable_refuses_pushes_with_405_and_still_serves_pulls(
    registry: RunningRegistry,
) -> None:
    sim.push_image(registry.host, "team/app", "latest", layers=1, size=1024)
    restarted_with(registry, READ_ONLY_ENV, READ_ONLY_VALUE)
    assert sim.push_blob(registry.host, "team/app", b"new layer")[0] == 405
    sim.pull_image(registry.host, "team/app", "latest")


def test_the_per_key_variable_is_ignored_which_is_why_the_job_sets_the_whole_mapping(
    registry: RunningRegistry,
) -> None:
    restarted_with(registry, f"{READ_ONLY_ENV}_ENABLED", "true")
    assert sim.push_blob(registry.host, "team/app", b"new layer")[0] == 201


def test_an_upload_begun_before_the_window_is_refused_by_the_read_only_pod_with_405(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    """Not 404 "invalid secret": the read-only pod signs upload state with the same secret."""
    status, headers, _ = sim.request(registry.host, "POST", "/v2/team/app/blobs/uploads/")
    assert status == 202
    location = headers["Location"]
    twin = sim.read_only_twin(registry, tmp_path / "read-only")
    try:
        upload = location[location.index("/v2/") :] + "&digest=sha256:" + "0" * 64
        status, _, body = sim.request(twin.host, "PUT", upload, b"layer")
        assert status == 405, body
    finally:
        twin.stop()


def check_read_only_window(figures: sim.WindowFigures) -> None:
    assert figures.gc_exit == 0
    assert figures.pulls_during_gc > 0, "no pull ran while GC ran: nothing was shown"
    assert (figures.failed_pulls, figures.failures) == (0, {})
    assert set(figures.push_refusals) == {"405"}, "pushes refused with a clear error only"


def test_pulls_never_fail_while_gc_runs_in_the_read_only_window_on_a_filesystem(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    repositories = sim.seed(registry.host, images=6, layers=2, size=256 * 1024)
    check_read_only_window(sim.run_window(registry, tmp_path, "read-only", repositories))


def test_the_stop_window_fails_pulls_for_the_whole_collection(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    """Today's window where it stays (a pull-through cache): what the read-only one avoids."""
    repositories = sim.seed(registry.host, images=6, layers=2, size=256 * 1024)
    figures = sim.run_window(registry, tmp_path, "stop", repositories)
    assert figures.gc_exit == 0
    assert figures.failed_pulls_during_gc == figures.pulls_during_gc > 0
    assert "405" not in figures.push_refusals


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = start_s3(tmp_path_factory.mktemp("s3"))
    yield server
    server.stop()


def test_pulls_never_fail_while_gc_runs_in_the_read_only_window_on_s3(
    s3: S3Server, tmp_path: Path
) -> None:
    settings = RenderSettings(
        s3=S3Settings(bucket=s3.bucket, endpoint=s3.endpoint, secure=False,
                      root_directory="/gc-window"),
        shared_secret=True,  # the read-write and the read-only process serve side by side
    )  # fmt: skip
    secrets = {ENV_S3_ACCESS_KEY: ACCESS_KEY, ENV_S3_SECRET_KEY: SECRET_KEY,
               ENV_HTTP_SECRET: "gc-window-test"}  # fmt: skip
    registry = start_registry(tmp_path / "rw", settings, secrets=secrets)
    try:
        repositories = sim.seed(registry.host, images=4, layers=2, size=256 * 1024)
        check_read_only_window(sim.run_window(registry, tmp_path, "read-only", repositories))
    finally:
        registry.stop()
