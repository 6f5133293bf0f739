"""Every object docs/runbook.md tells an operator to look up is one the program creates, under
the name it creates it by, on a stack of its own and on one that took over the addon's images."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest

from components.stack_config import read_stack_file
from devkit.pulumi_mocks import ROOT, Recorder, run_program
from devkit.stacks import DUMMY_SECRET, STACK_FILES

RUNBOOK = (ROOT / "docs" / "runbook.md").read_text()
NAMESPACE = "container-registry"  # the runbook's commands assume the default namespace
KINDS = {
    "deploy": "Deployment",
    "deployment": "Deployment",
    "cronjob": "CronJob",
    "service": "Service",
    "endpoints": "Service",  # the Endpoints object of the Service of that name
    "servicemonitor": "ServiceMonitor",
    "configmap": "ConfigMap",
    "pvc": "PersistentVolumeClaim",
    "lease": "Lease",
    "pods": "Pod",  # never rendered, and named <deployment>-<hash>-<id>: a lookup by name fails
}
RETENTION = {"enabled": True, "rules": [{"repositories": ["*"], "keep_last": 10}]}
TAKE_OVER = {"storage": {"existing_claim": "registry-claim"}}  # replaces the size


def program(**sections: dict[str, Any]) -> Recorder:
    raw = read_stack_file(STACK_FILES["dev"], secret=DUMMY_SECRET)
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value}
    return run_program(raw)


@cache
def stacks() -> dict[str, Recorder]:
    """The dev stack with every job the runbook covers, and the same after an addon take-over."""
    return {
        "own claim": program(retention=RETENTION),
        "take-over": program(retention=RETENTION, registry=TAKE_OVER),
    }


def objects(rec: Recorder) -> set[tuple[str, str]]:
    """(kind, name) of every object in the registry namespace, and of the Lease GC takes
    (the Job creates it; the program grants it by name)."""
    found = set()
    for resource in rec.resources:
        metadata = resource.inputs.get("metadata") or {}
        if resource.type.startswith("kubernetes:") and metadata.get("namespace") == NAMESPACE:
            found.add((resource.type.rsplit(":", 1)[-1], metadata["name"]))
            for rule in (
                (resource.inputs.get("rules") or []) if resource.type.endswith(":Role") else []
            ):
                if "leases" in rule.get("resources", []):
                    found |= {("Lease", name) for name in rule.get("resourceNames", [])}
    return found


def runbook_references() -> set[tuple[str, str]]:
    """(kind, name) of every object the runbook's commands and prose name in the namespace."""
    refs = set()
    for kind, name in re.findall(
        rf"kubectl -n {NAMESPACE} [^`]*?\b(deploy|cronjob)/([a-z0-9-]+)", RUNBOOK
    ):
        refs.add((KINDS[kind], name))
    for kinds, name in re.findall(
        rf"kubectl -n {NAMESPACE} get ([a-z,]+) ([a-z][a-z0-9-]*)", RUNBOOK
    ):
        refs |= {(KINDS.get(kind, kind), name) for kind in kinds.split(",")}
    for name in re.findall(rf"kubectl -n {NAMESPACE} get jobs \| grep ([a-z0-9-]+)", RUNBOOK):
        refs.add(("CronJob", name))
    for kind, name in re.findall(
        r"\b(Service|CronJob|ConfigMap|Deployment|PVC) `([a-z0-9-]+)`", RUNBOOK
    ):
        refs.add((KINDS[kind.lower()], name))
    return refs


def test_the_runbook_is_parsed_into_the_objects_it_names() -> None:
    # A parser that found nothing would let every name through.
    assert {("Deployment", "registry"), ("CronJob", "registry-gc"), ("Lease", "registry-gc"),
            ("Service", "registry-metrics")} <= runbook_references()  # fmt: skip


@pytest.mark.parametrize("stack", ["own claim", "take-over"])
def test_every_object_the_runbook_looks_up_is_one_the_program_creates(stack: str) -> None:
    rendered = objects(stacks()[stack])
    # The dashboard ConfigMap lives in the monitoring namespace, where Grafana reads it.
    missing = runbook_references() - rendered - {("ConfigMap", "regstack-registry-dashboard")}
    assert not missing, sorted(missing)


@pytest.mark.parametrize("stack", ["own claim", "take-over"])
def test_the_storage_alert_names_the_claim_the_registry_mounts(stack: str) -> None:
    deployment = next(r for r in stacks()[stack].of_type("kubernetes:apps/v1:Deployment"))
    volumes = deployment.inputs["spec"]["template"]["spec"]["volumes"]
    claim = next(v["persistentVolumeClaim"]["claimName"] for v in volumes if v["name"] == "data")
    section = RUNBOOK.split("## RegistryStorageAlmostFull", 1)[1].split("\n## ", 1)[0]
    assert f"`{claim}`" in section
    assert '[?(@.name=="data")].persistentVolumeClaim.claimName' in section


def test_the_pods_the_runbook_selects_carry_its_label() -> None:
    deployment = next(r for r in stacks()["own claim"].of_type("kubernetes:apps/v1:Deployment"))
    labels = deployment.inputs["spec"]["template"]["metadata"]["labels"]
    for key, value in re.findall(r"-l ([a-z0-9./-]+)=([a-z0-9-]+)", RUNBOOK):
        assert labels.get(key) == value, (key, value)
