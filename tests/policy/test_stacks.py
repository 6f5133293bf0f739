"""The rules over whole stacks: regstack's own pass, a careless one is refused with fixes."""

from __future__ import annotations

import pytest

from components.addresses import registry_hosts
from components.config import load_config
from components.stack_config import read_stack_file
from devkit.stacks import DUMMY_SECRET, STACK_FILES, STACKS, stack_program
from policy.rules import Violation, evaluate
from tests.policy.bad_stack import BAD_RESOURCES
from tests.policy.support import kubernetes_resources, pack_config


def stack_violations(stack: str) -> list[Violation]:
    config = pack_config(stack)
    return [
        violation
        for resource in kubernetes_resources(stack_program(stack))
        for violation in evaluate(resource.type, resource.inputs, config)
    ]


def bad_messages() -> list[str]:
    return [
        v.message for typ, props in BAD_RESOURCES for v in evaluate(typ, props, pack_config("prod"))
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_regstacks_own_stack_has_no_violation(stack: str) -> None:
    assert stack_violations(stack) == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_stack_registers_kubernetes_objects_for_the_rules_to_see(stack: str) -> None:
    types = {r.type for r in kubernetes_resources(stack_program(stack))}
    # A take-over stack uses the addon's namespace as it is: it creates no namespace.
    lent = load_config(read_stack_file(STACK_FILES[stack], secret=DUMMY_SECRET)).registry.storage
    expected = {"kubernetes:core/v1:Secret"}
    if lent.existing_claim is None:
        expected.add("kubernetes:core/v1:Namespace")
    assert expected <= types


def test_the_dev_stack_workloads_are_checked() -> None:
    types = {r.type for r in kubernetes_resources(stack_program("dev"))}
    assert {"kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:CronJob"} <= types


@pytest.mark.parametrize("stack", STACKS)
def test_the_pack_config_allows_every_host_the_registry_answers_on(stack: str) -> None:
    cfg = load_config(read_stack_file(STACK_FILES[stack], secret=DUMMY_SECRET))
    hosts = registry_hosts(cfg) if cfg.backend == "distribution" else cfg.registry.hostnames
    assert set(hosts) <= set(pack_config(stack)["registry-images"]["registry_hosts"])


def test_a_bad_stack_is_refused_with_a_mandatory_violation() -> None:
    levels = {v.enforcement for typ, props in BAD_RESOURCES for v in evaluate(typ, props)}
    assert "mandatory" in levels


def test_a_docker_hub_latest_image_is_refused_with_where_to_push_it() -> None:
    assert (
        "Deployment web, container nginx: image docker.io/nginx:latest is not from "
        "registry.example.com; push it there and reference registry.example.com/nginx:<version "
        "X.Y.Z> (or add a prefix to allowed_image_prefixes if it is a system image)"
    ) in bad_messages()


def test_latest_is_refused_in_prod_with_how_to_pin_it() -> None:
    assert any(
        "image docker.io/nginx:latest uses latest, which moves under you; in prod use a release "
        "tag (docker.io/library/nginx:1.2.3 or :v1.2.3) or pin a digest" in m
        for m in bad_messages()
    )


def test_a_privileged_container_is_refused_in_the_bad_stack() -> None:
    assert "Deployment web, container nginx: remove securityContext.privileged: true" in (
        bad_messages()
    )


def test_a_hostpath_volume_is_refused_in_the_bad_stack() -> None:
    assert any("volume docker is a hostPath" in m for m in bad_messages())


def test_host_network_is_refused_in_the_bad_stack() -> None:
    assert any("remove hostNetwork: true" in m for m in bad_messages())


def test_a_plain_secret_is_refused_in_the_bad_stack() -> None:
    assert any(m.startswith("Secret db: stringData key(s) password") for m in bad_messages())


def test_a_namespace_outside_the_layout_is_advised_against_in_the_bad_stack() -> None:
    (violation,) = [v for typ, props in BAD_RESOURCES for v in evaluate(typ, props)
                    if v.rule == "namespace-layout"]  # fmt: skip
    assert violation.enforcement == "advisory"


@pytest.mark.parametrize("stack", STACKS)
def test_the_pack_holds_to_baseline_exactly_the_namespaces_the_stack_labels_baseline(
    stack: str,
) -> None:
    labelled = {
        r.inputs["metadata"]["name"]
        for r in kubernetes_resources(stack_program(stack))
        if r.type == "kubernetes:core/v1:Namespace"
        and (r.inputs["metadata"].get("labels") or {}).get("pod-security.kubernetes.io/enforce")
        == "baseline"
    }
    config = pack_config(stack)
    for rule in ("restricted-pod-security", "resource-limits", "read-only-root-filesystem"):
        assert set(config.get(rule, {}).get("baseline_namespaces", [])) == labelled, rule
