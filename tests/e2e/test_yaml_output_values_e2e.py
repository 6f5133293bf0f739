"""Values from another resource through the component package: the YAML example
(docs/examples/yaml/Pulumi.yaml) with a value read from a ConfigMap the same program creates
(the namespace, a host name, the S3 endpoint's CA), deployed through the engine on the loopback
API server. The engine hands Registry that value as an Output (config/deferred.py), which the
unit tests (tests/unit/test_output_values.py) can only stand in for with mocks."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from component_package import YamlProject
from engine import Engine

from components.harbor_secrets import token_key_pair

pytestmark = pytest.mark.e2e

PASSWORD = "yaml-output-e2e-throwaway-password"
NAMESPACE = "yaml-from-a-resource"
HOST = "registry.yaml-from-a-resource.example"
LAB_CA = token_key_pair("the S3 endpoint's CA, made in the YAML program")[1]
REGISTRY_KEYS = "        namespace: ${namespace}\n"
"""Where the example's `registry:` keys start: the tests add theirs there."""


def _source(data: dict[str, str]) -> str:
    """A `resources:` block whose first resource, `source`, is a ConfigMap holding `data`."""
    entries = "".join(
        f"        {key}: |\n{textwrap.indent(value, ' ' * 10)}" if "\n" in value
        else f"        {key}: {value}\n"
        for key, value in data.items()
    )  # fmt: skip
    return (
        "resources:\n  source:\n    type: kubernetes:core/v1:ConfigMap\n    properties:\n"
        "      metadata:\n        name: regstack-value-source\n        namespace: default\n"
        f"      data:\n{entries}"
    )


@contextmanager
def deployed(
    engine: Engine, tmp_path: Path, stack: str, data: dict[str, str], registry_keys: str
) -> Iterator[YamlProject]:
    """The example with `source` (holding `data`) and `registry_keys` in place of its namespace
    line, up in the namespace named after `stack` (regstack never deletes one, so each test has
    its own); destroyed afterwards."""
    project = YamlProject.copy(engine, tmp_path, PASSWORD, stack=stack)
    program = project.directory / "Pulumi.yaml"
    text = program.read_text(encoding="utf-8")
    assert REGISTRY_KEYS in text and "\nresources:\n" in text
    text = text.replace(REGISTRY_KEYS, registry_keys)
    program.write_text(text.replace("\nresources:\n", "\n" + _source(data)), encoding="utf-8")
    project.run("config", "set", "skipAwait", "true")  # no node here: no pod becomes ready
    project.run("config", "set", "namespace", stack)
    try:
        project.run("up", "--yes", "--skip-preview")
        yield project
    finally:
        project.run("destroy", "--yes", "--skip-preview", check=False)


def test_a_namespace_read_from_another_resource_is_the_one_the_registry_runs_in(
    engine: Engine, tmp_path: Path
) -> None:
    keys = "        namespace: ${source.data.namespace}\n"
    data = {"namespace": NAMESPACE}
    with deployed(engine, tmp_path, "namespace-from-a-resource", data, keys) as project:
        status, deployment = engine.cluster.get(
            f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/registry"
        )
        assert status == 200, deployment
        assert project.outputs()["in_cluster_endpoint"].startswith(f"registry.{NAMESPACE}.svc")


def test_a_host_name_read_from_another_resource_is_the_endpoint_and_in_the_certificate(
    engine: Engine, tmp_path: Path
) -> None:
    keys = REGISTRY_KEYS + "        hostnames:\n          - ${source.data.host}\n"
    with deployed(engine, tmp_path, "host-from-a-resource", {"host": HOST}, keys) as project:
        assert project.outputs()["endpoint"] == f"{HOST}:32000"
        status, found = engine.cluster.get(
            "/apis/cert-manager.io/v1/namespaces/host-from-a-resource/certificates"
        )
        assert status == 200, found
        names = [name for item in found["items"] for name in item["spec"].get("dnsNames", [])]
        assert HOST in names


def test_a_ca_bundle_read_from_another_resource_as_a_secret_is_the_one_the_registry_trusts(
    engine: Engine, tmp_path: Path
) -> None:
    keys = REGISTRY_KEYS + textwrap.indent(
        "storage:\n  type: s3\n  s3:\n    bucket: blobs\n    endpoint: https://s3.lab.example\n"
        "    caBundle:\n      fn::secret: ${source.data.ca}\n",
        " " * 8,
    )
    with deployed(engine, tmp_path, "ca-from-a-resource", {"ca": LAB_CA}, keys) as project:
        status, config_map = engine.cluster.get(
            "/api/v1/namespaces/ca-from-a-resource/configmaps/registry-config"
        )
        assert status == 200, config_map
        assert config_map["data"]["s3-ca.crt"] == LAB_CA
        # A secret stays one: the state holds the registry's ConfigMap encrypted (the source
        # ConfigMap, given the CA in plain, keeps it in plain).
        resources = json.loads(project.run("stack", "export").stdout)["deployment"]["resources"]
        config = next(r for r in resources if r["urn"].endswith("::registry-registry-config"))
        assert "BEGIN CERTIFICATE" not in json.dumps(config)
