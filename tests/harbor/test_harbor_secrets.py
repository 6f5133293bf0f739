"""Harbor's internal secrets, derived from the seed."""

from __future__ import annotations

import dataclasses
import ssl
from pathlib import Path

import bcrypt
import pytest

from components.harbor_secrets import REGISTRY_USER, derive, harbor_secrets

from .support import SEED

LENGTHS = {"secret_key": 16, "core_secret": 16, "xsrf_key": 32, "jobservice_secret": 16,
           "registry_http_secret": 16}  # fmt: skip


@pytest.mark.parametrize(("field", "length"), LENGTHS.items())
def test_each_fixed_length_secret_has_the_length_harbor_requires(field: str, length: int) -> None:
    value = getattr(harbor_secrets(SEED), field)
    assert len(value) == length and value.isalnum() and value.isascii()


def test_the_same_seed_derives_the_same_secrets() -> None:
    assert harbor_secrets(SEED) == harbor_secrets(str(SEED))


def test_another_seed_changes_every_secret() -> None:
    first, second = harbor_secrets(SEED), harbor_secrets(SEED + "x")
    changed = [f.name for f in dataclasses.fields(first)
               if getattr(first, f.name) == getattr(second, f.name)]  # fmt: skip
    assert changed == []


def test_each_value_name_derives_an_unrelated_value() -> None:
    assert derive(SEED, "core.secret", 16) != derive(SEED, "jobservice.secret", 16)


def test_a_short_seed_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 characters"):
        harbor_secrets("too-short")


def test_the_registry_htpasswd_entry_accepts_the_registry_password() -> None:
    secrets = harbor_secrets(SEED)
    user, hashed = secrets.registry_htpasswd.split(":", 1)
    assert user == REGISTRY_USER
    assert bcrypt.checkpw(secrets.registry_password.encode(), hashed.encode())


def test_the_token_certificate_belongs_to_the_token_key(tmp_path: Path) -> None:
    secrets = harbor_secrets(SEED)
    (tmp_path / "tls.key").write_text(secrets.token_key)
    (tmp_path / "tls.crt").write_text(secrets.token_cert)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # OpenSSL parses both PEMs and refuses a certificate whose public key is not the key's.
    context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    assert secrets.token_key.startswith("-----BEGIN RSA PRIVATE KEY-----\n")
