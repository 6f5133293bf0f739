"""Helpers for the Harbor tests: a valid harbor stack config and a Pulumi mock run."""

from __future__ import annotations

from typing import Any

import pulumi

from components.config import RegstackConfig, load_config
from components.harbor import deep_merge as merged
from components.platform import RegistryPlatform

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


class Recorder(pulumi.runtime.Mocks):
    """Keeps every registration; inputs keep Pulumi secrets wrapped, as the engine sees them."""

    def __init__(self) -> None:
        self.registrations: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.registrations.append(args)
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


def register(cfg: RegstackConfig) -> list[pulumi.runtime.MockResourceArgs]:
    """Run the platform for `cfg` under mocks and return what it registered."""
    recorder = Recorder()
    pulumi.runtime.set_mocks(recorder, preview=False)

    @pulumi.runtime.test
    def program() -> pulumi.Output[str]:
        return RegistryPlatform("regstack", cfg).endpoint

    program()
    return recorder.registrations


def only(registrations: list[pulumi.runtime.MockResourceArgs], typ: str) -> Any:
    (match,) = [r for r in registrations if r.typ == typ]
    return match
