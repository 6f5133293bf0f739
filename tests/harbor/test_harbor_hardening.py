"""What regstack adds to the Harbor chart's pods: NetworkPolicies per component (Pulumi mocks),
the transform's writable directories and CA trust, and limits in the chart values.

tests/e2e/test_harbor_scan_e2e.py checks the same on the real chart's rendered objects.
"""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc

from components.addresses import harbor_external_url
from components.harbor import harbor_values
from components.harbor_hardening import (
    CA_TRUST_INIT,
    ca_trust_script,
    harden_pod,
    harden_workload,
    hardening_values,
)
from components.harbor_secrets import harbor_secrets
from devkit.vendor import VENDOR

from .support import SEED, harbor_config, register

POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NAMESPACE = "kubernetes:core/v1:Namespace"
PROMETHEUS = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
              "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}  # fmt: skip
ANYONE = [{"namespaceSelector": {}}, {"ipBlock": {"cidr": "0.0.0.0/0"}}]
NODE_PORT = {"registry": {"hostnames": []}, "harbor": {"expose": {"type": "nodePort"}},
             "tls": {"mode": "issuer", "issuer": {"name": "corp-ca"}}}  # fmt: skip


def policies(**override: Any) -> dict[str, list[tuple[frozenset[Any], tuple[int, ...]]]]:
    """Per selected component: each ingress rule as (its sources, its ports). A source is a
    component name, "prometheus", or "anyone" for the any-client peers."""

    def source(peer: dict[str, Any]) -> str:
        if peer == PROMETHEUS:
            return "prometheus"
        if peer in ANYONE:
            return "anyone"
        labels = peer["podSelector"]["matchLabels"]
        assert (labels["app"], labels["release"]) == ("harbor", "harbor")
        return str(labels["component"])

    result = {}
    for registration in register(harbor_config(**override)):
        if registration.type != POLICY:
            continue
        spec = registration.inputs["spec"]
        assert spec["policyTypes"] == ["Ingress"]
        component = spec["podSelector"]["matchLabels"]["component"]
        result[component] = [
            (frozenset(source(p) for p in rule["from"]),
             tuple(port["port"] for port in rule["ports"]))
            for rule in spec["ingress"]
        ]  # fmt: skip
    return result


def test_each_harbor_component_admits_only_the_flows_harbor_uses() -> None:
    metrics = (frozenset({"prometheus"}), (8001,))
    assert policies(harbor={"metrics": {"enabled": True}}) == {
        "core": [(frozenset({"anyone"}), (8080,)), metrics],
        "portal": [(frozenset({"anyone"}), (8080,))],
        "jobservice": [(frozenset({"core"}), (8080,)), metrics],
        "registry": [(frozenset({"core", "jobservice"}), (5000, 8080)), metrics],
        "trivy": [(frozenset({"core", "jobservice"}), (8080,))],
        "database": [(frozenset({"core", "jobservice", "exporter"}), (5432,))],
        "redis": [(frozenset({"core", "jobservice", "registry", "trivy", "exporter"}), (6379,))],
        "exporter": [metrics],
    }


def test_without_metrics_no_component_admits_prometheus_and_there_is_no_exporter() -> None:
    found = policies()
    assert "exporter" not in found
    assert all("prometheus" not in sources for rules in found.values() for sources, _ in rules)
    assert found["database"] == [(frozenset({"core", "jobservice"}), (5432,))]


def test_behind_the_charts_nginx_only_nginx_is_open_to_any_client() -> None:
    found = policies(**NODE_PORT)
    assert found["nginx"] == [(frozenset({"anyone"}), (8080, 8443))]
    assert found["portal"] == [(frozenset({"nginx"}), (8080,))]
    assert found["core"] == [(frozenset({"nginx", "jobservice", "registry", "trivy"}), (8080,))]


def test_internal_tls_moves_each_policy_to_the_tls_ports() -> None:
    names = {c: f"{c}-tls" for c in ("core", "jobservice", "registry", "portal", "trivy")}
    found = policies(harbor={"internal_tls": {"enabled": True, "secret_names": names}})
    assert found["core"][0][1] == (8443,)
    assert found["registry"][0][1] == (5443, 8443)
    assert found["trivy"][0][1] == (8443,)


def test_an_external_database_and_redis_get_no_policy_of_regstack() -> None:
    found = policies(
        harbor={
            "database": {"type": "external", "host": "db.example.com", "password": "pw"},
            "redis": {"type": "external", "host": "redis.example.com"},
        }
    )
    assert "database" not in found and "redis" not in found


def test_without_trivy_no_policy_admits_the_scanner() -> None:
    found = policies(harbor={"trivy": False})
    assert "trivy" not in found
    assert all("trivy" not in sources for rules in found.values() for sources, _ in rules)


def test_harbors_namespace_enforces_the_restricted_pod_security_standard() -> None:
    (namespace,) = [r for r in register(harbor_config()) if r.type == NAMESPACE]
    labels = namespace.inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def container(name: str) -> dict[str, Any]:
    return {"name": name, "image": f"goharbor/{name}:v2.15.2", "imagePullPolicy": "IfNotPresent",
            "securityContext": {"readOnlyRootFilesystem": True}}  # fmt: skip


def mounts(pod: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    (found,) = [c for c in pod["containers"] if c["name"] == name]
    return {m["mountPath"]: m for m in found.get("volumeMounts", [])}


def test_a_writable_directory_becomes_an_empty_dir_of_its_own() -> None:
    pod = harden_pod({"containers": [container("database")]})
    volumes = {v["name"]: v for v in pod["volumes"]}
    for path in ("/tmp", "/run/postgresql"):
        assert volumes[mounts(pod, "database")[path]["name"]] == {
            "name": mounts(pod, "database")[path]["name"],
            "emptyDir": {},
        }


def test_install_cert_gets_a_writable_trust_store_and_original_bundle() -> None:
    pod = harden_pod({"containers": [container("registry"), container("registryctl")]})
    for name in ("registry", "registryctl"):
        found = mounts(pod, name)
        assert found["/etc/pki/tls/certs"]["subPath"] == f"{name}/certs"
        assert found["/home/harbor/ca-bundle.crt.original"]["subPath"] == (
            f"{name}/ca-bundle.crt.original"
        )
    (init,) = pod["initContainers"]
    assert (init["name"], init["image"]) == (CA_TRUST_INIT, "goharbor/registry:v2.15.2")
    assert init["securityContext"] == {"readOnlyRootFilesystem": True}
    assert set(init["resources"]) == {"requests", "limits"}
    script = init["command"][-1]
    assert "/regstack-ca-trust/registry/certs" in script
    assert "/regstack-ca-trust/registryctl/ca-bundle.crt.original" in script


def run_ca_trust(tmp_path: Path, certs: Path) -> Path:
    volume = tmp_path / "volume"
    volume.mkdir()
    script = ca_trust_script(["core"], certs=str(certs), volume=str(volume))
    subprocess.run(["sh", "-c", script], check=True)
    return volume / "core"


def test_the_init_script_copies_the_images_bundle_as_a_file_even_through_a_link(
    tmp_path: Path,
) -> None:
    certs = tmp_path / "etc-pki-tls-certs"
    certs.mkdir()
    (tmp_path / "bundle.pem").write_text("image CAs\n")
    (certs / "ca-bundle.crt").symlink_to(tmp_path / "bundle.pem")
    copied = run_ca_trust(tmp_path, certs)
    assert not (copied / "certs" / "ca-bundle.crt").is_symlink()
    assert (copied / "certs" / "ca-bundle.crt").read_text() == "image CAs\n"
    assert (copied / "ca-bundle.crt.original").read_text() == "image CAs\n"


def test_the_init_script_leaves_an_empty_original_for_an_image_without_a_bundle(
    tmp_path: Path,
) -> None:
    copied = run_ca_trust(tmp_path, tmp_path / "absent")
    assert (copied / "certs").is_dir()
    assert (copied / "ca-bundle.crt.original").read_text() == ""


HARBOR_SOURCE = VENDOR / "harbor-src-v2.15.2.tar.gz"


def install_cert(root: Path) -> Path:
    """Harbor's own make/photon/common/install_cert.sh, as /harbor/install_cert.sh under `root`:
    its absolute paths moved under `root`, and /etc/pki/tls/certs to the init script's copy
    (the emptyDir mounts, which a file tree can only stand for)."""
    with tarfile.open(HARBOR_SOURCE) as source:
        member = next(m for m in source if m.name.endswith("make/photon/common/install_cert.sh"))
        text = source.extractfile(member).read().decode()  # type: ignore[union-attr]
    for path, moved in (("/etc/pki/tls/certs", f"{root}/volume/core/certs"),
                        ("/etc/lsb-release", f"{root}/etc/lsb-release"),
                        ("/etc/harbor/ssl", f"{root}/etc/harbor/ssl"),
                        ("/harbor_cust_cert", f"{root}/harbor_cust_cert")):  # fmt: skip
        text = text.replace(path, moved)
    script = root / "harbor" / "install_cert.sh"
    script.parent.mkdir()
    script.write_text(text)
    # The subPath mount of the init script's original, beside the script.
    (root / "harbor" / "ca-bundle.crt.original").symlink_to(
        root / "volume" / "core" / "ca-bundle.crt.original"
    )
    return script


def files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()}


@pytest.mark.skipif(not HARBOR_SOURCE.is_file(), reason=f"{HARBOR_SOURCE} is missing")
@pytest.mark.parametrize("linked", [False, True], ids=["bundle-file", "bundle-link"])
def test_harbors_install_cert_runs_on_the_copied_trust_store_and_writes_nothing_else(
    tmp_path: Path, linked: bool
) -> None:
    image = tmp_path / "image-certs"
    image.mkdir()
    (tmp_path / "image-bundle.pem").write_text("image CAs\n")
    if linked:
        (image / "ca-bundle.crt").symlink_to(tmp_path / "image-bundle.pem")
    else:
        (image / "ca-bundle.crt").write_text("image CAs\n")
    (tmp_path / "etc" / "harbor" / "ssl" / "core").mkdir(parents=True)
    (tmp_path / "etc" / "lsb-release").write_text("DISTRIB_ID=Photon\n")
    (tmp_path / "etc" / "harbor" / "ssl" / "core" / "ca.crt").write_text("internal CA\n")
    (tmp_path / "harbor_cust_cert").mkdir()
    (tmp_path / "harbor_cust_cert" / "s3.crt").write_text("custom CA\n")
    (tmp_path / "volume").mkdir()
    subprocess.run(["sh", "-c", ca_trust_script(["core"], certs=str(image),
                                                volume=str(tmp_path / "volume"))], check=True)  # fmt: skip
    script = install_cert(tmp_path)
    before = files(tmp_path)
    for _ in range(2):  # a restarted container runs it again
        subprocess.run(["bash", str(script)], check=True, capture_output=True)
    changed = {k for k, v in files(tmp_path).items() if before.get(k) != v}
    assert changed == {"volume/core/certs/ca-bundle.crt"}
    bundle = (tmp_path / "volume" / "core" / "certs" / "ca-bundle.crt").read_text()
    assert bundle == "image CAs\ninternal CA\ncustom CA\n"


def test_a_container_without_install_cert_gets_no_init_container() -> None:
    pod = harden_pod({"containers": [container("portal")]})
    assert "initContainers" not in pod
    assert set(mounts(pod, "portal")) == {"/tmp"}


def workload(spec: Any) -> pulumi.ResourceTransformArgs:
    return pulumi.ResourceTransformArgs(
        custom=True, type_="kubernetes:apps/v1:Deployment", name="harbor-core",
        props={"metadata": {"name": "harbor-core"}, "spec": spec}, opts=pulumi.ResourceOptions(),
    )  # fmt: skip


SPEC = {"template": {"metadata": {"labels": {"component": "core"}},
                     "spec": {"containers": [container("core")]}}}  # fmt: skip


def test_the_transform_writes_the_reasoned_skips_of_the_component_on_its_workload() -> None:
    result = harden_workload(workload(SPEC))
    assert result is not None
    annotations = result.props["metadata"]["annotations"]
    checks = {value.split("=", 1)[0] for value in annotations.values()}
    assert checks == {"CKV_K8S_43", "CKV_K8S_15", "CKV_K8S_35"}


def test_the_transform_keeps_a_secret_spec_secret() -> None:
    result = harden_workload(workload(rpc.wrap_rpc_secret(SPEC)))
    assert result is not None and rpc.is_rpc_secret(result.props["spec"])
    pod = rpc.unwrap_rpc_secret(result.props["spec"])["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == [CA_TRUST_INIT]


def test_the_transform_leaves_objects_other_than_workloads_alone() -> None:
    args = workload(SPEC)
    service = pulumi.ResourceTransformArgs(custom=True, type_="kubernetes:core/v1:Service",
                                           name="harbor-core", props=args.props, opts=args.opts)  # fmt: skip
    assert harden_workload(service) is None


RESOURCE_PATHS = [("core",), ("jobservice",), ("portal",), ("nginx",), ("registry", "registry"),
                  ("registry", "controller"), ("database", "internal"),
                  ("database", "internal", "initContainer", "permissions"),
                  ("redis", "internal"), ("exporter",)]  # fmt: skip


def values(**override: Any) -> Any:
    cfg = harbor_config(**override)
    return harbor_values(cfg.harbor, external_url=harbor_external_url(cfg), tls_secret_name=None,
                         credentials_secret="c", secrets=harbor_secrets(SEED))  # fmt: skip


@pytest.mark.parametrize("path", RESOURCE_PATHS, ids=".".join)
def test_every_container_of_the_chart_gets_cpu_and_memory_requests_and_limits(
    path: tuple[str, ...],
) -> None:
    node = values()
    for key in path:
        node = node[key]
    resources = node["resources"]
    assert {(kind, r) for kind in ("requests", "limits") for r in resources[kind]} == {
        (kind, r) for kind in ("requests", "limits") for r in ("cpu", "memory")
    }


def test_the_charts_containers_get_read_only_root_filesystems() -> None:
    assert values()["containerSecurityContext"] == {"readOnlyRootFilesystem": True}


def test_regstacks_own_core_values_keep_the_hardening_limits() -> None:
    core = values()["core"]
    assert "secret" in core and core["resources"] == hardening_values()["core"]["resources"]


def test_extra_values_override_a_hardening_limit() -> None:
    override = {"core": {"resources": {"limits": {"memory": "4Gi"}}}}
    core = values(harbor={"extra_values": override})["core"]
    assert core["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
