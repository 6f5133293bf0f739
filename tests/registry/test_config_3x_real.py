"""The config.yml keys and environment that changed for Distribution 3.x, proven on the real
3.1.2 binary: it reads them as meant, and the 2.x spelling would not do (3.x ignores keys it does
not know, so only behaviour shows which ones it read)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from components.distribution_config import (
    ENV_REDIS_PASSWORD,
    RedisSettings,
    RenderSettings,
    registry_config,
)
from devkit.redis import RedisServer, start_redis
from devkit.registry import (
    oci_image,
    pull,
    push,
    registry_env,
    require,
    serve,
    start_registry,
)

pytestmark = pytest.mark.servers

PASSWORD = "redis-password-for-3x-tests"


@pytest.fixture
def redis(tmp_path: Path) -> RedisServer:
    server = start_redis(tmp_path / "redis", password=PASSWORD)
    yield server
    server.stop()


def cached(redis: RedisServer, line: int = 3) -> RenderSettings:
    return RenderSettings(
        line=line, redis=RedisSettings(address=redis.address, db=2, password=True)
    )


def test_3x_caches_blob_descriptors_at_the_rendered_redis_addrs_with_the_env_password(
    redis: RedisServer, tmp_path: Path
) -> None:
    require("skopeo")
    registry = start_registry(tmp_path, cached(redis), secrets={ENV_REDIS_PASSWORD: PASSWORD})
    try:
        oci_image(tmp_path / "image", "1")
        push(tmp_path / "image", "1", registry, "team/app:1")
        pull(registry, "team/app:1", tmp_path / "pulled")
    finally:
        registry.stop()
    assert int(redis.command("DBSIZE", db=2)) > 0


def test_3x_ignores_the_2x_redis_addr_and_then_refuses_to_start(
    redis: RedisServer, tmp_path: Path
) -> None:
    config = registry_config(cached(redis, line=2))
    config["http"] = {"addr": "127.0.0.1:0"}
    env = registry_env({ENV_REDIS_PASSWORD: PASSWORD})
    with pytest.raises(pytest.fail.Exception, match="redis configuration required"):
        serve(tmp_path, config, env)


def traced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rendered_env: bool) -> str:
    """The 3.x log after a push, with spans batched every 100 ms (a test setting), with the
    environment regstack renders or without it."""
    require("skopeo")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    registry = start_registry(tmp_path, RenderSettings())
    if not rendered_env:
        registry.stop()
        registry.env = registry_env({})
        registry.start()
    try:
        oci_image(tmp_path / "image", "1")
        push(tmp_path / "image", "1", registry, "team/app:1")
        time.sleep(1)
    finally:
        registry.stop()
    return registry.log_path.read_text()


def test_3x_exports_no_traces_with_the_rendered_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "traces export" not in traced(tmp_path, monkeypatch, rendered_env=True)


def test_3x_without_it_tries_to_export_traces_to_a_collector_nobody_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "traces export" in traced(tmp_path, monkeypatch, rendered_env=False)
