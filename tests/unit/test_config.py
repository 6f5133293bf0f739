"""The config model accepts the committed stacks and names the exact path of every mistake."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from components.config import ConfigError, RegstackConfig, load_config, quantity_bytes
from components.stack_config import read_stack_file
from devkit.pulumi_mocks import ROOT

USER = {"name": "dev", "password": "secret-pw"}
SECURE_DEV = {"profile": "dev", "tls": {"mode": "self-signed"},
              "auth": {"enabled": True, "users": [USER]}}  # fmt: skip


def problems_of(raw: Any) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_config(raw)
    return {p.path: p.message for p in caught.value.problems}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_committed_stacks_are_valid(stack: str) -> None:
    cfg = load_config(read_stack_file(ROOT / f"Pulumi.{stack}.yaml"))
    assert cfg.profile == stack


def test_an_empty_config_is_a_plain_lab_registry() -> None:
    cfg = load_config({})
    assert (cfg.backend, cfg.registry.service.node_port, cfg.registry.storage.size) == (
        "distribution", 32000, "20Gi",
    )  # fmt: skip


def test_prod_profile_protects_registry_data() -> None:
    auth = {
        "enabled": True,
        "mode": "token",
        "users": [{**USER, "role": "admin"}],
        "token_server": {"realm": "https://auth.example.com/auth"},
    }  # pods reach it too
    prod = {"profile": "prod", "tls": {"mode": "self-signed"}, "auth": auth}
    assert load_config(prod).protect_data and not load_config({}).protect_data


def test_prod_without_tls_or_auth_is_allowed_only_when_asked_explicitly() -> None:
    assert load_config({"profile": "prod", "allow_insecure": True}).profile == "prod"


INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown top-level key", {"colour": "red"}, "colour", "allowed keys here"),
    ("unknown nested key", {"registry": {"storage": {"sise": "1Gi"}}}, "registry.storage.sise", "size"),
    ("unknown backend", {"backend": "quay"}, "backend", "microk8s-addon"),
    ("unknown profile", {"profile": "staging"}, "profile", "'dev'"),
    ("quantity without number", {"registry": {"storage": {"size": "Gi"}}}, "registry.storage.size", "quantity"),
    ("quantity with bad suffix", {"registry": {"storage": {"size": "20GB"}}}, "registry.storage.size", "Ki, Mi, Gi"),
    ("zero quantity", {"registry": {"storage": {"size": "0Gi"}}}, "registry.storage.size", "at least one byte"),
    ("namespace with capitals", {"registry": {"namespace": "Registry"}}, "registry.namespace", "RFC 1123"),
    ("namespace too long", {"registry": {"namespace": "a" * 64}}, "registry.namespace", "RFC 1123"),
    ("hostname with underscore", {"registry": {"hostnames": ["my_registry.lab"]}}, "registry.hostnames[0]", "RFC 1123"),
    ("hostname with empty label", {"registry": {"hostnames": ["ok.lab", "a..b"]}}, "registry.hostnames[1]", "RFC 1123"),
    ("latest image tag", {"registry": {"version": "latest"}}, "registry.version", "pinned"),
    ("node port below range", {"registry": {"service": {"node_port": 8080}}}, "registry.service.node_port", "30000"),
    ("node port above range", {"registry": {"service": {"node_port": 40000}}}, "registry.service.node_port", "32767"),
    ("service type", {"registry": {"service": {"type": "ExternalName"}}}, "registry.service.type", "NodePort"),
    ("zero replicas", {"registry": {"replicas": 0}}, "registry.replicas", "greater than or equal to 1"),
    ("replicas on RWO volume", {"registry": {"replicas": 2}}, "registry.replicas", "ReadWriteOnce"),
    ("ingress without host", {"registry": {"ingress": {"enabled": True}}}, "registry.hostnames", "Ingress"),
    ("access mode", {"registry": {"storage": {"access_mode": "ReadOnlyMany"}}}, "registry.storage.access_mode", "ReadWriteMany"),
    ("tls mode", {"tls": {"mode": "acme"}}, "tls.mode", "self-signed"),
    ("issuer mode without issuer", {"tls": {"mode": "issuer"}}, "tls.issuer", "needs an issuer"),
    ("issuer with self-signed", {"tls": {"mode": "self-signed", "issuer": {"name": "x"}}}, "tls.issuer", "only used"),
    ("issuer kind", {"tls": {"mode": "issuer", "issuer": {"name": "x", "kind": "Vault"}}}, "tls.issuer.kind", "ClusterIssuer"),
    ("bad duration", {"tls": {"duration": "90d"}}, "tls.duration", "Go duration"),
    ("renew after expiry", {"tls": {"duration": "24h", "renew_before": "48h"}}, "tls.renew_before", "shorter"),
    ("auth without users", {"auth": {"enabled": True}}, "auth.users", "no user"),
    ("user without password", {"auth": {"users": [{"name": "a"}]}}, "auth.users[0].password", "missing"),
    ("user name with colon", {"auth": {"users": [{"name": "a:b", "password": "x"}]}}, "auth.users[0].name", "htpasswd"),
    ("password too long for bcrypt", {"auth": {"users": [{"name": "a", "password": "x" * 73}]}}, "auth.users[0].password", "72 bytes"),
    ("empty password", {"auth": {"users": [{"name": "a", "password": ""}]}}, "auth.users[0].password", "1-72 bytes"),
    ("duplicate users", {"auth": {"enabled": True, "users": [USER, USER]}}, "auth.users[1].name", "twice"),
    ("weak bcrypt cost", {"auth": {"bcrypt_cost": 4}}, "auth.bcrypt_cost", "greater than or equal to 10"),
    ("pull secrets without auth", {"pull_secrets": {"namespaces": ["dev"]}}, "pull_secrets.namespaces", "auth.enabled"),
    ("pull user unknown", {**SECURE_DEV, "pull_secrets": {"user": "bob"}}, "pull_secrets.user", "not one of"),
    ("pull namespace invalid", {"pull_secrets": {"namespaces": ["Dev"]}}, "pull_secrets.namespaces[0]", "RFC 1123"),
    ("cron with four fields", {"gc": {"schedule": "0 2 * *"}}, "gc.schedule", "five fields"),
    ("cron hour out of range", {"gc": {"schedule": "0 25 * * 0"}}, "gc.schedule", "0-23"),
    ("cron backwards range", {"retention": {"schedule": "0 2 * * 5-1"}}, "retention.schedule", "backwards"),
    ("cron zero step", {"gc": {"schedule": "*/0 * * * *"}}, "gc.schedule", "step"),
    ("retention without rules", {"retention": {"enabled": True}}, "retention.rules", "no rule"),
    ("retention at gc time", {"retention": {"enabled": True, "schedule": "0 2 * * 0", "rules": [{"repositories": ["*"], "keep_last": 5}]}}, "retention.schedule", "gc.schedule"),
    ("retention negative keep", {"retention": {"rules": [{"repositories": ["*"], "keep_last": -1}]}}, "retention.rules[0].keep_last", "greater than or equal to 0"),
    ("prod without tls", {"profile": "prod", "auth": SECURE_DEV["auth"]}, "tls.mode", "allow_insecure"),
    ("prod without auth", {"profile": "prod", "tls": {"mode": "self-signed"}}, "auth.enabled", "allow_insecure"),
    ("addon with auth", {"backend": "microk8s-addon", "auth": SECURE_DEV["auth"]}, "auth.enabled", "backend: distribution"),
    ("addon with tls", {"backend": "microk8s-addon", "tls": {"mode": "self-signed"}}, "tls.mode", "drop-in replacement"),
    ("addon below 20Gi", {"backend": "microk8s-addon", "registry": {"storage": {"size": "10Gi"}}}, "registry.storage.size", "20Gi"),
    ("addon on another port", {"backend": "microk8s-addon", "registry": {"service": {"node_port": 31000}}}, "registry.service", "32000"),
    ("section not a mapping", {"registry": "big"}, "registry", "mapping"),
    ("boolean that is not", {"allow_insecure": "perhaps"}, "allow_insecure", "boolean"),
    ("microk8s ssh host", {"microk8s": {"host": "-bad-"}}, "microk8s.host", "RFC 1123"),
    # The addon's own pattern refuses these, with exit code 0.
    ("addon size in Ti", {"backend": "microk8s-addon", "registry": {"storage": {"size": "1Ti"}}}, "registry.storage.size", "whole Gi"),
    ("addon size in Mi", {"backend": "microk8s-addon", "registry": {"storage": {"size": "40960Mi"}}}, "registry.storage.size", "whole Gi"),
    ("host key not a key", {"microk8s": {"host_key": "AAAAC3Nza"}}, "microk8s.host_key", "ssh-ed25519"),
    ("prod addon node without host key", {"profile": "prod", "allow_insecure": True, "backend": "microk8s-addon", "microk8s": {"host": "n1"}}, "microk8s.host_key", "ssh-keyscan"),
    ("prod trusted node without host key", {"profile": "prod", "allow_insecure": True, "node_trust": {"nodes": [{"host": "n1"}]}}, "node_trust.nodes[0].host_key", "ssh-keyscan"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "path", "hint"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID]
)
def test_invalid_input_is_reported_at_its_path(raw: dict[str, Any], path: str, hint: str) -> None:
    problems = problems_of(raw)
    assert path in problems, problems
    assert hint in problems[path]


def test_every_problem_is_reported_not_only_the_first() -> None:
    problems = problems_of({"profile": "x", "backend": "y", "registry": {"replicas": -1}})
    assert {"profile", "backend", "registry.replicas"} <= set(problems)


def test_a_non_mapping_config_is_refused_without_a_traceback() -> None:
    assert problems_of(["not", "a", "mapping"]) == {
        "": "the config must be a mapping of keys to values"
    }


def test_problems_print_with_the_regstack_namespace() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({"registry": {"replicas": 0}})
    assert str(caught.value).startswith("regstack:registry.replicas: ")


def test_every_key_is_documented() -> None:
    def undocumented(model: type) -> list[str]:
        missing = []
        for key, field in model.model_fields.items():  # type: ignore[attr-defined]
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                missing += [f"{key}.{k}" for k in undocumented(annotation)]
            elif not field.description:
                missing.append(key)
        return missing

    assert undocumented(RegstackConfig) == []


# --- properties ----------------------------------------------------------------------------------

SUFFIXES = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


@given(st.integers(min_value=1, max_value=10**6), st.sampled_from(sorted(SUFFIXES)))
def test_a_quantity_is_its_number_times_its_suffix(number: int, suffix: str) -> None:
    assert quantity_bytes(f"{number}{suffix}") == number * SUFFIXES[suffix]


@given(st.text(alphabet="0123456789.GiMKkTBb -", max_size=8))
def test_a_quantity_string_is_either_accepted_as_bytes_or_refused_with_a_message(text: str) -> None:
    try:
        assert quantity_bytes(text) > 0
    except ValueError as err:
        assert repr(text) in str(err)


LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


@given(st.lists(LABEL, min_size=1, max_size=5))
def test_dotted_rfc1123_labels_are_valid_hostnames(labels: list[str]) -> None:
    assume(not labels[-1].isdigit())  # a numeric top label makes an IP address, not a name
    host = ".".join(labels)
    assert load_config({"registry": {"hostnames": [host]}}).registry.hostnames == [host]


@given(LABEL, st.sampled_from(["_", " ", "..", "-.", ".-", "/", ":"]))
def test_hostnames_with_forbidden_characters_are_refused(label: str, bad: str) -> None:
    problems = problems_of({"registry": {"hostnames": [f"{label}{bad}{label}"]}})
    assert "RFC 1123" in problems["registry.hostnames[0]"]
