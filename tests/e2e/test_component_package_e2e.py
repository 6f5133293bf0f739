"""The component package (provider/) through the real CLI: the schema Pulumi infers from
Registry's args, as every other language's SDK is generated from it."""

from __future__ import annotations

import json

import pytest
from component_package import PACKAGE, provider_plugins
from engine import Engine

pytestmark = pytest.mark.e2e

SECRETS = {
    "UserConfig": {"password"},
    "S3StorageConfig": {"accessKey", "secretKey"},
    "RegistryConfig": {"httpSecret"},
    "CacheConfig": {"password"},
    "ProxyConfig": {"password"},
    "HarborConfig": {"adminPassword", "secretSeed"},
    "HarborDatabaseConfig": {"password"},
    "HarborRedisConfig": {"password"},
    "MicroK8sConfig": {"privateKey"},
    "NodeTrustConfig": {"privateKey"},
}


@pytest.fixture(scope="module")
def schema(engine: Engine) -> dict:
    provider_plugins(engine)
    out = engine.pulumi("package", "get-schema", str(PACKAGE), cwd=PACKAGE).stdout
    return json.loads(out)


def test_the_schema_has_the_registry_with_every_config_section_as_an_input(schema: dict) -> None:
    registry = schema["resources"]["regstack:index:Registry"]
    assert set(registry["inputProperties"]) == {
        "profile", "backend", "allowInsecure", "skipAwait", "registry", "tls", "auth",
        "pullSecrets", "gc", "retention", "monitoring", "microk8s", "harbor", "nodeTrust",
    }  # fmt: skip
    assert registry["isComponent"] is True
    assert registry["inputProperties"]["auth"]["$ref"] == "#/types/regstack:index:AuthConfig"


def test_the_registry_outputs_the_endpoints_and_secret_names(schema: dict) -> None:
    outputs = schema["resources"]["regstack:index:Registry"]["properties"]
    assert {"endpoint", "inClusterEndpoint", "pullSecretNames", "caSecretName",
            "tlsSecretName", "dockerLogin"} <= set(outputs)  # fmt: skip


def test_exactly_the_passwords_and_keys_are_secret_inputs(schema: dict) -> None:
    marked = {
        name.split(":")[-1]: {key for key, prop in spec["properties"].items() if prop.get("secret")}
        for name, spec in schema["types"].items()
    }
    assert {name: keys for name, keys in marked.items() if keys} == SECRETS


FROM_RESOURCES = {
    "IssuerRef": {"name"},
    "RegistryConfig": {"namespace", "hostnames"},
    "S3StorageConfig": {"bucket", "endpoint", "caBundle"},
}
"""The values besides secrets that may come from another resource (config/deferred.py); of
`hostnames`, each item (the list itself is plain: how many names there are is known)."""


def _takes_outputs(prop: dict) -> bool:
    """Whether a property, or each item of a list property, takes an Output (is not plain)."""
    return not (prop.get("plain") and prop.get("items", prop).get("plain"))


def test_exactly_the_secrets_and_the_values_from_resources_take_outputs(schema: dict) -> None:
    inputs = {
        name.split(":")[-1]: {
            key for key, prop in spec["properties"].items() if _takes_outputs(prop)
        }
        for name, spec in schema["types"].items()
    }
    expected = {name: SECRETS.get(name, set()) | FROM_RESOURCES.get(name, set())
                for name in SECRETS.keys() | FROM_RESOURCES.keys()}  # fmt: skip
    assert {name: keys for name, keys in inputs.items() if keys} == expected


def test_a_user_needs_a_name_and_a_password_and_says_what_each_key_is(schema: dict) -> None:
    user = schema["types"]["regstack:index:UserConfig"]
    assert sorted(user["required"]) == ["name", "password"]
    assert all(prop.get("description") for prop in user["properties"].values())
