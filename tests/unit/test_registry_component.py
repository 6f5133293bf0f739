"""The Registry component and its args: the config model as TypedDicts (the schema other Pulumi
languages see), validated like a stack's config, under Pulumi's mocks."""

from __future__ import annotations

import json
import typing
from typing import Any

import bcrypt
import pulumi
import pytest
from pydantic import BaseModel, SecretStr

from components.config import RegstackConfig, load_config
from components.config.args import RegistryArgs
from components.registry import Registry
from devkit.pulumi_mocks import ROOT, evaluate, is_secret, plain_strings, unwrap

PASSWORD = "correct-horse-battery"
LAB = {"tls": {"mode": "self-signed"},
       "auth": {"enabled": True, "users": [{"name": "dev", "password": PASSWORD}]}}  # fmt: skip


def _inner(annotation: Any) -> Any:
    """The TypedDict (or plain type) inside Required, list and dict annotations."""
    while typing.get_origin(annotation) in (typing.Required, list, dict):
        annotation = typing.get_args(annotation)[-1]
    return annotation


def _model(annotation: Any) -> type[BaseModel] | None:
    for arg in (annotation, *typing.get_args(annotation)):
        for inner in (arg, *typing.get_args(arg)):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
    return None


def _pairs(model: type[BaseModel], args: type, path: str = "") -> list[tuple[str, Any, Any]]:
    """(path, pydantic field annotation, args annotation) for every key, at every depth."""
    found = []
    annotations = args.__annotations__  # raw: pulumi.Input's forward refs do not resolve
    for name, field in model.model_fields.items():
        here = f"{path}.{name}" if path else name
        assert name in annotations, f"{here} is in the config model but not in RegistryArgs"
        found.append((here, field.annotation, annotations[name]))
        nested = _model(field.annotation)
        if nested is not None:
            found += _pairs(nested, _inner(annotations[name]), here)
    return found


def test_every_config_key_at_every_depth_is_a_key_of_the_args() -> None:
    pairs = _pairs(RegstackConfig, RegistryArgs)
    assert len(pairs) > 150  # every section's keys, not only the top ones


FROM_RESOURCES = {
    "tls.issuer.name",
    "registry.namespace",
    "registry.storage.s3.bucket",
    "registry.storage.s3.endpoint",
    "registry.storage.s3.ca_bundle",
    "registry.hostnames",  # each host name
}
"""The keys besides secrets that may come from another resource (config/deferred.py)."""


def test_secrets_and_values_from_resources_take_pulumi_inputs_and_every_other_key_a_plain_value() -> (
    None
):
    for path, field, arg in _pairs(RegstackConfig, RegistryArgs):
        secret = "SecretStr" in repr(field) or repr(field).endswith(repr(SecretStr))
        takes_output = "Output" in repr(_inner(arg))
        assert takes_output == (secret or path in FROM_RESOURCES), path


def test_keys_without_a_default_are_required_in_the_args() -> None:
    user = _inner(_inner(RegistryArgs.__annotations__["auth"]).__annotations__["users"])
    assert user.__required_keys__ == {"name", "password"}
    assert RegistryArgs.__required_keys__ == frozenset()


def test_the_registry_builds_the_platform_as_its_only_child() -> None:
    rec = evaluate(lambda: Registry("rs", LAB))
    children = [
        urn.split("::")[-2:]
        for urn in rec.urns
        if urn.split("::")[2].split("$")[-2:-1] == ["regstack:index:Registry"]
    ]
    assert children == [["regstack:index:Registry$regstack:index:RegistryPlatform", "rs"]]


def test_the_platform_is_aliased_to_the_stack_root_where_the_program_built_it_before() -> None:
    rec = evaluate(lambda: Registry("rs", LAB))
    platform = next(urn for urn in rec.urns if urn.endswith("RegistryPlatform::rs"))
    # No parent: the stack's root. The engine derives the alias of every resource below.
    assert [alias.spec.noParent for alias in rec.aliases[platform]] == [True]


def test_a_config_load_config_validated_builds_the_same_registry_as_its_mapping() -> None:
    from_mapping = sorted(evaluate(lambda: Registry("rs", LAB)).urns)
    assert sorted(evaluate(lambda: Registry("rs", load_config(LAB))).urns) == from_mapping


def test_a_password_given_in_plain_is_a_secret_in_every_resource() -> None:
    rec = evaluate(lambda: Registry("rs", LAB))
    assert all(PASSWORD not in list(plain_strings(r.inputs)) for r in rec.resources)


def test_a_password_given_as_an_output_is_taken_and_stays_secret() -> None:
    def build() -> None:
        users = [{"name": "dev", "password": pulumi.Output.secret(PASSWORD)}]
        Registry("rs", {**LAB, "auth": {"enabled": True, "users": users}})

    rec = evaluate(build)
    data = rec.named("rs-auth-htpasswd").inputs["stringData"]
    assert is_secret(data) and bcrypt.checkpw(
        PASSWORD.encode(), unwrap(data)["htpasswd"].split(":")[1].strip().encode()
    )


def test_a_bad_arg_fails_with_its_path_before_any_resource_is_registered() -> None:
    bad = {**LAB, "registry": {"service": {"node_port": 80}}}
    with pytest.raises(Exception, match=r"registry\.service\.node_port: .*30000") as raised:
        evaluate(lambda: Registry("rs", bad))
    assert "invalid Registry args" in str(raised.value)


def test_the_library_guide_shows_the_yaml_example_the_engine_tests_run() -> None:
    example = (ROOT / "docs" / "examples" / "yaml" / "Pulumi.yaml").read_text(encoding="utf-8")
    guide = (ROOT / "docs" / "guides" / "library.md").read_text(encoding="utf-8")
    assert f"```yaml\n{example}```" in guide


def test_the_registry_declares_every_output_of_the_platform_with_its_type() -> None:
    from components.platform import RegistryPlatform
    from components.registry import PLATFORM_OUTPUTS

    platform = {k: str(v) for k, v in RegistryPlatform.__annotations__.items()}
    # The platform's are strings (`from __future__ import annotations`), Registry's are types.
    registry = {
        k: str(v).replace("pulumi.output.", "pulumi.") for k, v in Registry.__annotations__.items()
    }
    assert set(PLATFORM_OUTPUTS) == set(platform)
    assert {k: registry[k] for k in platform} == platform


def test_the_schema_takes_a_value_from_a_resource_as_an_input_that_is_no_secret() -> None:
    from components.package import RegstackProvider

    schema = json.loads(RegstackProvider("0.0.1").schema or "{}")
    name = schema["types"]["regstack:index:IssuerRef"]["properties"]["name"]
    password = schema["types"]["regstack:index:UserConfig"]["properties"]["password"]
    assert ("plain" in name, "secret" in name) == (False, False)
    assert ("plain" in password, password.get("secret")) == (False, True)


def test_the_schema_takes_each_host_name_and_the_s3_ca_as_inputs_that_are_no_secret() -> None:
    from components.package import RegstackProvider

    types = json.loads(RegstackProvider("0.0.1").schema or "{}")["types"]
    hostnames = types["regstack:index:RegistryConfig"]["properties"]["hostnames"]
    ca = types["regstack:index:S3StorageConfig"]["properties"]["caBundle"]
    # The list is plain (how many names there are decides what is built), each name an Input.
    items = hostnames["items"]
    assert (hostnames.get("plain"), "plain" in items, "secret" in items) == (True, False, False)
    assert ("plain" in ca, "secret" in ca) == (False, False)


def test_a_host_name_and_an_s3_ca_given_to_the_registry_as_outputs_reach_its_objects() -> None:
    from components.harbor_secrets import token_key_pair

    ca = token_key_pair("an S3 endpoint's CA")[1]

    def build() -> None:
        s3 = {
            "bucket": "blobs",
            "endpoint": "https://s3.lab",
            "ca_bundle": pulumi.Output.from_input(ca),
        }
        registry = {"hostnames": [pulumi.Output.from_input("registry.made.here")],
                    "ingress": {"enabled": True}, "storage": {"type": "s3", "s3": s3}}  # fmt: skip
        Registry("rs", {**LAB, "registry": registry})

    rec = evaluate(build)
    rules = rec.named("rs-registry-ingress").inputs["spec"]["rules"]
    assert [rule["host"] for rule in rules] == ["registry.made.here"]
    assert rec.named("rs-registry-config").inputs["data"]["s3-ca.crt"] == ca


def test_the_schema_names_regstack_the_publisher_of_the_generated_sdks() -> None:
    from components.package import RegstackProvider

    # Without a namespace the TypeScript SDK is `@pulumi/regstack`, in Pulumi's own npm scope.
    assert json.loads(RegstackProvider("0.0.1").schema or "{}")["namespace"] == "regstack"
