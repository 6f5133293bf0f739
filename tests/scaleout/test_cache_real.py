"""The Redis cache as regstack runs it, and the GC window's flush, against Debian's redis-server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from components.config import ConfigError, load_config
from components.jobs import gc_window
from devkit.config_grammar import REDIS_PASSWORD
from devkit.redis import RedisServer, start_redis

pytestmark = pytest.mark.servers

PASSWORD = "cache-password-for-tests"


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = start_redis(tmp_path, password=PASSWORD)
    yield server
    server.stop()


def test_the_cache_keeps_nothing_on_disk_and_evicts_least_recently_used(redis: RedisServer) -> None:
    assert redis.command("CONFIG", "GET", "save").splitlines() == ["save"]  # an empty value
    assert redis.command("CONFIG", "GET", "appendonly").splitlines() == ["appendonly", "no"]
    assert redis.command("CONFIG", "GET", "maxmemory-policy").splitlines()[1] == "allkeys-lru"


def test_the_cache_refuses_clients_without_the_password_from_its_file(redis: RedisServer) -> None:
    anonymous = RedisServer(redis.port, None, redis.process, redis.log_path)
    with pytest.raises(RuntimeError, match="NOAUTH"):
        anonymous.command("GET", "anything")


def test_the_gc_flush_empties_the_cache_database_only(redis: RedisServer) -> None:
    redis.command("SET", "descriptor", "sha256:gone", db=1)
    redis.command("SET", "unrelated", "kept", db=0)
    gc_window.flush_cache(redis.address, 1, PASSWORD)
    assert redis.command("DBSIZE", db=1) == "0"
    assert redis.command("GET", "unrelated", db=0) == "kept"


def test_the_gc_flush_reports_a_wrong_password(redis: RedisServer) -> None:
    with pytest.raises(OSError, match="AUTH"):
        gc_window.flush_cache(redis.address, 0, "not-the-password")


@settings(max_examples=8, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(REDIS_PASSWORD)
def test_every_password_validation_accepts_starts_the_deployed_cache(
    tmp_path: Path, password: str
) -> None:
    load_config({"registry": {"cache": {"redis": "deploy", "password": password}}})
    server = start_redis(tmp_path / f"pw-{abs(hash(password))}", password)
    try:
        assert server.command("PING") == "PONG"
    finally:
        server.stop()


def test_a_password_with_a_space_is_refused_before_redis_would_refuse_to_start() -> None:
    with pytest.raises(ConfigError, match=r"registry\.cache\.password"):
        load_config({"registry": {"cache": {"redis": "deploy", "password": "two words"}}})
