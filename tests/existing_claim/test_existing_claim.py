"""`registry.storage.existing_claim`: the registry adopts a claim it does not own, such as the
MicroK8s addon's `registry-claim`, and never creates or deletes one of its own."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import ConfigError, load_config
from devkit.pulumi_mocks import Recorder, platform

ADDON_CLAIM = {"registry": {"storage": {"existing_claim": "registry-claim"}}}


def data_volume(rec: Recorder, name: str) -> dict[str, Any]:
    spec = rec.named(name).inputs["spec"]
    if "jobTemplate" in spec:
        spec = spec["jobTemplate"]["spec"]
    volumes = {v["name"]: v for v in spec["template"]["spec"]["volumes"]}
    return dict(volumes["data"])


def test_no_claim_of_its_own_is_created() -> None:
    rec = platform(ADDON_CLAIM)
    assert rec.of_type("kubernetes:core/v1:PersistentVolumeClaim") == []


def test_the_registry_and_garbage_collection_mount_the_existing_claim() -> None:
    rec = platform(ADDON_CLAIM)
    for workload in ("rs-registry-deployment", "rs-gc-cronjob"):
        claim = data_volume(rec, workload)["persistentVolumeClaim"]
        assert claim == {"claimName": "registry-claim"}, workload


def test_a_read_write_many_claim_lets_pods_roll_over_without_a_stop() -> None:
    raw = {"registry": {"storage": {"existing_claim": "registry-claim",
                                    "access_mode": "ReadWriteMany"}}}  # fmt: skip
    strategy = platform(raw).named("rs-registry-deployment").inputs["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate"}


def test_a_read_write_once_claim_is_stopped_before_the_new_pod_starts() -> None:
    strategy = platform(ADDON_CLAIM).named("rs-registry-deployment").inputs["spec"]["strategy"]
    assert strategy == {"type": "Recreate"}


@pytest.mark.parametrize(
    ("storage", "hint"),
    [
        ({"type": "s3", "s3": {"bucket": "images"}}, "the type is s3"),
        ({"size": "50Gi"}, "keeps its own size"),
        ({"storage_class": "fast"}, "keeps its own size and StorageClass"),
    ],
    ids=["with s3", "with a size", "with a storage class"],
)
def test_settings_the_existing_claim_would_ignore_are_refused(
    storage: dict[str, Any], hint: str
) -> None:
    raw = {"registry": {"storage": {"existing_claim": "registry-claim", **storage}}}
    with pytest.raises(ConfigError) as error:
        load_config(raw)
    assert "registry.storage.existing_claim" in [p.path for p in error.value.problems]
    assert hint in str(error.value)


def test_a_claim_name_that_kubernetes_would_refuse_is_refused_at_its_path() -> None:
    with pytest.raises(ConfigError) as error:
        load_config({"registry": {"storage": {"existing_claim": "Registry_Claim"}}})
    assert [p.path for p in error.value.problems] == ["registry.storage.existing_claim"]


@pytest.mark.parametrize(
    ("backend", "extra", "hint"),
    [("microk8s-addon", {}, "existing_claim: registry-claim takes its images over"),
     ("harbor", {"harbor": {"admin_password": "harbor-admin-pw", "secret_seed": "s" * 32}},
      "existingClaim")],
)  # fmt: skip
def test_an_existing_claim_is_refused_where_regstack_does_not_run_the_registry(
    backend: str, extra: dict[str, Any], hint: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_config({"backend": backend, **ADDON_CLAIM, **extra})
    assert "registry.storage.existing_claim" in [p.path for p in error.value.problems]
    assert hint in str(error.value)


def test_the_storage_alerts_and_dashboard_watch_the_existing_claim() -> None:
    rec = platform({**ADDON_CLAIM, "monitoring": {"enabled": True}})
    rules = json.dumps(rec.named("rs-monitoring-rules").inputs["spec"])
    (dashboard,) = rec.named("rs-monitoring-dashboard").inputs["data"].values()
    for watched in (rules, dashboard):
        assert 'persistentvolumeclaim=\\"registry-claim\\"' in watched
        assert "registry-data" not in watched
