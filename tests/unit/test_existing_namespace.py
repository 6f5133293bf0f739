"""`registry.create_namespace: false` deploys into a namespace that exists, such as one the same
program makes, and leaves that namespace alone: regstack neither creates, labels nor deletes it."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.config import ConfigError, load_config
from components.platform import RegistryPlatform
from components.registry import Registry
from devkit.pulumi_mocks import evaluate

LAB = {"profile": "dev", "tls": {"mode": "self-signed"},
       "auth": {"enabled": True, "users": [{"name": "dev", "password": "pw-for-tests"}]}}  # fmt: skip


def in_namespace(namespace: pulumi.Input[str], backend: str = "distribution") -> dict[str, Any]:
    registry = {"namespace": namespace, "create_namespace": False}
    return {**LAB, "backend": backend, "registry": registry}


def test_regstack_creates_its_namespace_by_default() -> None:
    rec = evaluate(lambda: RegistryPlatform("rs", load_config(LAB)))
    assert [r.name for r in rec.of_type("kubernetes:core/v1:Namespace")] == ["rs-namespace"]


def test_a_namespace_that_exists_is_deployed_into_and_not_created() -> None:
    rec = evaluate(lambda: RegistryPlatform("rs", load_config(in_namespace("team-images"))))
    assert rec.of_type("kubernetes:core/v1:Namespace") == []
    deployment = rec.named("rs-registry-deployment").inputs
    assert deployment["metadata"]["namespace"] == "team-images"


def test_a_namespace_the_same_program_makes_is_the_one_the_registry_runs_in() -> None:
    def program() -> None:
        made = k8s.core.v1.Namespace("team", metadata={"name": "team-images"})
        Registry("rs", in_namespace(made.metadata.name))

    rec = evaluate(program)
    assert [r.name for r in rec.of_type("kubernetes:core/v1:Namespace")] == ["team"]
    deployment = rec.named("rs-registry-deployment").inputs
    assert deployment["metadata"]["namespace"] == "team-images"


def test_harbor_is_installed_into_a_namespace_that_exists() -> None:
    from tests.harbor.support import BASE as HARBOR

    raw = {**HARBOR, "registry": {**HARBOR.get("registry", {}), "create_namespace": False}}
    rec = evaluate(lambda: RegistryPlatform("rs", load_config(raw)))
    assert rec.of_type("kubernetes:core/v1:Namespace") == []


def test_the_addon_refuses_the_key_it_would_ignore() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({"profile": "dev", "backend": "microk8s-addon", "gc": {"enabled": False},
                     "registry": {"create_namespace": False}})  # fmt: skip
    assert [p.path for p in raised.value.problems] == ["registry.create_namespace"]
