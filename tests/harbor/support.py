"""Helpers for the Harbor tests: a valid harbor stack config and a Pulumi mock run."""

from __future__ import annotations

from typing import Any

from components.config import RegstackConfig, load_config
from components.harbor import deep_merge as merged
from components.platform import RegistryPlatform
from devkit.pulumi_mocks import Registered, evaluate

ADMIN_PASSWORD = "Adm1n-Passw0rd-for-tests"
SEED = "seed-for-tests-0123456789-abcdefghijklmnop"
DATABASE_PASSWORD = "external-db-password-for-tests"

BASE: dict[str, Any] = {
    "profile": "prod",
    "backend": "harbor",
    "registry": {"hostnames": ["registry.example.com"]},
    "tls": {"mode": "issuer", "issuer": {"name": "letsencrypt-prod"}},
    "harbor": {"admin_password": ADMIN_PASSWORD, "secret_seed": SEED},
}


def harbor_config(**override: Any) -> RegstackConfig:
    """The production harbor stack, with `override` deep-merged into its raw config."""
    return load_config(merged(BASE, override))


def register(cfg: RegstackConfig) -> list[Registered]:
    """Run the platform for `cfg` under mocks and return what it registered."""
    return evaluate(lambda: RegistryPlatform("regstack", cfg)).resources


def only(registrations: list[Registered], typ: str) -> Registered:
    (match,) = [r for r in registrations if r.type == typ]
    return match
