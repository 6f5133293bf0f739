"""End to end: the harbor backend from the real goharbor chart (the pinned release, read from the
vendor directory: helm.goharbor.io is out of reach here) against a real API server.

The prod stack installs, a second preview has nothing to do (every value the chart's templates
would draw at random is pinned), no secret reaches the state in plaintext, the chart's volumes
are protected from `pulumi destroy`, and after unprotecting them nothing of the stack is left.
A dev-profile variant on a node port moves its port as one in-place update.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from engine import REPO, Engine
from regstack_project import RegstackProject

from components.harbor_secrets import harbor_secrets
from devkit.vendor import harbor_chart

pytestmark = pytest.mark.e2e

ADMIN_PASSWORD = "E2e-Admin-Passw0rd"
SEED = "e2e-seed-0123456789-abcdefghijklmnopqrstuv"
NAMESPACE = "harbor-prod"
API = f"/api/v1/namespaces/{NAMESPACE}"
APPS = f"/apis/apps/v1/namespaces/{NAMESPACE}"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"


def stack_file(directory: Path, source: Path, **overrides: Any) -> Path:
    """`source` without its placeholder secrets, reading the chart from the vendor archive."""
    document = yaml.safe_load(source.read_text())
    harbor = document["config"]["regstack:harbor"]
    for secret in ("admin_password", "secret_seed"):
        harbor.pop(secret, None)
    harbor["chart"] = {"path": str(harbor_chart())}
    document["config"].update(overrides)
    path = directory / source.name
    path.write_text(yaml.safe_dump(document))
    return path


def harbor_project(
    engine: Engine, tmp_path: Path, stack: str, source: Path, **overrides: Any
) -> RegstackProject:
    project = RegstackProject.copy(
        engine, tmp_path, stack, source=stack_file(tmp_path, source, **overrides)
    )
    project.set_secret("regstack:harbor.admin_password", ADMIN_PASSWORD)
    project.set_secret("regstack:harbor.secret_seed", SEED)
    return project


def resources(project: RegstackProject) -> list[dict[str, Any]]:
    return json.loads(project.export())["deployment"].get("resources") or []


@pytest.fixture(scope="module")
def prod(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegstackProject]:
    # The ClusterIssuer the prod stack names; self-signed here, ACME in production.
    engine.cluster.create("/apis/cert-manager.io/v1/clusterissuers", {
        "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
        "metadata": {"name": "letsencrypt-prod"}, "spec": {"selfSigned": {}},
    })  # fmt: skip
    project = harbor_project(
        engine, tmp_path_factory.mktemp("harbor-prod"), "harbor-prod", REPO / "Pulumi.prod.yaml",
        **{"regstack:registry": {"namespace": NAMESPACE, "hostnames": ["registry.example.com"]}},
    )  # fmt: skip
    project.up()
    yield project
    for resource in resources(project):
        if resource.get("protect"):
            project.run("state", "unprotect", resource["urn"], "--yes", check=False)
    project.destroy(check=False)
    project.remove()


def test_the_prod_stack_installs_harbor_from_the_real_chart(prod: RegstackProject) -> None:
    cluster = prod.engine.cluster
    for workload in ("core", "jobservice", "portal", "registry", "exporter"):
        status, deployment = cluster.get(f"{APPS}/deployments/harbor-{workload}")
        assert status == 200, workload
    images = {c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]}
    assert images == {"docker.io/goharbor/harbor-exporter:v2.15.2"}
    for workload in ("database", "redis", "trivy"):
        assert cluster.get(f"{APPS}/statefulsets/harbor-{workload}")[0] == 200, workload
    ingress = cluster.get(f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/ingresses/harbor-ingress")[1]  # fmt: skip
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [
        {"hosts": ["registry.example.com"], "secretName": "regstack-certificate-tls"}
    ]
    core = cluster.get(f"{API}/configmaps/harbor-core")[1]
    assert core["data"]["EXT_ENDPOINT"] == "https://registry.example.com"


def test_a_second_preview_of_the_real_chart_has_nothing_to_do(prod: RegstackProject) -> None:
    assert prod.preview_steps() == []


def test_no_harbor_secret_reaches_the_state_in_plaintext(prod: RegstackProject) -> None:
    state = prod.export()
    derived = harbor_secrets(SEED)
    for value in (ADMIN_PASSWORD, SEED, derived.secret_key, derived.core_secret,
                  derived.database_password, derived.registry_password):  # fmt: skip
        assert value not in state


def test_the_charts_volumes_are_protected_then_destroy_keeps_them_in_their_namespace(
    prod: RegstackProject,
) -> None:
    claims = {r["urn"]: r for r in resources(prod) if r["type"] == PVC}
    assert {urn.rsplit("/", 1)[1] for urn in claims} == {"harbor-registry", "harbor-jobservice"}
    assert all(r.get("protect") for r in claims.values())
    refused = prod.destroy(check=False)
    assert refused.returncode != 0 and "protected" in refused.stdout + refused.stderr
    assert prod.engine.cluster.get(f"{API}/persistentvolumeclaims/harbor-registry")[0] == 200

    for urn in claims:
        prod.run("state", "unprotect", urn, "--yes")
    prod.destroy()
    assert [r["type"] for r in resources(prod) if r["type"].startswith("kubernetes:")] == []
    # Kept on delete, and regstack never deletes a namespace, which would delete them.
    assert prod.engine.cluster.get(f"{API}/persistentvolumeclaims/harbor-registry")[0] == 200
    assert prod.engine.cluster.get(API)[1]["status"] == {"phase": "Active"}
    prod.engine.cluster.delete_namespace(NAMESPACE)


def test_a_node_port_move_updates_the_service_and_replaces_only_the_core_config(
    engine: Engine, tmp_path: Path
) -> None:
    project = harbor_project(
        engine, tmp_path, "harbor-dev", REPO / "Pulumi.prod.yaml",
        **{"regstack:profile": "dev", "regstack:tls": {"mode": "none"},
           "regstack:registry": {"namespace": "harbor-dev"},
           "regstack:harbor": {"chart": {"path": str(harbor_chart())}, "trivy": False,
                               "expose": {"type": "nodePort"}}},
    )  # fmt: skip
    try:
        project.up()
        project.set_path("regstack:harbor.expose.node_ports.http", "30080")
        steps = project.preview_steps()
        assert (
            "update",
            "kubernetes:core/v1:Service::regstack-harbor-chart:harbor-dev/harbor",
        ) in steps
        # pulumi-kubernetes replaces a changed ConfigMap (the stack files make only Secrets
        # mutable); nothing else may be replaced.
        assert [s for s in steps if s[0] != "update"] == [
            (
                "replace",
                "kubernetes:core/v1:ConfigMap::regstack-harbor-chart:harbor-dev/harbor-core",
            )
        ]
        project.up()
        service = engine.cluster.get("/api/v1/namespaces/harbor-dev/services/harbor")[1]
        assert {p["name"]: p["nodePort"] for p in service["spec"]["ports"]}["http"] == 30080
    finally:
        project.destroy(check=False)
        project.remove()
