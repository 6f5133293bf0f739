"""docker_auth's config as regstack renders it: each identity's ACL, the token section, and the
registry's `auth.token` (the real servers run them in tests/registry/test_token_identities_real.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from components.config.access import TOKEN_SERVER_IMAGE, TOKEN_SERVER_VERSION
from components.distribution_config import RenderSettings, TokenAuthSettings, registry_config
from components.token_server_config import (
    Identity,
    TokenServerSettings,
    check_pattern,
    token_server_config,
)

SETTINGS = TokenServerSettings(issuer="regstack-token-server")


def acl_of(*identities: Identity) -> list[object]:
    return list(token_server_config(SETTINGS, list(identities))["acl"])  # type: ignore[call-overload]


def test_a_pull_identity_may_only_pull() -> None:
    assert acl_of(Identity("pull-apps", "$2b$10$x", "pull")) == [
        {"match": {"account": "pull-apps", "type": "repository"}, "actions": ["pull"]}
    ]


def test_a_push_identity_gets_pull_and_push_on_each_of_its_patterns_only() -> None:
    assert acl_of(Identity("ci", "$2b$10$x", "push", ("team/*", "base"))) == [
        {"match": {"account": "ci", "type": "repository", "name": "team/*"},
         "actions": ["pull", "push"]},
        {"match": {"account": "ci", "type": "repository", "name": "base"},
         "actions": ["pull", "push"]},
    ]  # fmt: skip


def test_the_maintenance_identity_lists_pulls_deletes_and_pushes_gcs_reserved_tags() -> None:
    assert acl_of(Identity("gc", "$2b$10$x", "maintenance")) == [
        {"match": {"account": "gc", "type": "registry", "name": "catalog"}, "actions": ["*"]},
        {"match": {"account": "gc", "type": "repository"}, "actions": ["pull", "push", "delete"]},
    ]


def test_the_admin_may_do_everything() -> None:
    assert acl_of(Identity("root", "$2b$10$x", "admin"))[1] == {
        "match": {"account": "root", "type": "repository"},
        "actions": ["pull", "push", "delete"],
    }


def test_users_carry_only_their_bcrypt_hashes() -> None:
    config = token_server_config(SETTINGS, [Identity("ci", "$2b$10$hash", "push", ("a",))])
    assert config["users"] == {"ci": {"password": "$2b$10$hash"}}


def test_two_identities_of_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="repeated: ci"):
        token_server_config(SETTINGS, [Identity("ci", "h", "admin"), Identity("ci", "h", "pull")])


@pytest.mark.parametrize("pattern", ["/.*/", "Team/*", "team/[ab]", "team//app", "", "team/"])
def test_a_push_pattern_outside_the_glob_grammar_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="not a repository pattern"):
        check_pattern(pattern)


@pytest.mark.parametrize("pattern", ["team/*", "library/app", "a.b/c-d_e/*-build", "?"])
def test_repository_globs_are_accepted(pattern: str) -> None:
    assert check_pattern(pattern) == pattern


def test_tokens_name_their_key_by_the_thumbprint_distribution_3_looks_up() -> None:
    token = token_server_config(SETTINGS, [])["token"]
    assert token["disable_legacy_key_id"] is True  # type: ignore[index]


def test_without_a_serving_certificate_the_token_server_speaks_plain_http() -> None:
    plain = TokenServerSettings(issuer="i", tls_dir=None)
    assert token_server_config(plain, [])["server"] == {"addr": ":5001"}


def test_the_registry_with_token_auth_trusts_the_signing_certificate_and_has_no_htpasswd() -> None:
    token = TokenAuthSettings(realm="https://r.example/auth", service="svc", issuer="iss")
    config = registry_config(RenderSettings(token=token, auth_realm="regstack"))
    assert config["auth"] == {
        "token": {
            "realm": "https://r.example/auth",
            "service": "svc",
            "issuer": "iss",
            "rootcertbundle": "/etc/registry/token-ca/tls.crt",
        }
    }


SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def test_the_token_server_built_for_the_tests_is_the_version_the_stack_deploys() -> None:
    env = (SCRIPTS / "token-server.env").read_text()
    pinned = dict(line.split("=", 1) for line in env.splitlines() if line and line[0] != "#")
    assert pinned["DOCKER_AUTH_VERSION"] == TOKEN_SERVER_VERSION


def test_the_test_nodes_stand_in_has_the_reference_the_stack_pins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = importlib.util.spec_from_file_location("node_images", SCRIPTS / "node_images.py")
    assert spec is not None and spec.loader is not None
    node_images = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "node_images", node_images)  # its dataclasses look it up
    spec.loader.exec_module(node_images)
    stand_in = node_images.IMAGES["token-server"].reference
    assert stand_in == f"{TOKEN_SERVER_IMAGE}:{TOKEN_SERVER_VERSION}"
