"""Debian's `redis-server` on a free loopback port, with nothing persisted."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.redis_cache import auth_config, server_arguments
from devkit.registry import free_port, require, stop_process


@dataclass
class RedisServer:
    port: int
    password: str | None
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self, *args: str, db: int = 0) -> str:
        """Run one command with `redis-cli`; the password goes through its environment."""
        env = {**os.environ, "REDISCLI_AUTH": self.password or ""}
        done = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), "-n", str(db), *args],
            capture_output=True, text=True, env=env, timeout=10,
        )  # fmt: skip
        if done.returncode != 0 or done.stdout.startswith(("ERR", "NOAUTH", "WRONGPASS")):
            raise RuntimeError(f"redis-cli {' '.join(args)}: {done.stdout}{done.stderr}")
        return done.stdout.strip()

    def stop(self) -> None:
        stop_process(self.process)


def start_redis(workdir: Path, password: str | None = None) -> RedisServer:
    """Start redis-server on 127.0.0.1 with the arguments and password file the RedisCache
    component gives its pod (no snapshots, no append-only file)."""
    require("redis-server", "redis-cli")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth_file = None
    if password:
        auth_file = workdir / "auth.conf"
        auth_file.write_text(auth_config(password))
    args = ["redis-server", *server_arguments(str(auth_file) if auth_file else None),
            "--bind", "127.0.0.1", "--port", str(port), "--dir", str(workdir),
            "--daemonize", "no"]  # fmt: skip
    log_path = workdir / "redis.log"
    process = subprocess.Popen(args, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    server = RedisServer(port, password, process, log_path)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"redis-server exited:\n{log_path.read_text()}")
        try:
            if server.command("PING") == "PONG":
                return server
        except RuntimeError:
            time.sleep(0.05)
    server.stop()
    pytest.fail(f"redis-server did not answer within 10s:\n{log_path.read_text()}")
