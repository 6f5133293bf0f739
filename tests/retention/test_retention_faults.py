"""Faults between the engine and a real registry: errors, drops, nonsense, auth, TLS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import bcrypt
import pytest

from devkit.oci_registry import (
    TOOLS,
    FaultProxy,
    RegistryServer,
    add_tag,
    make_cert,
    push_image,
    tags_of,
)
from devkit.registry import require

from .conftest import RunEngine

pytestmark = pytest.mark.servers

OLD = "2020-01-01T00:00:00Z"
NEW = "2025-01-01T00:00:00Z"
POLICY = {"rules": [{"repositories": "**", "keep_last": 1}]}
FAST = ("--retries", "1", "--backoff", "0.01")


def populate(registry: RegistryServer, repositories: tuple[str, ...]) -> None:
    """Per repository: `new` kept, and two old images (three tags) to delete."""
    for repository in repositories:
        push_image(registry, repository, "new", NEW)
        push_image(registry, repository, "old-1", OLD)
        add_tag(registry, repository, "old-1", "old-1b")
        push_image(registry, repository, "old-2", OLD)


@pytest.fixture
def proxied(
    registry: RegistryServer,
) -> Iterator[Callable[[Callable[[str, str, int], str]], FaultProxy]]:
    proxies: list[FaultProxy] = []

    def start(fault: Callable[[str, str, int], str]) -> FaultProxy:
        proxies.append(FaultProxy(registry, fault))
        return proxies[-1]

    yield start
    for proxy in proxies:
        proxy.stop()


def test_transient_errors_and_dropped_connections_are_retried_to_the_same_result(
    registry: RegistryServer, proxied: Callable[..., FaultProxy], run_engine: RunEngine
) -> None:
    populate(registry, ("a", "b"))
    proxy = proxied(lambda method, path, n: ("500", "drop", "pass", "pass")[n % 4])

    run = run_engine(proxy.url, POLICY, "--apply", "--retries", "8", "--backoff", "0.01")

    assert run.returncode == 0, run.stderr
    assert {fault for _, _, fault in proxy.seen} == {"500", "drop", "pass"}
    assert tags_of(registry, "a") == tags_of(registry, "b") == {"new"}


def test_a_deletion_failing_for_good_stops_all_later_deletions_and_a_rerun_converges(
    registry: RegistryServer, proxied: Callable[..., FaultProxy], run_engine: RunEngine
) -> None:
    populate(registry, ("a", "b"))
    deletes: list[int] = []

    def fault(method: str, path: str, n: int) -> str:
        if method != "DELETE":
            return "pass"
        deletes.append(n)
        return "pass" if len(deletes) == 1 else "500"

    proxy = proxied(fault)
    run = run_engine(proxy.url, POLICY, "--apply", "--concurrency", "1", *FAST)

    assert run.returncode == 1
    assert len(deletes) == 3  # one success, then one failure tried twice, then nothing
    assert "deleting sha256:" in run.stderr
    assert [r["status"] for r in run.plan["repositories"]] == ["failed", "failed"]
    assert sum(len(r["deleted_digests"]) for r in run.plan["repositories"]) == 1
    rerun = run_engine(registry.url, POLICY, "--apply")
    assert rerun.returncode == 0, rerun.stderr
    assert tags_of(registry, "a") == tags_of(registry, "b") == {"new"}


@pytest.mark.parametrize("fault", ["garbage", "no-digest", "wrong-digest"])
def test_a_repository_answering_unexpectedly_is_skipped_and_nothing_in_it_is_deleted(
    registry: RegistryServer,
    proxied: Callable[..., FaultProxy],
    run_engine: RunEngine,
    fault: str,
) -> None:
    populate(registry, ("good", "odd"))
    before = tags_of(registry, "odd")
    proxy = proxied(
        lambda method, path, n: fault if path.startswith("/v2/odd/manifests/old-2") else "pass"
    )

    run = run_engine(proxy.url, POLICY, "--apply", *FAST)

    assert run.returncode == 1
    assert run.repository("odd")["status"] == "skipped"
    assert "skipped odd" in run.stderr
    assert tags_of(registry, "odd") == before
    assert tags_of(registry, "good") == {"new"}


# --- authentication ------------------------------------------------------------------


@pytest.fixture
def htpasswd_registry(tmp_path: Path) -> Iterator[RegistryServer]:
    require(*TOOLS)
    htpasswd = tmp_path / "htpasswd"
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=5)).decode()
    htpasswd.write_text(f"ops:{hashed}\n")
    auth = {"htpasswd": {"realm": "regstack", "path": str(htpasswd)}}
    server = RegistryServer(tmp_path / "registry", {"auth": auth}, creds="ops:s3cret").start()
    populate(server, ("a",))
    yield server
    server.stop()


def test_basic_auth_with_the_right_password_works(
    htpasswd_registry: RegistryServer, run_engine: RunEngine, tmp_path: Path
) -> None:
    (tmp_path / "password").write_text("s3cret\n")
    args = ("--apply", "--username", "ops", "--password-file", str(tmp_path / "password"))

    run = run_engine(htpasswd_registry.url, POLICY, *args)

    assert run.returncode == 0, run.stderr
    assert tags_of(htpasswd_registry, "a") == {"new"}


@pytest.mark.parametrize(
    ("password", "message"), [("wrong", "rejected the credentials"), (None, "requires credentials")]
)
def test_bad_or_missing_credentials_fail_cleanly_and_delete_nothing(
    htpasswd_registry: RegistryServer,
    run_engine: RunEngine,
    tmp_path: Path,
    password: str | None,
    message: str,
) -> None:
    args: tuple[str, ...] = ("--apply",)
    if password:
        (tmp_path / "password").write_text(password)
        args += ("--username", "ops", "--password-file", str(tmp_path / "password"))

    run = run_engine(htpasswd_registry.url, POLICY, *args)

    assert run.returncode == 1
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert tags_of(htpasswd_registry, "a") == {"new", "old-1", "old-1b", "old-2"}


# --- TLS -----------------------------------------------------------------------------


@pytest.fixture
def tls_registry(tmp_path: Path) -> Iterator[RegistryServer]:
    require(*TOOLS)
    cert, key = make_cert(tmp_path / "tls", "registry")
    tls = {"tls": {"certificate": str(cert), "key": str(key)}}
    server = RegistryServer(tmp_path / "registry", {"http": tls}).start()
    populate(server, ("a",))
    yield server
    server.stop()


def test_the_registry_ca_file_makes_tls_verification_pass(
    tls_registry: RegistryServer, run_engine: RunEngine, tmp_path: Path
) -> None:
    run = run_engine(
        tls_registry.url, POLICY, "--ca-file", str(tmp_path / "tls/registry.crt"), "--apply"
    )

    assert run.returncode == 0, run.stderr
    assert tags_of(tls_registry, "a") == {"new"}


def test_a_wrong_ca_fails_cleanly_without_retrying_or_deleting(
    tls_registry: RegistryServer, run_engine: RunEngine, tmp_path: Path
) -> None:
    wrong, _ = make_cert(tmp_path / "other", "impostor")

    run = run_engine(tls_registry.url, POLICY, "--ca-file", str(wrong), "--apply")

    assert run.returncode == 1
    assert "TLS verification failed" in run.stderr
    assert "attempts" not in run.stderr  # retried failures say "(after N attempts)"
    assert "Traceback" not in run.stderr
    assert tags_of(tls_registry, "a") == {"new", "old-1", "old-1b", "old-2"}
