"""Nothing a reader of an htpasswd line, a Deployment or Pulumi state sees lets them test a
password guess faster than bcrypt, and the same credentials look different in every stack
(issue 14, defects 1 and 2). Stable values are keyed by the stack's random key instead."""

from __future__ import annotations

import hashlib
from typing import Any

import bcrypt

from components import htpasswd
from components.harbor_secrets import REGISTRY_USER, harbor_secrets
from devkit.pulumi_mocks import Recorder, StackState, platform, unwrap

PASSWORD = "Summer2024!"
REDIS_PASSWORD = "redis-cache-password"


def lab(password: str = PASSWORD, redis_password: str = REDIS_PASSWORD) -> dict[str, Any]:
    return {
        "auth": {"enabled": True, "bcrypt_cost": 10,
                 "users": [{"name": "alice", "password": password}]},
        "registry": {"cache": {"redis": "deploy", "password": redis_password}},
    }  # fmt: skip


def htpasswd_line(rec: Recorder) -> str:
    return str(unwrap(rec.named("rs-auth-htpasswd").inputs["stringData"])["htpasswd"]).strip()


def salt(line: str) -> str:
    """The salt part of a bcrypt hash: `$2b$NN$` and 22 characters, stored in clear."""
    return line.split(":", 1)[1][:29]


def annotation(rec: Recorder, deployment: str, key: str) -> str:
    template = rec.named(deployment).inputs["spec"]["template"]
    return str(template["metadata"]["annotations"][key])


def password_keyed_salt(user: str, guess: str) -> str:
    """The attack of issue 14: a salt that is HMAC(password, user) confirms a guess in one HMAC."""
    import base64
    import hmac

    digest = hmac.new(guess.encode(), f"regstack-htpasswd:{user}".encode(), hashlib.sha256)
    encoded = base64.b64encode(digest.digest()[:16]).rstrip(b"=")
    alphabet = bytes.maketrans(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    )
    return "$2b$10$" + encoded.translate(alphabet).decode()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- htpasswd salts ---------------------------------------------------------------------------


def test_an_htpasswd_salt_does_not_confirm_the_password_with_one_hmac() -> None:
    line = htpasswd_line(platform(lab()))
    assert salt(line) != password_keyed_salt("alice", PASSWORD)


def test_the_htpasswd_salt_is_the_same_whatever_the_password() -> None:
    stack = StackState()
    first = htpasswd_line(platform(lab("first-password"), stack=stack))
    second = htpasswd_line(platform(lab("second-password"), stack=stack))
    assert salt(first) == salt(second) and first != second


def test_the_same_user_and_password_get_different_lines_in_two_stacks() -> None:
    assert htpasswd_line(platform(lab())) != htpasswd_line(platform(lab()))


def test_a_second_run_of_a_stack_gives_the_same_line_which_verifies() -> None:
    stack = StackState()
    line = htpasswd_line(platform(lab(), stack=stack))
    assert htpasswd_line(platform(lab(), stack=stack)) == line
    assert bcrypt.checkpw(PASSWORD.encode(), line.split(":", 1)[1].encode())


def test_harbors_registry_credentials_are_not_salted_by_their_password() -> None:
    found = harbor_secrets("s" * 32)
    line = found.registry_htpasswd
    oracle = password_keyed_salt(REGISTRY_USER, found.registry_password)
    assert salt(line) != oracle
    assert bcrypt.checkpw(found.registry_password.encode(), line.split(":", 1)[1].encode())


def test_a_salt_key_shorter_than_a_random_stack_key_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="at least 32"):
        htpasswd.entry("alice", PASSWORD, 10, key="short")


# --- rollout checksums ------------------------------------------------------------------------

REGISTRY = ("rs-registry-deployment", "regstack.io/config-checksum")
CACHE = ("rs-cache-deployment", "regstack.io/auth-checksum")


def test_the_registry_checksum_is_no_digest_of_a_password_or_the_htpasswd() -> None:
    rec = platform(lab())
    checksum = annotation(rec, *REGISTRY)
    line = htpasswd_line(rec) + "\n"
    searchable = {sha256(PASSWORD), sha256(REDIS_PASSWORD), sha256(line), sha256(sha256(line))}
    assert not any(digest in checksum for digest in searchable)


def test_the_cache_checksum_is_no_digest_of_its_password() -> None:
    checksum = annotation(platform(lab()), *CACHE)
    assert REDIS_PASSWORD not in checksum and sha256(REDIS_PASSWORD) not in checksum


def test_rollout_checksums_of_one_config_differ_between_stacks() -> None:
    # Identical config, identical checksum would let anyone test guesses against it offline.
    one, other = platform(lab()), platform(lab())
    for deployment, key in (REGISTRY, CACHE):
        assert annotation(one, deployment, key) != annotation(other, deployment, key)


def test_rollout_checksums_change_with_the_password_and_only_then() -> None:
    stack = StackState()
    before = platform(lab(), stack=stack)
    again = platform(lab(), stack=stack)
    changed = platform(lab("new-user-password", "new-redis-password"), stack=stack)
    for deployment, key in (REGISTRY, CACHE):
        assert annotation(before, deployment, key) == annotation(again, deployment, key)
        assert annotation(before, deployment, key) != annotation(changed, deployment, key)
