"""What HarborRegistry registers with the engine (Pulumi mocks)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi
from pulumi.runtime import rpc

from components.harbor_hardening import harden_workload
from components.harbor_secrets import harbor_secrets

from .support import ADMIN_PASSWORD, DATABASE_PASSWORD, SEED, harbor_config, only, register

CHART = "kubernetes:helm.sh/v4:Chart"
SECRET = "kubernetes:core/v1:Secret"
EXTERNAL_DB = {"harbor": {"database": {"type": "external", "host": "db.example.com",
                                       "password": DATABASE_PASSWORD}}}  # fmt: skip


def plaintext_strings(value: Any) -> list[str]:
    """Every string in `value` outside Pulumi secrets."""
    if rpc.is_rpc_secret(value):
        return []
    if isinstance(value, dict):
        return [s for v in value.values() for s in plaintext_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in plaintext_strings(v)]
    return [value] if isinstance(value, str) else []


def test_no_registered_input_holds_a_credential_in_plaintext() -> None:
    derived = dataclasses.astuple(harbor_secrets(SEED))
    credentials = [ADMIN_PASSWORD, SEED, DATABASE_PASSWORD, *derived]
    leaks = [
        (registration.name, credential[:8])
        for registration in register(harbor_config(**EXTERNAL_DB))
        for text in plaintext_strings(registration.inputs)
        for credential in credentials
        if credential in text
    ]
    assert leaks == []


def test_the_chart_values_are_one_pulumi_secret() -> None:
    chart = only(register(harbor_config()), CHART)
    assert rpc.is_rpc_secret(chart.inputs["values"])


def test_two_evaluations_register_identical_chart_values() -> None:
    first, second = (only(register(harbor_config()), CHART) for _ in range(2))
    assert first.inputs == second.inputs


def test_the_credentials_secret_holds_the_admin_password_under_the_charts_key() -> None:
    secret = only(register(harbor_config()), SECRET)
    data = rpc.unwrap_rpc_secret(secret.inputs["stringData"])
    assert data == {"HARBOR_ADMIN_PASSWORD": ADMIN_PASSWORD}


def test_the_chart_reads_the_admin_password_from_the_credentials_secret() -> None:
    registrations = register(harbor_config())
    values = rpc.unwrap_rpc_secret(only(registrations, CHART).inputs["values"])
    secret_name = only(registrations, SECRET).inputs["metadata"]["name"]
    assert values["existingSecretAdminPassword"] == secret_name


def test_an_external_database_password_goes_into_the_credentials_secret() -> None:
    secret = only(register(harbor_config(**EXTERNAL_DB)), SECRET)
    assert rpc.unwrap_rpc_secret(secret.inputs["stringData"])["password"] == DATABASE_PASSWORD


def test_the_chart_is_released_as_harbor_into_the_registry_namespace() -> None:
    chart = only(register(harbor_config()), CHART)
    assert (chart.inputs["name"], chart.inputs["namespace"]) == ("harbor", "container-registry")


def test_production_protects_the_charts_volume_claims() -> None:
    keep, _ = only(register(harbor_config()), CHART).transforms
    claim = pulumi.ResourceTransformArgs(
        custom=True, type_="kubernetes:core/v1:PersistentVolumeClaim", name="data",
        props={}, opts=pulumi.ResourceOptions(),
    )  # fmt: skip
    result = keep(claim)
    assert result is not None
    assert (result.opts.protect, result.opts.retain_on_delete) == (True, True)


def test_the_volume_transform_leaves_other_objects_alone() -> None:
    keep, _ = only(register(harbor_config()), CHART).transforms
    deployment = pulumi.ResourceTransformArgs(
        custom=True, type_="kubernetes:apps/v1:Deployment", name="core",
        props={}, opts=pulumi.ResourceOptions(),
    )  # fmt: skip
    assert keep(deployment) is None


def test_a_dev_stack_does_not_protect_volumes() -> None:
    cfg = harbor_config(profile="dev")
    assert only(register(cfg), CHART).transforms == [harden_workload]
