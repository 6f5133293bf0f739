"""The scaled-out production example (three replicas on S3, a Redis cache) on a real API server.

The object-storage servers themselves are exercised in tests/scaleout; here the engine applies
the example stack: what the cluster receives, that a second run changes nothing (the derived
http.secret is stable), that no key leaks, and that destroy leaves nothing behind. The test copy
also trusts a private CA for the S3 endpoint (`storage.s3.ca_bundle`) and runs on dedicated
nodes (`registry.placement`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
import yaml
from engine import REPO, Engine
from regstack_project import RegstackProject
from test_stacks_e2e import wait_gone

from components.harbor_secrets import token_key_pair

pytestmark = pytest.mark.e2e

NAMESPACE = "/api/v1/namespaces/s3-registry"
DEPLOYMENTS = "/apis/apps/v1/namespaces/s3-registry/deployments"
SECRETS = {
    "regstack:auth.users[0].password": "e2e-s3-user-password-5c1e",
    "regstack:auth.users[1].password": "e2e-s3-maintenance-password-5c1f",
    "regstack:auth.users[2].password": "e2e-s3-admin-password-5c20",
    "regstack:registry.storage.s3.access_key": "E2EACCESSKEY0001",
    "regstack:registry.storage.s3.secret_key": "e2e-s3-secret-key-0b7f9d",
    "regstack:registry.cache.password": "e2e-cache-password-42aa",
}
ENDPOINT_CA = token_key_pair("the e2e S3 endpoint's CA")[1]  # any PEM certificate will do
PLACEMENT = {
    "node_selector": {"node-role.example.com/registry": "true"},
    "tolerations": [{"key": "dedicated", "value": "registry", "effect": "NoSchedule"}],
}


@pytest.fixture(scope="module")
def scaled(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegstackProject]:
    project = RegstackProject.copy(engine, tmp_path_factory.mktemp("s3"), "prods3",
                                   source=REPO / "examples" / "Pulumi.prod-s3.yaml")  # fmt: skip
    project.set_path("regstack:registry.namespace", "s3-registry")
    for path, value in SECRETS.items():
        project.set_secret(path, value)
    # As a user writes it: a YAML block in the stack file (the CLI takes a leading "-" as a flag).
    stack_file = project.directory / "Pulumi.prods3.yaml"
    stack = yaml.safe_load(stack_file.read_text())
    stack["config"]["regstack:registry"]["storage"]["s3"]["ca_bundle"] = ENDPOINT_CA
    stack["config"]["regstack:registry"]["placement"] = PLACEMENT
    stack_file.write_text(yaml.safe_dump(stack, sort_keys=False))
    project.up()
    yield project
    project.destroy(check=False)
    project.remove()


def test_three_replicas_read_their_keys_from_the_env_secret(scaled: RegstackProject) -> None:
    deployment = scaled.engine.cluster.get(f"{DEPLOYMENTS}/registry")[1]
    assert deployment["spec"]["replicas"] == 3
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    from_secrets = [e for e in env if "valueFrom" in e]
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in from_secrets} == {"registry-env"}
    secret = scaled.engine.cluster.get(f"{NAMESPACE}/secrets/registry-env")[1]
    keys = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert (
        keys["REGISTRY_STORAGE_S3_SECRETKEY"] == SECRETS["regstack:registry.storage.s3.secret_key"]
    )
    assert len(keys["REGISTRY_HTTP_SECRET"]) == 64


def test_the_config_names_the_bucket_and_the_cache_but_holds_no_key(
    scaled: RegstackProject,
) -> None:
    config_map = scaled.engine.cluster.get(f"{NAMESPACE}/configmaps/registry-config")[1]
    text = config_map["data"]["config.yml"]
    config = yaml.safe_load(text)
    assert config["storage"]["s3"]["bucket"] == "registry-blobs"
    assert config["redis"]["addrs"] == ["registry-cache.s3-registry.svc.cluster.local:6379"]
    assert not any(value in text for value in SECRETS.values())


def test_the_replicas_and_gc_trust_the_endpoint_ca_from_their_config_map(
    scaled: RegstackProject,
) -> None:
    cluster = scaled.engine.cluster
    config_map = cluster.get(f"{NAMESPACE}/configmaps/registry-config")[1]
    assert config_map["data"]["s3-ca.crt"] == ENDPOINT_CA
    registry = cluster.get(f"{DEPLOYMENTS}/registry")[1]["spec"]["template"]["spec"]
    gc = cluster.get("/apis/batch/v1/namespaces/s3-registry/cronjobs/registry-gc")[1]
    gc = gc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    for spec, name in ((registry, "registry"), (gc, "gc")):
        volume = next(v for v in spec["volumes"] if v["name"] == "s3-ca")
        assert volume["configMap"]["items"] == [{"key": "s3-ca.crt", "path": "ca.crt"}]
        container = next(c for c in spec["containers"] if c["name"] == name)
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert mounts["s3-ca"] == env["SSL_CERT_DIR"] == "/etc/registry/s3-ca"


def test_the_registry_its_gc_and_its_cache_run_on_the_dedicated_nodes(
    scaled: RegstackProject,
) -> None:
    cluster = scaled.engine.cluster
    specs = [
        cluster.get(f"{DEPLOYMENTS}/registry")[1]["spec"]["template"]["spec"],
        cluster.get(f"{DEPLOYMENTS}/registry-cache")[1]["spec"]["template"]["spec"],
        cluster.get("/apis/batch/v1/namespaces/s3-registry/cronjobs/registry-gc")[1]["spec"][
            "jobTemplate"
        ]["spec"]["template"]["spec"],
    ]
    for spec in specs:
        assert spec["nodeSelector"] == PLACEMENT["node_selector"]
        assert spec["tolerations"] == [{**PLACEMENT["tolerations"][0], "operator": "Equal"}]


def test_object_storage_needs_no_volume_and_the_cache_runs_beside(scaled: RegstackProject) -> None:
    cluster = scaled.engine.cluster
    assert cluster.get(f"{NAMESPACE}/persistentvolumeclaims")[1]["items"] == []
    assert cluster.get(f"{DEPLOYMENTS}/registry-cache")[0] == 200
    assert cluster.get(f"{NAMESPACE}/services/registry-cache")[0] == 200


def test_a_second_preview_shows_no_changes(scaled: RegstackProject) -> None:
    assert scaled.preview_steps() == []


def test_no_key_appears_in_state_or_cli_output(scaled: RegstackProject) -> None:
    text = scaled.export() + scaled.run("preview", "--diff").stdout
    assert not [path for path, value in SECRETS.items() if value in text]


def test_destroy_leaves_nothing_but_the_namespace(scaled: RegstackProject) -> None:
    scaled.destroy()
    assert wait_gone(scaled.engine, f"{DEPLOYMENTS}/registry")
    assert scaled.engine.cluster.get(NAMESPACE)[0] == 200  # regstack never deletes a namespace
    assert json.loads(scaled.export())["deployment"].get("resources", []) == []
