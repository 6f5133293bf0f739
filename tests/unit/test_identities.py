"""Identities with rights (`auth.mode: token`): the config rules, and what the platform registers
for them under Pulumi mocks. The real registry and token server enforce the rights in
tests/registry/test_token_identities_real.py."""

from __future__ import annotations

import json
from typing import Any

import bcrypt
import pytest
import yaml

from components.config import ConfigError, load_config
from devkit.pulumi_mocks import StackState, is_secret, plain_strings, platform, unwrap

CI, MAINTENANCE, ADMIN = "ci-password-1", "maintenance-password-1", "admin-password-1"
USERS = [
    {"name": "ci", "password": CI, "role": "push", "repositories": ["apps/*"]},
    {"name": "maintenance", "password": MAINTENANCE, "role": "maintenance"},
    {"name": "admin", "password": ADMIN, "role": "admin"},
]
TOKEN = {"profile": "prod", "tls": {"mode": "self-signed"},
         "auth": {"enabled": True, "mode": "token", "users": USERS},
         "pull_secrets": {"namespaces": ["shop", "blog"], "create_namespaces": True},
         "gc": {"enabled": False}}  # fmt: skip
RETENTION = {"enabled": True, "rules": [{"repositories": ["*"], "keep_last": 3}]}


def with_auth(**changes: Any) -> dict[str, Any]:
    return {**TOKEN, "auth": {**TOKEN["auth"], **changes}}


def problems_of(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_config(raw)
    return {p.path: p.message for p in caught.value.problems}


# --- config rules -----------------------------------------------------------------------------


def test_the_prod_profile_refuses_htpasswd_on_the_distribution_backend() -> None:
    plain = [{"name": "ci", "password": CI}]
    assert "auth.mode: token" in problems_of(with_auth(mode="htpasswd", users=plain))["auth.mode"]


def test_the_dev_profile_keeps_htpasswd() -> None:
    raw = {"tls": {"mode": "self-signed"}, "auth": {"enabled": True, "users": [USERS[2]]}}
    assert "auth.users[0].role" in problems_of(raw)  # a role without tokens would mislead
    assert load_config(
        {**raw, "auth": {"enabled": True, "users": [{"name": "a", "password": ADMIN}]}}
    )


def test_with_tokens_every_user_needs_a_role() -> None:
    users = [{"name": "ci", "password": CI}]
    assert "needs a role" in problems_of(with_auth(users=users))["auth.users[0].role"]


def test_a_push_user_without_repositories_is_refused() -> None:
    users = [{**USERS[0], "repositories": []}, *USERS[1:]]
    assert "auth.users[0].repositories" in problems_of(with_auth(users=users))


def test_repositories_on_a_maintenance_user_are_refused() -> None:
    users = [USERS[0], {**USERS[1], "repositories": ["a/*"]}, USERS[2]]
    assert "only push users" in problems_of(with_auth(users=users))["auth.users[1].repositories"]


def test_a_repository_pattern_outside_the_glob_grammar_is_refused_at_its_path() -> None:
    users = [{**USERS[0], "repositories": ["/.*/"]}, *USERS[1:]]
    assert "auth.users[0].repositories[0]" in problems_of(with_auth(users=users))


def test_a_shared_pull_user_is_refused_with_tokens() -> None:
    raw = {**TOKEN, "pull_secrets": {"namespaces": ["shop"], "user": "ci"}}
    assert "own pull-only identity" in problems_of(raw)["pull_secrets.user"]


def test_a_user_named_like_a_namespaces_pull_identity_is_refused() -> None:
    users = [*USERS, {"name": "pull-shop", "password": ADMIN, "role": "admin"}]
    assert "auth.users[3].name" in problems_of(with_auth(users=users))


def test_retention_as_a_push_user_is_refused() -> None:
    raw = {
        **TOKEN,
        "retention": {**RETENTION, "user": "ci"},
        "registry": {"hostnames": ["registry.lab.example"]},
    }
    assert "role: maintenance" in problems_of(raw)["retention.user"]


def test_tokens_with_authentication_off_are_refused() -> None:
    assert "auth.enabled: true" in problems_of(with_auth(enabled=False))["auth.enabled"]


def test_tokens_need_tls() -> None:
    assert "tls.mode" in problems_of({**TOKEN, "tls": {"mode": "none"}})["auth.mode"]


def test_a_cluster_ip_registry_without_ingress_needs_the_realm_given() -> None:
    raw = {**TOKEN, "registry": {"service": {"type": "ClusterIP"}}}
    assert "auth.token_server.realm" in problems_of(raw)


def test_retention_with_a_token_server_on_the_nodes_loopback_is_refused() -> None:
    assert (
        "pods resolve" in problems_of({**TOKEN, "retention": RETENTION})["auth.token_server.realm"]
    )


def test_retention_with_a_token_server_on_a_host_name_is_accepted() -> None:
    raw = {**TOKEN, "retention": RETENTION, "registry": {"hostnames": ["registry.lab.example"]}}
    assert load_config(raw).retention.enabled


def test_retention_logs_in_as_the_first_maintenance_user_by_default() -> None:
    assert load_config(TOKEN).auth.maintainer() == "maintenance"


# --- what the platform registers --------------------------------------------------------------


def token_config(rec: Any) -> dict[str, Any]:
    secret = rec.named("rs-token-server-config").inputs["stringData"]
    return yaml.safe_load(unwrap(secret)["config.yml"])


def test_the_registry_trusts_the_token_server_instead_of_an_htpasswd_file() -> None:
    rec = platform(TOKEN)
    config = yaml.safe_load(rec.named("rs-registry-config").inputs["data"]["config.yml"])
    assert config["auth"] == {"token": {
        "realm": "https://localhost:32001/auth", "service": "regstack-registry",
        "issuer": "regstack-token-server",
        "rootcertbundle": "/etc/registry/token-ca/tls.crt"}}  # fmt: skip
    assert [r.name for r in rec.resources if r.name.endswith("-htpasswd")] == []


def test_each_pull_secret_carries_its_namespaces_own_identity() -> None:
    rec = platform(TOKEN)
    logins = {}
    for namespace in ("shop", "blog"):
        secret = rec.named(f"rs-auth-pull-{namespace}").inputs["stringData"]
        auths = json.loads(unwrap(secret)[".dockerconfigjson"])["auths"]
        logins[namespace] = auths["localhost:32000"]["username"]
    assert logins == {"shop": "pull-shop", "blog": "pull-blog"}


def test_a_pull_identity_is_granted_pull_only_and_its_password_verifies() -> None:
    rec = platform(TOKEN)
    secret = rec.named("rs-auth-pull-shop").inputs["stringData"]
    password = json.loads(unwrap(secret)[".dockerconfigjson"])["auths"]["localhost:32000"][
        "password"
    ]
    config = token_config(rec)
    hashed = config["users"]["pull-shop"]["password"]
    acl = [e for e in config["acl"] if e["match"]["account"] == "pull-shop"]
    assert bcrypt.checkpw(password.encode(), hashed.encode())
    assert acl == [{"match": {"account": "pull-shop", "type": "repository"}, "actions": ["pull"]}]


def test_the_two_namespaces_get_different_passwords() -> None:
    rec = platform(TOKEN)
    passwords = {
        json.loads(unwrap(rec.named(f"rs-auth-pull-{ns}").inputs["stringData"])[
            ".dockerconfigjson"])["auths"]["localhost:32000"]["password"]
        for ns in ("shop", "blog")
    }  # fmt: skip
    assert len(passwords) == 2


def test_the_token_server_config_and_keys_are_identical_on_a_second_run() -> None:
    stack = StackState()

    def secrets() -> list[Any]:
        rec = platform(TOKEN, stack=stack)
        return [unwrap(rec.named(f"rs-token-server-{s}").inputs["stringData"])
                for s in ("config", "key", "ca")]  # fmt: skip

    assert secrets() == secrets()


def test_the_signing_key_config_and_certificate_are_secrets() -> None:
    rec = platform(TOKEN)
    assert all(
        is_secret(rec.named(f"rs-token-server-{s}").inputs["stringData"])
        for s in ("config", "key", "ca")
    )


def test_the_registry_mounts_only_the_signing_certificate() -> None:
    rec = platform(TOKEN)
    ca = unwrap(rec.named("rs-token-server-ca").inputs["stringData"])
    assert list(ca) == ["tls.crt"]


def test_no_password_or_key_appears_outside_a_secret() -> None:
    rec = platform(TOKEN)
    key = unwrap(rec.named("rs-token-server-key").inputs["stringData"])["tls.key"]
    leaks = [
        r.name
        for r in rec.resources
        for s in plain_strings(r.inputs)
        if any(p in s for p in (CI, MAINTENANCE, ADMIN, key.splitlines()[1]))
    ]
    assert leaks == []


def test_the_token_server_pod_runs_restricted() -> None:
    spec = platform(TOKEN).named("rs-token-server-deployment").inputs["spec"]["template"]["spec"]
    context = spec["containers"][0]["securityContext"]
    assert (spec["securityContext"]["runAsNonRoot"], context["readOnlyRootFilesystem"],
            context["allowPrivilegeEscalation"], context["capabilities"]) == (
        True, True, False, {"drop": ["ALL"]})  # fmt: skip


def test_retention_runs_as_the_maintenance_identity() -> None:
    raw = {**TOKEN, "retention": RETENTION, "registry": {"hostnames": ["registry.lab.example"]}}
    cronjob = platform(raw).named("rs-retention-cronjob").inputs
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert "--username=maintenance" in container["command"]


def test_behind_an_ingress_the_realm_is_auth_on_the_registry_host() -> None:
    raw = {**TOKEN, "registry": {"hostnames": ["registry.example.com"],
                                 "service": {"type": "ClusterIP"},
                                 "ingress": {"enabled": True}}}  # fmt: skip
    rec = platform(raw)
    rule = rec.named("rs-token-server-ingress").inputs["spec"]["rules"][0]
    config = yaml.safe_load(rec.named("rs-registry-config").inputs["data"]["config.yml"])
    assert config["auth"]["token"]["realm"] == "https://registry.example.com/auth"
    assert (rule["host"], rule["http"]["paths"][0]["path"]) == ("registry.example.com", "/auth")


def test_skip_await_marks_the_token_servers_objects_that_wait_for_nodes() -> None:
    # Without it, `pulumi up` on an API server without nodes (the e2e tier) waited 10 minutes
    # for the Service's endpoints and the Ingress's load balancer, then failed.
    raw = {**TOKEN, "skip_await": True, "registry": {"hostnames": ["registry.example.com"],
           "service": {"type": "ClusterIP"}, "ingress": {"enabled": True}}}  # fmt: skip
    rec = platform(raw)
    names = ("rs-token-server-deployment", "rs-token-server-service", "rs-token-server-ingress")
    annotations = [rec.named(n).inputs["metadata"].get("annotations", {}) for n in names]
    assert [a.get("pulumi.com/skipAwait") for a in annotations] == ["true", "true", "true"]
