"""RegistryAddresses: each backend's names, worked out once from the config (components/addresses.py),
and the one RegistryAccess retention and GC's protection share (components/registry_access.py)."""

from __future__ import annotations

from typing import Any

from components.addresses import addresses_of
from components.config import load_config
from devkit.pulumi_mocks import Recorder, is_secret, unwrap
from devkit.pulumi_mocks import platform as build_platform
from devkit.stacks import LAB_CA_ISSUED
from tests.harbor.support import BASE as HARBOR

USERS = {"enabled": True, "users": [{"name": "dev", "password": "correct-horse-battery"}]}
PROTECTED = {"profile": "dev", "tls": {"mode": "self-signed"}, "auth": USERS,
             "retention": {"enabled": True, "rules": [{"repositories": ["**"], "keep_last": 3}]},
             "gc": {"delete_untagged": True}}  # fmt: skip


def test_a_harbor_stack_is_reached_at_its_external_url_and_has_no_distribution_addresses() -> None:
    addresses = addresses_of(load_config(HARBOR))
    assert addresses.external_url == "https://registry.example.com"
    assert addresses.endpoint == "registry.example.com"
    assert (addresses.registry_hosts, addresses.api_url, addresses.token_realm) == (None,) * 3


def test_jobs_dial_a_lab_registry_at_its_service_and_a_public_ca_one_at_its_public_name() -> None:
    lab = addresses_of(load_config({"tls": {"mode": "self-signed"}}))
    assert lab.api_url == "https://registry.container-registry.svc.cluster.local:5000"
    public = {"profile": "prod", "tls": {"mode": "issuer", "issuer": {"name": "letsencrypt"}},
              "registry": {"hostnames": ["registry.example.com"], "ingress": {"enabled": True}},
              "auth": {**USERS, "mode": "token",
                       "users": [{"name": "admin", "role": "admin", "password": "x" * 16}]}}  # fmt: skip
    assert addresses_of(load_config(public)).api_url == "https://registry.example.com"


def test_only_a_token_stack_has_a_token_realm() -> None:
    assert addresses_of(load_config({"auth": USERS})).token_realm is None


def gc_and_retention(rec: Recorder) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pod specs of the GC and the retention CronJobs."""
    gc, retention = (rec.named(f"rs-{job}-cronjob").inputs for job in ("gc", "retention"))
    return (gc["spec"]["jobTemplate"]["spec"]["template"]["spec"],
            retention["spec"]["jobTemplate"]["spec"]["template"]["spec"])  # fmt: skip


def test_retention_and_gc_protection_dial_one_url_as_one_user_trusting_one_ca() -> None:
    rec = build_platform(PROTECTED, existing=LAB_CA_ISSUED)
    gc, retention = gc_and_retention(rec)
    restore = gc["initContainers"][0]["args"][0]
    command = retention["containers"][0]["command"]
    url = "https://registry.container-registry.svc.cluster.local:5000"
    assert f"--protect-registry={url}" in restore and f"--registry={url}" in command
    assert "--protect-user=dev" in restore and "--username=dev" in command
    ca = [[v["secret"]["secretName"] for v in spec["volumes"] if v["name"] == "ca"]
          for spec in (gc, retention)]  # fmt: skip
    assert ca == [["rs-certificate-ca"], ["rs-certificate-ca"]]
    passwords = [rec.named(name).inputs["stringData"]
                 for name in ("rs-gc-credentials", "rs-retention-credentials")]  # fmt: skip
    assert all(is_secret(p) for p in passwords)
    assert [unwrap(p)["password"] for p in passwords] == ["correct-horse-battery"] * 2
