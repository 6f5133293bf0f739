"""What regstack creates where others keep theirs goes through one create-only provider (Pulumi
mocks); that it refuses an existing object and keeps namespaces is proven through the engine, in
tests/e2e/test_ownership_e2e.py."""

from __future__ import annotations

import pulumi

from components.config import load_config
from components.ownership import already_exists_message
from components.platform import RegistryPlatform
from devkit.pulumi_mocks import Recorder, evaluate

LAB = {"profile": "dev",
       "auth": {"enabled": True, "users": [{"name": "dev", "password": "a-long-lab-password"}]},
       "pull_secrets": {"namespaces": ["team"], "create_namespaces": True}}  # fmt: skip


def lab_with_provider_config(settings: dict[str, str]) -> Recorder:
    def build() -> None:
        for key, value in settings.items():
            pulumi.runtime.set_config(key, value)
        RegistryPlatform("rs", load_config(LAB))

    return evaluate(build)


def test_the_create_only_provider_turns_server_side_apply_off() -> None:
    provider = lab_with_provider_config({}).named("rs-create-only")
    assert provider.type == "pulumi:providers:kubernetes"
    assert provider.inputs["enableServerSideApply"] in (False, "false")


def test_the_create_only_provider_keeps_the_stack_s_cluster_and_secret_settings() -> None:
    provider = lab_with_provider_config(
        {"kubernetes:context": "lab", "kubernetes:enableSecretMutable": "true"}
    ).named("rs-create-only")
    assert provider.inputs["context"] == "lab"
    assert provider.inputs["enableSecretMutable"] in (True, "true")


def test_the_already_exists_message_names_the_object_and_ends_with_what_to_do() -> None:
    inputs = {"kind": "Secret", "metadata": {"name": "regstack-pull", "namespace": "team"}}
    message = already_exists_message(inputs, "Choose another name.")
    assert message.startswith("regstack: Secret regstack-pull in namespace team already exists")
    assert message.endswith("Choose another name.")
