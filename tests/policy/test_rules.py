"""Each rule of the policy pack on hand-written props."""

from __future__ import annotations

from typing import Any

import pytest

from policy.rules import (
    SECRET_SIG,
    SECRET_SIG_KEY,
    Settings,
    config_schema,
    evaluate,
    is_release_tag,
    namespace_layout,
    parse_image,
    prod_image_tags,
    read_only_root_filesystem,
    registry_images,
    resource_limits,
    restricted_pod_security,
    secret_values,
)
from tests.policy.manifests import DEPLOYMENT, SAFE_CONTEXT, container, deployment

CRONJOB = "kubernetes:batch/v1:CronJob"
NAMESPACE = "kubernetes:core/v1:Namespace"
SECRET = "kubernetes:core/v1:Secret"
HOSTS = Settings(registry_hosts=("registry.example.com",))
PROD = Settings(profile="prod")


def secret(**fields: Any) -> dict[str, Any]:
    return {"metadata": {"name": "creds"}, **fields}


def wrapped(value: Any) -> dict[str, Any]:
    return {SECRET_SIG_KEY: SECRET_SIG, "value": value}


# --- image parsing -----------------------------------------------------------------------------


def test_a_bare_image_name_is_an_official_docker_hub_image_without_a_tag() -> None:
    assert parse_image("nginx") == ("docker.io", "library/nginx", None, None)


def test_a_registry_port_is_not_read_as_a_tag() -> None:
    assert parse_image("localhost:32000/team/app:1.0.0") == (
        "localhost:32000", "team/app", "1.0.0", None)  # fmt: skip


def test_a_digest_is_read_apart_from_the_tag() -> None:
    ref = parse_image("goharbor/harbor-core:v2.15.2@sha256:" + "a" * 64)
    assert (ref.registry, ref.tag, ref.digest) == ("docker.io", "v2.15.2", "sha256:" + "a" * 64)


@pytest.mark.parametrize("tag", ["1.2.3", "v2.8.3", "10.0.0"])
def test_release_tags_are_three_numbers_with_an_optional_v(tag: str) -> None:
    assert is_release_tag(tag)


@pytest.mark.parametrize("tag", ["3.13.1-alpine3.21", "1.27.3-bookworm", "v2.8.3-slim"])
def test_an_image_variant_of_a_release_is_a_release_tag(tag: str) -> None:
    assert is_release_tag(tag)


@pytest.mark.parametrize("tag", ["latest", "1.2", "v1.2.3-rc1", "1.2.3-beta", "1.2.3-alpha.2",
                                 "1.2.3-1", "01.2.3"])  # fmt: skip
def test_prereleases_suffixes_and_partial_versions_are_not_release_tags(tag: str) -> None:
    assert not is_release_tag(tag)


# --- registry-images ---------------------------------------------------------------------------


def test_an_image_from_the_stacks_registry_passes() -> None:
    assert registry_images(DEPLOYMENT, deployment(container()), HOSTS) == []


def test_an_image_from_docker_hub_is_refused_with_where_to_push_it() -> None:
    props = deployment(container("docker.io/nginx:latest"))
    (message,) = registry_images(DEPLOYMENT, props, HOSTS)
    assert "image docker.io/nginx:latest is not from registry.example.com" in message
    assert "push it there and reference registry.example.com/nginx:<version X.Y.Z>" in message


def test_the_suggested_reference_keeps_a_release_tag() -> None:
    (message,) = registry_images(DEPLOYMENT, deployment(container("quay.io/org/app:2.0.1")), HOSTS)
    assert "reference registry.example.com/org/app:2.0.1" in message


def test_init_containers_are_checked_too() -> None:
    props = deployment(container(), initContainers=[container("busybox:1.36.1")])
    assert len(registry_images(DEPLOYMENT, props, HOSTS)) == 1


def test_a_cronjobs_pod_template_is_found() -> None:
    pod = {"containers": [container("busybox:1.36.1")]}
    props = {"spec": {"jobTemplate": {"spec": {"template": {"spec": pod}}}}}
    assert len(registry_images(CRONJOB, props, HOSTS)) == 1


@pytest.mark.parametrize(
    "image", ["registry:2.8.3", "docker.io/library/python:3.13.1-alpine3.21",
              "goharbor/harbor-core:v2.15.2",
              # How the goharbor chart writes them.
              "docker.io/goharbor/harbor-core:v2.15.1"],
)  # fmt: skip
def test_default_system_images_are_allowed_from_elsewhere(image: str) -> None:
    assert registry_images(DEPLOYMENT, deployment(container(image)), HOSTS) == []


def test_an_allowed_prefix_ends_at_a_path_component() -> None:
    props = deployment(container("docker.io/library/registry-evil:1.0.0"))
    assert len(registry_images(DEPLOYMENT, props, HOSTS)) == 1


def test_without_registry_hosts_the_message_asks_for_them() -> None:
    (message,) = registry_images(DEPLOYMENT, deployment(container()), Settings())
    assert "set registry_hosts in the registry-images policy config" in message


def test_resources_without_pods_are_not_image_checked() -> None:
    assert registry_images("kubernetes:core/v1:ConfigMap", {"data": {}}, HOSTS) == []


# --- prod-image-tags ---------------------------------------------------------------------------


def test_latest_is_refused_in_prod() -> None:
    (message,) = prod_image_tags(DEPLOYMENT, deployment(container("r.example.com/a:latest")), PROD)
    assert "uses latest" in message
    assert "use a release tag (r.example.com/a:1.2.3 or :v1.2.3) or pin a digest" in message


def test_a_missing_tag_is_refused_in_prod() -> None:
    (message,) = prod_image_tags(DEPLOYMENT, deployment(container("r.example.com/a")), PROD)
    assert "has no tag, which means latest" in message


def test_a_non_release_tag_is_refused_in_prod() -> None:
    props = deployment(container("r.example.com/a:sha-1a2b3c4"))
    (message,) = prod_image_tags(DEPLOYMENT, props, PROD)
    assert "has tag sha-1a2b3c4, which is not a release version" in message


def test_a_digest_pins_an_image_in_prod_whatever_its_tag() -> None:
    props = deployment(container("r.example.com/a:latest@sha256:" + "b" * 64))
    assert prod_image_tags(DEPLOYMENT, props, PROD) == []


def test_latest_is_not_refused_outside_prod() -> None:
    props = deployment(container("r.example.com/a:latest"))
    assert prod_image_tags(DEPLOYMENT, props, Settings(profile="dev")) == []


# --- namespace-layout --------------------------------------------------------------------------


def test_a_namespace_of_the_layout_passes() -> None:
    assert namespace_layout(NAMESPACE, {"metadata": {"name": "staging"}}, Settings()) == []


def test_a_namespace_outside_the_layout_is_reported_with_the_layout() -> None:
    (message,) = namespace_layout(NAMESPACE, {"metadata": {"name": "scratch"}}, Settings())
    assert "Namespace scratch is not in the namespace layout (container-registry, base" in message


def test_an_auto_named_namespace_is_reported() -> None:
    (message,) = namespace_layout(NAMESPACE, {"metadata": {}}, Settings())
    assert "no metadata.name" in message


def test_the_namespace_layout_is_configurable() -> None:
    settings = Settings.from_config({"namespaces": ["scratch"]})
    assert namespace_layout(NAMESPACE, {"metadata": {"name": "scratch"}}, settings) == []


# --- resource-limits and read-only-root-filesystem (regstack's own, not the standard) --------


def test_missing_limits_are_named() -> None:
    props = deployment(container(resources={"limits": {"cpu": "1"}}))
    (message,) = resource_limits(DEPLOYMENT, props, Settings())
    assert message == "Deployment app, container app: set resources.limits.memory"


def test_an_init_container_needs_limits_too() -> None:
    props = deployment(container(), initContainers=[container(name="setup", resources={})])
    (message,) = resource_limits(DEPLOYMENT, props, Settings())
    assert message == "Deployment app, initContainer setup: set resources.limits.cpu and memory"


def test_a_writable_root_filesystem_is_refused_with_where_to_write() -> None:
    context = {**SAFE_CONTEXT, "readOnlyRootFilesystem": False}
    (message,) = read_only_root_filesystem(DEPLOYMENT, deployment(container(securityContext=context)),
                                           Settings())  # fmt: skip
    assert message == ("Deployment app, container app: set securityContext.readOnlyRootFilesystem: "
                       "true (mount an emptyDir where it must write)")  # fmt: skip


def test_regstacks_own_pod_rules_are_not_the_standard() -> None:
    """A pod without limits and with a writable root meets restricted: other rules say so."""
    bare = container(resources={}, securityContext={**SAFE_CONTEXT, "readOnlyRootFilesystem": None})
    props = deployment(bare)
    assert restricted_pod_security(DEPLOYMENT, props, Settings()) == []
    assert resource_limits(DEPLOYMENT, props, Settings()) != []
    assert read_only_root_filesystem(DEPLOYMENT, props, Settings()) != []


def test_a_baseline_namespace_is_exempt_from_regstacks_own_pod_rules() -> None:
    props = deployment({"name": "core", "image": "goharbor/harbor-core:v2.15.2"})
    props["metadata"]["namespace"] = "container-registry"
    settings = Settings.from_config({"baseline_namespaces": ["container-registry"]})
    assert resource_limits(DEPLOYMENT, props, settings) == []
    assert read_only_root_filesystem(DEPLOYMENT, props, settings) == []


# --- secret-values -----------------------------------------------------------------------------


def test_a_secret_whose_data_is_a_pulumi_secret_passes() -> None:
    assert secret_values(SECRET, secret(stringData=wrapped({"password": "x"})), Settings()) == []


def test_a_secret_with_each_value_a_pulumi_secret_passes() -> None:
    props = secret(data={"password": wrapped("eA==")})
    assert secret_values(SECRET, props, Settings()) == []


def test_a_secret_from_a_plain_value_is_refused_with_how_to_mark_it() -> None:
    (message,) = secret_values(SECRET, secret(stringData={"password": "x"}), Settings())
    assert message.startswith("Secret creds: stringData key(s) password come from plain values")
    assert "pulumi.Output.secret(...)" in message


def test_only_the_plain_keys_of_a_secret_are_named() -> None:
    props = secret(data={"a": "eA==", "b": wrapped("eQ==")})
    (message,) = secret_values(SECRET, props, Settings())
    assert "data key(s) a come" in message


# --- configuration and evaluation --------------------------------------------------------------


def test_the_config_schema_carries_the_defaults() -> None:
    schema = config_schema(("allowed_image_prefixes", "profile"))
    assert "docker.io/goharbor/" in schema["allowed_image_prefixes"]["default"]
    assert schema["profile"] == {"type": "string", "default": "dev",
                                 "description": "`prod` turns on the release-tag rule."}  # fmt: skip


def test_namespaces_are_advisory_and_everything_else_mandatory_by_default() -> None:
    bad = [(NAMESPACE, {"metadata": {"name": "scratch"}}),
           (DEPLOYMENT, deployment(container(resources={})))]  # fmt: skip
    levels = {v.rule: v.enforcement for typ, props in bad for v in evaluate(typ, props)}
    assert levels == {"namespace-layout": "advisory", "registry-images": "mandatory",
                      "resource-limits": "mandatory"}  # fmt: skip


def test_an_enforcement_level_is_set_per_policy_in_the_pack_config() -> None:
    (violation,) = evaluate(NAMESPACE, {"metadata": {"name": "scratch"}},
                            {"namespace-layout": {"enforcementLevel": "mandatory"}})  # fmt: skip
    assert violation.enforcement == "mandatory"


def test_a_disabled_policy_reports_nothing() -> None:
    props = {"metadata": {"name": "scratch"}}
    assert evaluate(NAMESPACE, props, {"namespace-layout": "disabled"}) == []


def test_policies_see_secret_values_unwrapped_as_in_the_engine() -> None:
    props = deployment(container(image=wrapped("registry.example.com/app:1.2.3")))
    config = {"registry-images": {"registry_hosts": ["registry.example.com"]}}
    assert evaluate(DEPLOYMENT, props, config) == []
