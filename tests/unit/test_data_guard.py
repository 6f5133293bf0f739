"""The data guard refuses exactly the configs that would delete the claim the last run created."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.config import load_config
from components.data_guard import created_claim, refusal
from devkit.pulumi_mocks import run_program

AUTH = {"enabled": True, "users": [{"name": "dev", "password": "a-password"}]}


def config(**sections: Any) -> Any:
    return load_config({"profile": "dev", "auth": AUTH, **sections})


CREATED = {
    "namespace": "container-registry",
    "name": "registry-data",
    "access_mode": "ReadWriteOnce",
    "storage_class": "",
}


def test_a_distribution_registry_on_the_filesystem_names_the_claim_it_creates() -> None:
    assert created_claim(config()) == CREATED


def test_object_storage_and_a_lent_claim_create_no_claim() -> None:
    lent = config(registry={"storage": {"existing_claim": "registry-claim"}})
    assert created_claim(lent) is None


def test_a_config_that_keeps_the_claim_is_not_refused() -> None:
    assert refusal(CREATED, config(registry={"replicas": 1})) is None


def test_a_stack_whose_last_run_created_no_claim_is_never_refused() -> None:
    lent = config(registry={"storage": {"existing_claim": "registry-claim"}})
    assert refusal(None, lent) is None


def test_a_lent_claim_in_place_of_the_created_one_is_refused_with_the_safe_path() -> None:
    lent = config(registry={"storage": {"existing_claim": "registry-claim"}})
    problem = refusal(CREATED, lent)
    assert problem is not None
    assert "would delete the claim registry-data in namespace container-registry" in problem
    assert "skopeo sync" in problem


def test_another_registry_namespace_is_refused_the_old_claim_would_go() -> None:
    moved = config(registry={"namespace": "images"})
    assert refusal(CREATED, moved) is not None


def test_another_storage_class_is_refused_kubernetes_would_replace_the_claim() -> None:
    moved = config(registry={"storage": {"storage_class": "fast"}})
    problem = refusal(CREATED, moved)
    assert problem is not None
    assert "would replace the claim registry-data" in problem
    assert "storage_class default -> fast" in problem


def test_a_refused_change_registers_no_resource_of_its_own() -> None:
    # The MicroK8s addon's Command would run `microk8s enable registry` on the node as soon as
    # it were registered: the refusal has to come first, not race it.
    addon = {"profile": "dev", "backend": "microk8s-addon", "gc": {"enabled": False}}
    with pytest.raises(pulumi.RunError, match="would delete the claim registry-data"):
        run_program(addon, last_run={"data_claim": CREATED})
    registered = pulumi.runtime.settings.get_monitor().resources
    assert [urn.split("::")[-1] for urn in registered] == ["regstack-last-run"]
