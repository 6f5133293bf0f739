"""checkov over the prod stack with the Harbor chart's real objects (`make scan prod`), and the
hardening regstack adds to them (limits, read-only root filesystems, NetworkPolicies).

The mock harness never sees a chart's objects, so these come from the provider's render mode
over the pinned chart: what the prod stack would apply, Secrets redacted. The expectations are
written out here, not read from components.harbor_hardening, so that they check it.
"""

from __future__ import annotations

import copy
import urllib.error
from collections import Counter
from typing import Any

import pytest
from engine import Engine

from devkit.checkov import Report, installed, scan
from devkit.manifests import chart_objects, manifests, write_manifests, write_objects
from devkit.stacks import stack_program

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not installed(), reason="checkov not installed: scripts/checkov.sh --install"
    ),
]


@pytest.fixture(scope="module")
def objects(engine: Engine) -> list[dict[str, Any]]:
    return chart_objects("prod", engine.kubeconfig)


@pytest.fixture(scope="module")
def report(objects: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Report:
    directory = tmp_path_factory.mktemp("scan-prod")
    write_manifests(stack_program("prod"), directory)
    write_objects(objects, directory)
    return scan(directory)


def test_the_scan_holds_every_harbor_workload_of_the_chart(objects: list[dict[str, Any]]) -> None:
    workloads = Counter(o["kind"] for o in objects if o["kind"] in ("Deployment", "StatefulSet"))
    assert workloads == {"Deployment": 5, "StatefulSet": 3}


def test_no_secret_value_of_the_chart_reaches_the_scanned_files(
    objects: list[dict[str, Any]],
) -> None:
    secrets = [o for o in objects if o["kind"] == "Secret"]
    assert secrets and all(set(o.get("data", {}).values()) <= {"[secret]"} for o in secrets)


# The first scan of the real chart's objects found 68 failed checks on its 8 workloads (672
# passed): no limits, writable root filesystems, secrets in environment variables, tags and
# IfNotPresent, UID 999, no NetworkPolicy. components/harbor_hardening.py fixes what Harbor allows
# and components/scan_skips.HARBOR gives the reason for the rest (716 passed, 0 failed, 24
# skipped with chart 1.19.2).
def test_checkov_finds_no_failed_check_in_the_prod_stack(report: Report) -> None:
    assert report.failed == []


def test_every_skip_in_the_prod_stack_carries_its_reason(report: Report) -> None:
    assert all(f.reason and f.reason != "No comment provided" for f in report.skipped)


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    pod = workload["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]


def test_every_harbor_container_runs_on_a_read_only_root_filesystem(
    objects: list[dict[str, Any]],
) -> None:
    writable = [
        (w["metadata"]["name"], c["name"])
        for w in workloads(objects)
        for c in containers(w)
        if not c.get("securityContext", {}).get("readOnlyRootFilesystem")
    ]
    assert writable == []


def test_every_harbor_container_has_cpu_and_memory_requests_and_limits(
    objects: list[dict[str, Any]],
) -> None:
    unbounded = [
        (w["metadata"]["name"], c["name"])
        for w in workloads(objects)
        for c in containers(w)
        for kind in ("requests", "limits")
        if set(c.get("resources", {}).get(kind, {})) != {"cpu", "memory"}
    ]
    assert unbounded == []


# Harbor v2.15.2's images (make/photon/*): what each container writes outside its volumes.
# install_cert.sh, run by six entrypoints, rewrites the trust store and keeps the original bundle
# beside itself.
WRITES = {
    "core": {"/tmp", "/etc/pki/tls/certs", "/harbor/ca-bundle.crt.original"},
    "jobservice": {"/tmp", "/etc/pki/tls/certs", "/harbor/ca-bundle.crt.original"},
    "exporter": {"/tmp", "/etc/pki/tls/certs", "/harbor/ca-bundle.crt.original"},
    "registry": {"/tmp", "/etc/pki/tls/certs", "/home/harbor/ca-bundle.crt.original"},
    "registryctl": {"/tmp", "/etc/pki/tls/certs", "/home/harbor/ca-bundle.crt.original"},
    "trivy": {"/tmp", "/etc/pki/tls/certs", "/home/scanner/ca-bundle.crt.original"},
    "portal": {"/tmp"},
    "database": {"/tmp", "/run/postgresql"},
    "redis": {"/var/run"},
}


def test_each_path_a_harbor_image_writes_is_mounted_from_an_empty_dir(
    objects: list[dict[str, Any]],
) -> None:
    found = {}
    for workload in workloads(objects):
        pod = workload["spec"]["template"]["spec"]
        scratch = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        for container in pod["containers"]:
            found[container["name"]] = {
                m["mountPath"] for m in container.get("volumeMounts", []) if m["name"] in scratch
            } - {"/dev/shm", "/etc/core/token"}  # the chart's own emptyDirs
    assert found == WRITES


def test_the_trust_store_is_copied_from_the_image_before_harbor_starts(
    objects: list[dict[str, Any]],
) -> None:
    copied = {}
    for workload in workloads(objects):
        pod = workload["spec"]["template"]["spec"]
        images = {c["image"] for c in pod["containers"]}
        for init in pod.get("initContainers", []):
            if init["name"] == "regstack-ca-trust":
                assert init["image"] in images
                copied[workload["metadata"]["name"]] = init["command"][-1].count("cp -R")
    assert copied == {"harbor-core": 1, "harbor-jobservice": 1, "harbor-exporter": 1,
                      "harbor-registry": 2, "harbor-trivy": 1}  # fmt: skip


def network_policies() -> list[dict[str, Any]]:
    return [m for m in manifests(stack_program("prod")) if m["kind"] == "NetworkPolicy"]


def selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = policy["spec"]["podSelector"]["matchLabels"]
    return all(labels.get(k) == v for k, v in wanted.items())


def test_each_harbor_pod_is_selected_by_exactly_one_network_policy(
    objects: list[dict[str, Any]],
) -> None:
    selected = {
        w["metadata"]["name"]: [
            p["metadata"]["name"]
            for p in network_policies()
            if selects(p, w["spec"]["template"]["metadata"]["labels"])
        ]
        for w in workloads(objects)
    }
    assert selected == {name: [name] for name in selected}


def test_each_network_policy_admits_exactly_the_ports_of_its_components_service(
    objects: list[dict[str, Any]],
) -> None:
    """The chart's Services list every port a component serves (targetPort, else port)."""
    served = {
        o["metadata"]["name"]: {p.get("targetPort", p["port"]) for p in o["spec"]["ports"]}
        for o in objects
        if o["kind"] == "Service" and "component" in o["spec"].get("selector", {})
    }
    admitted = {
        p["metadata"]["name"]: {
            port["port"] for rule in p["spec"]["ingress"] for port in rule["ports"]
        }
        for p in network_policies()
    }
    assert admitted == served


def test_the_api_server_admits_every_harbor_pod_under_the_namespaces_pod_security(
    engine: Engine, objects: list[dict[str, Any]]
) -> None:
    """Each workload's pod, dry-run into a namespace with the prod stack's Pod Security labels:
    kube-apiserver's own admission (restricted) refuses with HTTP 403 and the controls."""
    (namespace,) = [m for m in manifests(stack_program("prod")) if m["kind"] == "Namespace"]
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    engine.cluster.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                          "metadata": {"name": "harbor-pod-security", "labels": labels}})  # fmt: skip
    for workload in workloads(objects):
        pod = copy.deepcopy(workload["spec"]["template"]["spec"])
        # A StatefulSet's claims, as the volumes its pods get.
        pod.setdefault("volumes", []).extend(
            {"name": claim["metadata"]["name"], "persistentVolumeClaim": {"claimName": "data"}}
            for claim in workload["spec"].get("volumeClaimTemplates", [])
        )
        name = workload["metadata"]["name"]
        try:
            engine.cluster.create(
                "/api/v1/namespaces/harbor-pod-security/pods?dryRun=All",
                {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": pod},
            )
        except urllib.error.HTTPError as refused:
            pytest.fail(f"{name}: {refused.code} {refused.read().decode()}")
