"""`registry.proxy` under Pulumi mocks: what the mirror's pods get, and what config is refused."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.config import ConfigError, load_config
from devkit.pulumi_mocks import is_secret, plain_strings, platform, unwrap

HUB_PASSWORD = "docker-hub-token-for-tests"
MIRROR = {"registry": {"proxy": {"remote_url": "https://registry-1.docker.io",
                                 "username": "labmirror", "password": HUB_PASSWORD}}}  # fmt: skip


def test_the_mirror_config_names_the_upstream_and_the_login_but_not_the_password() -> None:
    rec = platform(MIRROR)
    config = yaml.safe_load(rec.named("rs-registry-config").inputs["data"]["config.yml"])
    assert config["proxy"] == {"remoteurl": "https://registry-1.docker.io", "username": "labmirror"}
    assert not [s for r in rec.resources for s in plain_strings(r.inputs) if HUB_PASSWORD in s]


def test_the_upstream_password_reaches_the_pods_from_the_env_secret() -> None:
    rec = platform(MIRROR)
    data = rec.named("rs-registry-env").inputs["stringData"]
    assert is_secret(data)
    assert unwrap(unwrap(data)["REGISTRY_PROXY_PASSWORD"]) == HUB_PASSWORD


def test_an_anonymous_mirror_gets_no_upstream_password() -> None:
    rec = platform({"registry": {"proxy": {"remote_url": "https://registry-1.docker.io"}}})
    env = unwrap(rec.named("rs-registry-env").inputs["stringData"])
    assert list(env) == ["REGISTRY_HTTP_SECRET"]


@pytest.mark.parametrize(
    ("raw", "path", "hint"),
    [
        ({"registry": {"proxy": {"remote_url": "registry-1.docker.io"}}},
         "registry.proxy.remote_url", "http(s)://"),
        ({"registry": {"proxy": {"remote_url": "https://hub.example", "username": "u"}}},
         "registry.proxy", "both username and password"),
        ({**MIRROR, "retention": {"enabled": True, "rules": [{"repositories": ["*"], "keep_last": 3}]}},
         "retention.enabled", "refuses deletes"),
        ({"profile": "prod", "tls": {"mode": "self-signed"},
          "auth": {"enabled": True, "users": [{"name": "ci", "password": "long-enough-pw"}]},
          "registry": {"proxy": {"remote_url": "http://hub.lab:5000"}}},
         "registry.proxy.remote_url", "HTTPS only"),
        ({"backend": "harbor", "registry": MIRROR["registry"],
          "harbor": {"admin_password": "harbor-admin-pw", "secret_seed": "s" * 32}},
         "registry.proxy", "proxy cache project"),
    ],
    ids=["url without scheme", "login without password", "with retention", "prod over http",
         "harbor"],
)  # fmt: skip
def test_a_mirror_that_cannot_work_is_refused_at_its_path(
    raw: dict[str, Any], path: str, hint: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(raw)
    assert path in [p.path for p in error.value.problems]
    assert hint in str(error.value)
