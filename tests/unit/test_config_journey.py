"""Validation never says "valid" where the user will be hurt, and says how to fix it (issue #17)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.config import ConfigError, load_config
from components.stack_config import is_ciphertext, read_stack_file
from devkit.pulumi_mocks import run_program

# A value the passphrase provider really wrote (Pulumi.dev.yaml's lab password).
CIPHERTEXT = "v1:7WJflblo9qH699nh:SeMANDVCkqLInn/lTjJ/yOKa779hzSShG4J+9Ivt4s65qcFD"
LAB = {"tls": {"mode": "self-signed"},
       "auth": {"enabled": True, "users": [{"name": "dev", "password": "pw-for-tests"}]}}  # fmt: skip


def problems_of(raw: Any, secret_sections: Any = None) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_config(raw, secret_sections)
    return {p.path: p.message for p in caught.value.problems}


def stack_problems(tmp_path: Path, body: str) -> dict[str, str]:
    """The problems `validate` reports for a stack file with this `config:` body."""
    stack = tmp_path / "Pulumi.s.yaml"
    stack.write_text("config:\n" + body)
    return problems_of(read_stack_file(stack), secret_sections=())


def test_a_plaintext_password_in_a_stack_file_is_refused_with_the_command_that_encrypts_it(
    tmp_path: Path,
) -> None:
    problems = stack_problems(tmp_path, "  regstack:auth:\n    enabled: true\n    users:\n"
                                        "      - {name: dev, password: monpassword}\n")  # fmt: skip
    message = problems["auth.users[0].password"]
    assert "plaintext" in message
    assert "pulumi config set --secret --path 'auth.users[0].password'" in message
    assert "monpassword" not in message


def test_an_encrypted_password_in_a_stack_file_is_valid(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.s.yaml"
    stack.write_text("config:\n  regstack:auth:\n    enabled: true\n    users:\n"
                     f"      - {{name: dev, password: {{secure: '{CIPHERTEXT}'}}}}\n")  # fmt: skip
    assert load_config(read_stack_file(stack), secret_sections=()).auth.enabled


@pytest.mark.parametrize("fake", ["v1:PLACEHOLDER", "CHANGEME", "v1:AAAA", "", "v1:abc:de"])
def test_a_secure_placeholder_is_refused_as_never_encrypted(tmp_path: Path, fake: str) -> None:
    problems = stack_problems(tmp_path, "  regstack:profile: prod\n  regstack:backend: harbor\n"
                                        "  regstack:registry: {hostnames: [registry.example.com]}\n"
                                        "  regstack:tls: {mode: self-signed}\n"
                                        f"  regstack:harbor:\n    admin_password: {{secure: '{fake}'}}\n"
                                        f"    secret_seed: {{secure: '{CIPHERTEXT}'}}\n")  # fmt: skip
    assert problems == {
        "harbor.admin_password": "is a placeholder, not an encrypted value: "
        "`pulumi config set --secret --path 'harbor.admin_password'`"
    }


def test_real_ciphertexts_of_every_provider_shape_are_recognised() -> None:
    assert is_ciphertext(CIPHERTEXT)
    assert is_ciphertext("AAABAJ2v+0pM0yq8bGZDRQ0Bbv1lJbXs6Kj7E1kC5hL4vK3yW3f9YQ==")  # cloud KMS


def test_the_program_refuses_a_password_the_engine_does_not_hold_as_a_secret() -> None:
    with pytest.raises(pulumi.RunError) as caught:
        run_program(LAB, secret_keys=[])
    assert "regstack:auth.users[0].password: is in plaintext" in str(caught.value)
    assert "pw-for-tests" not in str(caught.value)


def test_the_program_accepts_a_password_set_with_secret() -> None:
    rec = run_program(LAB, secret_keys=["regstack:auth"])
    assert rec.of_type("regstack:index:RegistryPlatform")


def test_users_without_auth_enabled_are_refused_as_an_open_registry() -> None:
    problems = problems_of({"auth": {"users": [{"name": "dev", "password": "pw"}]}})
    assert problems == {"auth.enabled": "users are listed but auth is off, so the registry lets "
                                        "everyone in: set auth.enabled: true (or remove auth.users)"}  # fmt: skip


def test_a_mistyped_namespace_asks_did_you_mean_regstack(tmp_path: Path) -> None:
    problems = stack_problems(tmp_path, "  regstak:auth: {enabled: true}\n"
                                        "  kubernetes:context: lab\n")  # fmt: skip
    assert problems == {"": "`regstak:auth` is not read (its namespace is not regstack): "
                            "did you mean regstack:auth?"}  # fmt: skip


def test_a_public_acme_issuer_is_refused_for_local_names() -> None:
    problems = problems_of({**LAB, "registry": {"hostnames": ["registry.lab.local"]},
                            "tls": {"mode": "issuer", "issuer": {"name": "letsencrypt-prod"}}})  # fmt: skip
    assert "registry.lab.local" in problems["tls.issuer.name"]


def test_a_public_acme_issuer_is_accepted_for_public_names() -> None:
    cfg = load_config({**LAB, "registry": {"hostnames": ["registry.example.com"]},
                       "tls": {"mode": "issuer", "issuer": {"name": "letsencrypt-prod"}}})  # fmt: skip
    assert cfg.tls.issuer is not None


def test_an_ip_given_as_a_host_name_points_to_tls_ip_addresses() -> None:
    problems = problems_of({"registry": {"hostnames": ["192.168.1.20"]}})
    assert "tls.ip_addresses" in problems["registry.hostnames[0]"]


def test_ip_addresses_are_certificate_ip_sans() -> None:
    from devkit.pulumi_mocks import platform

    rec = platform({**LAB, "tls": {"mode": "self-signed", "ip_addresses": ["192.168.1.20"]}})
    certificate = rec.of_type("kubernetes:cert-manager.io/v1:Certificate")[-1]
    assert certificate.inputs["spec"]["ipAddresses"] == ["127.0.0.1", "192.168.1.20"]


def test_an_ip_address_san_must_be_an_address() -> None:
    assert (
        "not an IPv4 or IPv6"
        in problems_of({"tls": {"ip_addresses": ["node1"]}})["tls.ip_addresses[0]"]
    )


def test_an_unquoted_version_number_is_told_to_be_quoted(tmp_path: Path) -> None:
    problems = stack_problems(tmp_path, "  regstack:registry: {version: 2.7}\n")
    assert problems == {
        "registry.version": 'YAML reads an unquoted 2.7 as a number; quote it: "2.7"'
    }


def test_type_errors_and_cross_field_problems_are_reported_in_one_round() -> None:
    problems = problems_of({"backend": "microk8s-addon",
                            "registry": {"storage": {"size": "5Gi"}, "colour": "red"},
                            "auth": {"enabled": "maybe"}})  # fmt: skip
    assert set(problems) == {"registry.colour", "registry.storage.size", "auth.enabled"}


def test_a_cross_field_problem_of_a_removed_value_is_not_reported_twice() -> None:
    problems = problems_of({"auth": {"enabled": True, "users": [{"name": "a:b", "password": "x"}]}})
    assert set(problems) == {"auth.users[0].name"}


@pytest.mark.parametrize(
    ("raw", "path", "hint"),
    [
        ({"registry": {"nodeport": 32000}}, "registry.nodeport", "did you mean registry.service.node_port?"),
        ({"registry": {"storage": {"sise": "1Gi"}}}, "registry.storage.sise", "did you mean registry.storage.size?"),
        ({"harbor": {"chartmuseum": {"enabled": True}}}, "harbor.chartmuseum", "removed ChartMuseum"),
    ],
    ids=["nodeport", "sise", "chartmuseum"],
)  # fmt: skip
def test_near_miss_keys_get_a_did_you_mean(raw: dict[str, Any], path: str, hint: str) -> None:
    assert hint in problems_of(raw)[path]


@pytest.mark.parametrize("size", ["1Ti", "50G", "20480Mi", "25.5Gi"])
def test_addon_sizes_the_addon_refuses_are_refused(size: str) -> None:
    raw = {"backend": "microk8s-addon", "registry": {"storage": {"size": size}}}
    assert "whole Gi" in problems_of(raw)["registry.storage.size"]


@pytest.mark.parametrize("schedule", ["0 2 * * SUN", "0 2 * * sun", "0 2 1 JAN *"])
def test_cron_names_are_accepted(schedule: str) -> None:
    assert load_config({"gc": {"schedule": schedule}}).gc.schedule == schedule


IGNORED = [
    ({"backend": "microk8s-addon", "gc": {"schedule": "0 3 * * 0"}}, "gc", "no garbage collection"),
    ({"backend": "microk8s-addon", "monitoring": {"enabled": True}}, "monitoring.enabled", "no metrics"),
    ({"backend": "harbor", "registry": {"storage": {"size": "500Gi"}}}, "registry.storage.size",
     "harbor.persistence.registry.size"),
    ({"backend": "harbor", "registry": {"service": {"type": "NodePort"}}}, "registry.service", "harbor.expose"),
    ({"backend": "harbor", "gc": {"enabled": True}}, "gc", "Harbor schedules its own"),
    ({"backend": "harbor", "monitoring": {"enabled": True}}, "monitoring.enabled", "harbor.metrics"),
    ({"registry": {"service": {"type": "ClusterIP", "node_port": 31000}}}, "registry.service.node_port",
     "only used with service type NodePort"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "path", "reason"), IGNORED, ids=[i[1] + "-" + str(i[0].get("backend")) for i in IGNORED]
)
def test_settings_the_backend_would_ignore_are_refused(
    raw: dict[str, Any], path: str, reason: str
) -> None:
    assert reason in problems_of(raw)[path]


def test_the_addon_with_gc_turned_off_is_valid() -> None:
    assert not load_config({"backend": "microk8s-addon", "gc": {"enabled": False}}).gc.enabled


@pytest.mark.parametrize(
    ("backend", "registry", "path"),
    [
        ("microk8s-addon", {"namespace": "lab-registry"}, "registry.namespace"),
        ("microk8s-addon", {"version": "3.1.2"}, "registry.version"),
        ("microk8s-addon", {"resources": {"memory_limit": "1Gi"}}, "registry.resources.memory_limit"),
        ("microk8s-addon", {"hostnames": ["registry.lab.local"]}, "registry.hostnames"),
        ("harbor", {"replicas": 2}, "registry.replicas"),
        ("harbor", {"storage": {"storage_class": "fast"}}, "registry.storage.storage_class"),
        ("harbor", {"image": "docker.io/library/registry"}, "registry.image"),
    ],
)  # fmt: skip
def test_registry_keys_another_backend_would_ignore_are_refused(
    backend: str, registry: dict[str, Any], path: str
) -> None:
    assert "ignores this" in problems_of({"backend": backend, "registry": registry})[path]


def test_chartmuseum_chart_values_are_refused_as_removed_from_harbor() -> None:
    values = {"persistence": {"persistentVolumeClaim": {"chartmuseum": {"size": "5Gi"}}}}
    problems = problems_of({"backend": "harbor", "harbor": {"extra_values": values}})
    assert "removed ChartMuseum" in problems["harbor.extra_values"]


def test_a_public_acme_issuer_without_a_public_name_to_certify_is_refused() -> None:
    problems = problems_of({**LAB, "tls": {"mode": "issuer", "issuer": {"name": "letsencrypt"}}})
    assert "certifies public DNS names only" in problems["registry.hostnames"]


def test_a_private_issuer_may_certify_the_in_cluster_names_alone() -> None:
    cfg = load_config({**LAB, "tls": {"mode": "issuer", "issuer": {"name": "corp-ca"}}})
    assert cfg.tls.issuer is not None


PUBLIC = {**LAB, "registry": {"hostnames": ["registry.example.com"]},
          "tls": {"mode": "issuer", "issuer": {"name": "letsencrypt-prod"}}}  # fmt: skip


def test_a_public_cas_certificate_names_only_the_public_names() -> None:
    from devkit.pulumi_mocks import platform

    certificate = platform(PUBLIC).of_type("kubernetes:cert-manager.io/v1:Certificate")[-1]
    spec = certificate.inputs["spec"]
    assert (spec["dnsNames"], spec.get("ipAddresses", [])) == (["registry.example.com"], [])


def test_with_a_public_ca_retention_dials_the_public_name() -> None:
    from devkit.pulumi_mocks import platform

    retention = {"enabled": True, "rules": [{"repositories": ["*"], "keep_last": 5}]}
    cron = platform({**PUBLIC, "retention": retention}).named("rs-retention-cronjob").inputs
    (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert "--registry=https://registry.example.com:32000" in container["command"]


def test_the_lab_cas_certificate_still_names_the_cluster_names_and_localhost() -> None:
    from devkit.pulumi_mocks import platform

    spec = platform(LAB).of_type("kubernetes:cert-manager.io/v1:Certificate")[-1].inputs["spec"]
    assert "localhost" in spec["dnsNames"] and spec["ipAddresses"] == ["127.0.0.1"]
    assert "registry.container-registry.svc.cluster.local" in spec["dnsNames"]


def retention_with(*globs: str) -> dict[str, Any]:
    rule = {"repositories": list(globs), "keep_last": 3}
    return {**LAB, "retention": {"enabled": True, "rules": [rule]}}


@pytest.mark.parametrize(
    ("glob", "why"),
    [
        ("dev/[app", "its '[' opens a character class that never closes"),
        ("Team/App", "repository names are lowercase (OCI distribution spec); write 'team/app'"),
        ("dev/app:1.0", "not ':'"),
        ("dev/my app", "not ' '"),
        ("dev/[A-Z_]x", "repository names are lowercase"),
        ("dev/[+@]x", "[+@] admits no character of a repository name"),
        ("/dev/*", "neither starts nor ends with '/'"),
    ],
)
def test_a_repository_glob_that_can_never_match_is_refused(glob: str, why: str) -> None:
    message = problems_of(retention_with("*", glob))["retention.rules[0].repositories[1]"]
    assert message.startswith(f"{glob!r} can never match: ")
    assert why in message


@pytest.mark.parametrize(
    "glob", ["*", "team/*", "team/**", "dev/app-[0-9]", "a.b_c--d/e?", "[!x]*"]
)
def test_a_repository_glob_that_can_match_is_accepted(glob: str) -> None:
    assert load_config(retention_with(glob), secret_sections=("auth",)).retention.enabled


def test_a_node_trust_endpoint_without_the_node_port_is_refused_with_the_port_to_add() -> None:
    raw = {**LAB, "node_trust": {"endpoints": ["10.0.0.5", "10.0.0.6:5000", "10.0.0.7:32000"]}}
    assert problems_of(raw, secret_sections=("auth",)) == {
        "node_trust.endpoints[0]": "nodes pull this registry by node port 32000, so containerd "
        "reads certs.d/10.0.0.5:32000 and never certs.d/10.0.0.5: write 10.0.0.5:32000",
        "node_trust.endpoints[1]": "nodes pull this registry by node port 32000, so containerd "
        "reads certs.d/10.0.0.6:32000 and never certs.d/10.0.0.6:5000: write 10.0.0.6:32000",
    }


def test_an_ipv6_node_trust_endpoint_is_told_the_node_port_after_its_brackets() -> None:
    raw = {"backend": "microk8s-addon", "node_trust": {"endpoints": ["[fd00::1]"]}}
    assert problems_of(raw)["node_trust.endpoints[0]"].endswith("write [fd00::1]:32000")


def test_a_node_trust_endpoint_without_a_port_is_accepted_behind_an_ingress() -> None:
    raw = {**LAB, "registry": {"hostnames": ["registry.lab.local"], "ingress": {"enabled": True}},
           "node_trust": {"endpoints": ["registry.example.internal"]}}  # fmt: skip
    cfg = load_config(raw, secret_sections=("auth",))
    assert cfg.node_trust.endpoints == ["registry.example.internal"]
