"""Node trust under Pulumi mocks: one SSH command per node, the lab CA read back, daemon.json."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from components.config import ConfigError, load_config
from components.platform import RegistryPlatform
from devkit.pulumi_mocks import Recorder, evaluate, is_secret, unwrap
from devkit.pulumi_mocks import platform as build_platform

KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----"
CA = "-----BEGIN CERTIFICATE-----\nlab-ca\n-----END CERTIFICATE-----\n"
NODES = {"nodes": [{"host": "node1.lab"}, {"host": "10.0.0.12", "user": "root", "port": 2222}],
         "private_key": KEY}  # fmt: skip
CLUSTER = {
    "kubernetes:core/v1:Secret": {"data": {"ca.crt": base64.b64encode(CA.encode()).decode()}}
}


def platform(raw: dict[str, Any]) -> Recorder:
    """The platform in a cluster where cert-manager has issued the lab CA."""
    return build_platform(raw, existing=CLUSTER)


def commands(rec: Recorder) -> list[Any]:
    return rec.of_type("command:remote:Command")


def test_each_node_gets_one_ssh_command_with_the_secret_key() -> None:
    rec = platform({"node_trust": NODES})
    connections = [unwrap(c.inputs["connection"]) for c in commands(rec)]
    assert [(c["host"], c["user"], c["port"]) for c in connections] == [
        ("node1.lab", "ubuntu", 22), ("10.0.0.12", "root", 2222)]  # fmt: skip
    assert all(is_secret(c.inputs["connection"]) for c in commands(rec))


def test_no_nodes_means_no_command() -> None:
    assert commands(platform({})) == []


def test_a_plain_http_lab_registry_is_trusted_over_http_on_its_node_port() -> None:
    script = commands(platform({"node_trust": NODES}))[0].inputs["create"]
    assert 'server = "http://localhost:32000"' in script
    assert "/var/snap/microk8s/current/args/certs.d/localhost:32000/hosts.toml" in script
    assert "snap restart microk8s.daemon-containerd" in script


def test_a_docker_hub_mirror_stack_points_the_nodes_docker_io_at_itself() -> None:
    raw = {"node_trust": NODES, "registry": {"service": {"node_port": 32001},
                                             "proxy": {"remote_url": "https://registry-1.docker.io"}}}  # fmt: skip
    script = commands(platform(raw))[0].inputs["create"]
    assert "/var/snap/microk8s/current/args/certs.d/docker.io/hosts.toml" in script
    assert '[host."http://localhost:32001"]' in script


def test_each_stack_marks_the_node_files_with_its_own_name() -> None:
    script = commands(platform({"node_trust": NODES}))[0].inputs["create"]
    assert "# Managed by regstack (node_trust regstack/test);" in script


def test_updates_run_the_same_script_as_creates() -> None:
    command = commands(platform({"node_trust": NODES}))[0]
    assert command.inputs["update"] == command.inputs["create"]


def test_the_delete_script_removes_what_the_create_script_writes() -> None:
    command = commands(platform({"node_trust": NODES}))[0]
    assert (
        "remove /var/snap/microk8s/current/args/certs.d/localhost:32000/hosts.toml"
        in (command.inputs["delete"])
    )


def test_a_self_signed_registry_is_trusted_with_the_ca_read_from_its_secret() -> None:
    rec = platform({"tls": {"mode": "self-signed"}, "registry": {"hostnames": ["registry.lab"]},
                    "node_trust": {**NODES, "runtime": "containerd"}})  # fmt: skip
    read = rec.named("rs-certificate-ca-secret")
    assert read.read_id == "container-registry/rs-certificate-ca"
    script = commands(rec)[0].inputs["create"]
    assert "lab-ca" in script
    assert 'ca = "/etc/containerd/certs.d/registry.lab:32000/ca.crt"' in script
    assert "systemctl restart containerd" in script


def test_reading_the_ca_waits_until_cert_manager_issued_it() -> None:
    rec = platform({"tls": {"mode": "self-signed"}, "node_trust": NODES})
    annotations = rec.named("rs-certificate-ca").inputs["metadata"]["annotations"]
    assert annotations == {"pulumi.com/waitFor": "condition=Ready"}


def test_reading_the_ca_waits_for_it_on_a_cluster_without_nodes_too() -> None:
    # skip_await is about workloads a node must run; cert-manager issues without one.
    rec = platform({"tls": {"mode": "self-signed"}, "node_trust": NODES, "skip_await": True})
    annotations = rec.named("rs-certificate-ca").inputs["metadata"]["annotations"]
    assert annotations == {"pulumi.com/waitFor": "condition=Ready"}


def test_without_node_trust_the_ca_is_neither_read_nor_awaited() -> None:
    rec = platform({"tls": {"mode": "self-signed"}})
    assert [r for r in rec.resources if r.read_id] == []
    assert "annotations" not in rec.named("rs-certificate-ca").inputs["metadata"]


def test_docker_nodes_get_the_lab_ca_in_docker_certs_d_and_no_restart() -> None:
    rec = platform({"tls": {"mode": "self-signed"}, "node_trust": {**NODES, "runtime": "docker"}})
    script = commands(rec)[0].inputs["create"]
    assert "put /etc/docker/certs.d/localhost:32000/ca.crt" in script
    assert [line for line in script.splitlines() if "hosts.toml" in line and "put " in line] == []
    assert "as_root sh -c true" in script


def test_extra_endpoints_are_trusted_too() -> None:
    rec = platform({"node_trust": {**NODES, "endpoints": ["10.0.0.10:32000"]}})
    assert "certs.d/10.0.0.10:32000/hosts.toml" in commands(rec)[0].inputs["create"]


def test_a_wildcard_host_name_is_no_folder_on_the_nodes() -> None:
    registry = {"hostnames": ["registry.lab", "*.lab"]}
    script = commands(platform({"registry": registry, "node_trust": NODES}))[0].inputs["create"]
    assert "certs.d/registry.lab:32000/hosts.toml" in script
    assert "certs.d/*.lab" not in script


def daemon_json(raw: dict[str, Any]) -> Any:
    seen: list[Any] = []
    cfg = load_config(raw)
    evaluate(lambda: RegistryPlatform("rs", cfg).docker_daemon_json.apply(seen.append))
    return seen[0]


def test_a_dev_http_registry_exports_the_insecure_registries_snippet() -> None:
    snippet = daemon_json({"registry": {"hostnames": ["registry.local"]}})
    assert json.loads(snippet) == {
        "insecure-registries": ["localhost:32000", "registry.local:32000"]
    }


@pytest.mark.parametrize(
    "raw",
    [
        {"tls": {"mode": "self-signed"}},
        {"profile": "prod", "allow_insecure": True},
    ],
    ids=["tls", "prod profile"],
)
def test_no_insecure_registries_snippet_outside_a_dev_http_registry(raw: dict[str, Any]) -> None:
    assert daemon_json(raw) is None


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"node_trust": {"nodes": [{"host": "n1"}]}}, "node_trust.private_key"),
        ({"node_trust": {**NODES, "nodes": [{"host": "n1"}, {"host": "n1"}]}},
         "node_trust.nodes[1].host"),
        ({"node_trust": {**NODES, "certs_dir": "etc/containerd"}}, "node_trust.certs_dir"),
        ({"node_trust": {**NODES, "endpoints": ["a b"]}}, "node_trust.endpoints[0]"),
        ({"node_trust": {**NODES, "runtime": "cri-o"}}, "node_trust.runtime"),
        ({"tls": {"mode": "issuer", "issuer": {"name": "le"}}, "node_trust": NODES},
         "node_trust.nodes"),
        ({"node_trust": {**NODES, "runtime": "docker"}}, "node_trust.runtime"),
    ],
    ids=["no key", "twice", "relative dir", "bad endpoint", "unknown runtime", "public CA",
         "docker over http"],
)  # fmt: skip
def test_bad_node_trust_config_names_its_path(raw: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(raw)
    assert [p.path for p in error.value.problems] == [path]
