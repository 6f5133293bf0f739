"""The Pulumi program validates config before it registers anything, and exports endpoints."""

from __future__ import annotations

import pulumi
import pytest

from devkit.pulumi_mocks import run_program

LAB = {"profile": "dev", "tls": {"mode": "self-signed"},
       "auth": {"enabled": True, "users": [{"name": "dev", "password": "pw-for-tests"}]}}  # fmt: skip


def test_invalid_config_stops_the_program_before_any_resource() -> None:
    with pytest.raises(pulumi.RunError) as caught:
        run_program({"registry": {"replicas": 0}})
    assert "regstack:registry.replicas: " in str(caught.value)
    registered = pulumi.runtime.settings.get_monitor().resources
    assert [urn for urn in registered if "pulumi:pulumi:Stack" not in urn] == []


def test_the_program_builds_one_registry_component_from_valid_config() -> None:
    rec = run_program(LAB)
    assert [r.name for r in rec.of_type("regstack:index:Registry")] == ["regstack"]
    platform = "::regstack:index:Registry$regstack:index:RegistryPlatform::regstack"
    assert next(urn for urn in rec.urns if "RegistryPlatform::" in urn).endswith(platform)


def test_structured_config_arrives_as_json_text_like_the_engine_sends_it() -> None:
    rec = run_program({**LAB, "registry": '{"storage": {"size": "30Gi"}}'})
    claim = rec.named("regstack-registry-data").inputs
    assert claim["spec"]["resources"]["requests"]["storage"] == "30Gi"
