"""KEP-1755's `local-registry-hosting` ConfigMap: a lab's tools find the registry there."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.config import ConfigError, load_config
from devkit.pulumi_mocks import Recorder, platform

PROD = {"profile": "prod", "tls": {"mode": "self-signed"},
        "auth": {"enabled": True, "mode": "token",
                 "users": [{"name": "ci", "password": "prod-ci-password", "role": "admin"}],
                 # a realm pods reach too: GC signs in from its pod to keep in-use images
                 "token_server": {"realm": "https://auth.example.com/auth"}}}  # fmt: skip
HOSTING = "rs-hosting-configmap"


def published(rec: Recorder) -> dict[str, Any]:
    return dict(yaml.safe_load(rec.named(HOSTING).inputs["data"]["localRegistryHosting.v1"]))


def test_a_lab_registry_is_published_where_the_microk8s_addon_publishes_it() -> None:
    metadata = platform({}).named(HOSTING).inputs["metadata"]
    assert (metadata["namespace"], metadata["name"]) == ("kube-public", "local-registry-hosting")


def test_the_document_names_the_node_port_and_the_in_cluster_service() -> None:
    assert published(platform({})) == {
        "host": "localhost:32000",
        "hostFromContainerRuntime": "localhost:32000",
        "hostFromClusterNetwork": "registry.container-registry.svc.cluster.local:5000",
    }


def test_with_host_names_and_no_ingress_people_and_nodes_use_the_first_at_the_node_port() -> None:
    document = published(platform({"registry": {"hostnames": ["registry.lab.local"]}}))
    assert document["host"] == document["hostFromContainerRuntime"] == "registry.lab.local:32000"


def test_behind_an_ingress_people_and_nodes_use_the_first_host_name_alone() -> None:
    raw = {"registry": {"hostnames": ["registry.lab.local"], "ingress": {"enabled": True}}}
    document = published(platform(raw))
    assert document["host"] == document["hostFromContainerRuntime"] == "registry.lab.local"


def test_the_addon_s_leftover_copy_is_taken_over_by_force() -> None:
    annotations = platform({}).named(HOSTING).inputs["metadata"]["annotations"]
    assert annotations == {"pulumi.com/patchForce": "true"}


@pytest.mark.parametrize(
    ("raw", "published_"),
    [({}, True), ({"registry": {"advertise": False}}, False), (PROD, False),
     ({**PROD, "registry": {"advertise": True}}, True)],
    ids=["dev", "dev opted out", "prod", "prod opted in"],
)  # fmt: skip
def test_only_the_dev_profile_publishes_unless_told_otherwise(
    raw: dict[str, Any], published_: bool
) -> None:
    names = [r.name for r in platform(raw).resources]
    assert (HOSTING in names) is published_


def test_the_addon_backend_is_left_to_publish_its_own() -> None:
    rec = platform({"backend": "microk8s-addon"})
    assert HOSTING not in [r.name for r in rec.resources]
    with pytest.raises(ConfigError) as error:
        load_config({"backend": "microk8s-addon", "registry": {"advertise": True}})
    assert [p.path for p in error.value.problems] == ["registry.advertise"]
