"""Object storage, several replicas and a shared cache, under Pulumi mocks."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from components.config import ConfigError, load_config
from components.harbor_secrets import token_key_pair
from components.platform import RegistryPlatform
from devkit.pulumi_mocks import (
    Recorder,
    StackState,
    evaluate,
    is_secret,
    plain_strings,
    platform,
    unwrap,
)

ACCESS_KEY, SECRET_KEY, REDIS_PASSWORD = "AKIDREGSTACKTEST", "s3-secret-key-for-tests", "redis-pw-1"
BUCKET = {"bucket": "registry-blobs", "endpoint": "https://s3.lab.example:9000",
          "access_key": ACCESS_KEY, "secret_key": SECRET_KEY}  # fmt: skip
S3 = {"registry": {"replicas": 2, "storage": {"type": "s3", "s3": BUCKET}}}
CACHED = {"registry": {**S3["registry"], "cache": {"redis": "deploy", "password": REDIS_PASSWORD}}}
LAB_CA = token_key_pair("a lab CA for the S3 endpoint tests")[1]  # any PEM certificate will do
WITH_CA = {"registry": {**S3["registry"],
                        "storage": {"type": "s3", "s3": {**BUCKET, "ca_bundle": LAB_CA}}}}  # fmt: skip


def config_yml(rec: Recorder) -> dict[str, Any]:
    return yaml.safe_load(rec.named("rs-registry-config").inputs["data"]["config.yml"])


def pod(rec: Recorder, name: str = "rs-registry-deployment") -> dict[str, Any]:
    return rec.named(name).inputs["spec"]["template"]["spec"]


def string_data(rec: Recorder, name: str) -> dict[str, str]:
    data = rec.named(name).inputs["stringData"]
    assert is_secret(data)
    return {k: unwrap(v) for k, v in unwrap(data).items()}


def env_secret(rec: Recorder) -> dict[str, str]:
    return string_data(rec, "rs-registry-env")


def test_s3_storage_renders_the_bucket_without_its_keys() -> None:
    storage = config_yml(platform(S3))["storage"]
    assert storage["s3"] == {
        "bucket": "registry-blobs", "region": "us-east-1", "regionendpoint":
        "https://s3.lab.example:9000", "secure": True, "skipverify": False, "v4auth": True,
        "forcepathstyle": True}  # fmt: skip
    assert "filesystem" not in storage


def test_blobs_are_streamed_by_the_registry_unless_redirects_are_asked_for() -> None:
    assert config_yml(platform(S3))["storage"]["redirect"] == {"disable": True}


def test_s3_storage_needs_no_volume() -> None:
    rec = platform(S3)
    assert rec.of_type("kubernetes:core/v1:PersistentVolumeClaim") == []
    assert "data" not in [v["name"] for v in pod(rec)["volumes"]]


def test_the_keys_reach_the_pods_only_through_a_secret() -> None:
    rec = platform(S3)
    entries = pod(rec)["containers"][0]["env"]
    env = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in entries if "valueFrom" in e}
    assert env == {name: name for name in env_secret(rec)}
    assert {"REGISTRY_STORAGE_S3_ACCESSKEY", "REGISTRY_STORAGE_S3_SECRETKEY"} <= set(env)
    assert [e["name"] for e in entries if "valueFrom" not in e] == ["OTEL_TRACES_EXPORTER"]


def test_no_secret_appears_outside_a_secret_envelope() -> None:
    rec = platform(CACHED)
    leaks = [s for r in rec.resources for s in plain_strings(r.inputs)
             if any(v in s for v in (ACCESS_KEY, SECRET_KEY, REDIS_PASSWORD))]  # fmt: skip
    assert leaks == []


def test_replicas_share_an_http_secret_derived_from_the_s3_key() -> None:
    secret = env_secret(platform(S3))["REGISTRY_HTTP_SECRET"]
    assert len(secret) == 64 and SECRET_KEY not in secret


def test_the_derived_http_secret_is_the_same_on_every_run() -> None:
    assert env_secret(platform(S3)) == env_secret(platform(S3))


def test_a_single_pod_on_a_volume_gets_a_stable_http_secret_too() -> None:
    # The GC window's read-only pod and every rollout start a second pod: an upload begun on
    # the first must not fail on it with "invalid secret".
    stack = StackState()
    first, second = env_secret(platform({}, stack=stack)), env_secret(platform({}, stack=stack))
    assert len(first["REGISTRY_HTTP_SECRET"]) == 64 and first == second


def test_two_stacks_on_volumes_get_different_http_secrets() -> None:
    assert env_secret(platform({})) != env_secret(platform({}))


def test_replicas_on_a_bucket_without_static_keys_share_a_secret_from_the_stack_key() -> None:
    rec = platform(
        {"registry": {"replicas": 2, "storage": {"type": "s3", "s3": {"bucket": "b0b"}}}}
    )
    assert len(env_secret(rec)["REGISTRY_HTTP_SECRET"]) == 64


def test_an_http_secret_from_config_wins_over_the_derived_one() -> None:
    raw = {"registry": {**S3["registry"], "http_secret": "from-secret-config"}}
    assert env_secret(platform(raw))["REGISTRY_HTTP_SECRET"] == "from-secret-config"


def test_replicas_roll_one_at_a_time_and_prefer_different_nodes() -> None:
    rec = platform(S3)
    spec = rec.named("rs-registry-deployment").inputs["spec"]
    assert (spec["replicas"], spec["strategy"]["type"]) == (2, "RollingUpdate")
    (term,) = pod(rec)["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"


def test_several_replicas_keep_one_through_voluntary_disruptions() -> None:
    assert platform(S3).named("rs-registry-pdb").inputs["spec"]["minAvailable"] == 1


def test_a_deployed_cache_is_a_redis_only_the_registry_and_gc_reach() -> None:
    rec = platform(CACHED)
    assert config_yml(rec)["redis"]["addrs"] == [
        "registry-cache.container-registry.svc.cluster.local:6379"
    ]
    assert config_yml(rec)["storage"]["cache"] == {"blobdescriptor": "redis"}
    peers = rec.named("rs-cache-network-policy").inputs["spec"]["ingress"][0]["from"]
    assert [p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in peers] == [
        "registry", "registry-gc"]  # fmt: skip


def test_the_deployed_cache_keeps_nothing_on_disk() -> None:
    (redis,) = pod(platform(CACHED), "rs-cache-deployment")["containers"]
    assert redis["args"][1:5] == ["--save", "", "--appendonly", "no"]


def test_the_deployed_cache_reads_its_password_from_a_file_of_a_secret() -> None:
    rec = platform(CACHED)
    (redis,) = pod(rec, "rs-cache-deployment")["containers"]
    assert redis["args"][0] == "/etc/redis/auth.conf"
    assert string_data(rec, "rs-cache-password") == {"auth.conf": f"requirepass {REDIS_PASSWORD}\n"}


def test_a_new_cache_password_restarts_the_cache_without_showing_the_password() -> None:
    stack = StackState()

    def checksum(password: str) -> str:
        raw = {
            "registry": {**CACHED["registry"], "cache": {"redis": "deploy", "password": password}}
        }
        template = (
            platform(raw, stack=stack).named("rs-cache-deployment").inputs["spec"]["template"]
        )
        return str(template["metadata"]["annotations"]["regstack.io/auth-checksum"])

    assert checksum("first-password") != checksum("second-password")
    assert "first-password" not in checksum("first-password")


def test_an_external_cache_is_only_an_address() -> None:
    raw = {
        "registry": {**S3["registry"], "cache": {"redis": "external", "address": "redis.db:6379"}}
    }
    rec = platform(raw)
    assert config_yml(rec)["redis"]["addrs"] == ["redis.db:6379"]
    assert rec.of_type("regstack:index:RedisCache") == []


def gc_pod(rec: Recorder) -> dict[str, Any]:
    spec = rec.named("rs-gc-cronjob").inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return dict(spec)


def test_gc_on_object_storage_reads_the_bucket_with_the_registry_keys() -> None:
    spec = gc_pod(platform(S3))
    gc = next(c for c in spec["containers"] if c["name"] == "gc")
    assert "REGISTRY_STORAGE_S3_SECRETKEY" in [e["name"] for e in gc["env"]]
    assert "mkdir" not in gc["command"][2]
    assert "data" not in [v["name"] for v in spec["volumes"]]


def test_gc_flushes_the_cache_before_service_comes_back() -> None:
    restore = next(c for c in gc_pod(platform(CACHED))["containers"] if c["name"] == "restore")
    assert (
        "--redis=registry-cache.container-registry.svc.cluster.local:6379 --redis-db=0"
        in (restore["args"][0])
    )
    assert [e["name"] for e in restore["env"]] == [
        "POD_NAME",
        "NODE_NAME",
        "PYTHONPATH",
        "PYTHONDONTWRITEBYTECODE",
        "REGISTRY_REDIS_PASSWORD",
    ]


def test_an_ipv6_cache_address_is_one_quoted_word_of_the_gc_shell_line() -> None:
    cache = {"redis": "external", "address": "[fd00::7]:6379"}
    rec = platform({"registry": {**S3["registry"], "cache": cache}})
    restore = next(c for c in gc_pod(rec)["containers"] if c["name"] == "restore")
    assert "--redis='[fd00::7]:6379' --redis-db=0" in restore["args"][0]


def s3_ca_setup(spec: dict[str, Any], container: str) -> tuple[dict[str, Any], str, str]:
    """(the CA volume, where the container mounts it, its SSL_CERT_DIR)."""
    volume = next(v for v in spec["volumes"] if v["name"] == "s3-ca")
    found = next(c for c in spec["containers"] if c["name"] == container)
    mount = next(m["mountPath"] for m in found["volumeMounts"] if m["name"] == "s3-ca")
    env = {e["name"]: e.get("value") for e in found["env"]}
    return volume, mount, env["SSL_CERT_DIR"]


def test_the_registry_and_gc_trust_the_s3_endpoint_ca_from_a_directory_of_its_own() -> None:
    rec = platform(WITH_CA)
    assert rec.named("rs-registry-config").inputs["data"]["s3-ca.crt"] == LAB_CA
    for spec, container in ((pod(rec), "registry"), (gc_pod(rec), "gc")):
        volume, mount, cert_dir = s3_ca_setup(spec, container)
        assert volume["configMap"]["items"] == [{"key": "s3-ca.crt", "path": "ca.crt"}]
        assert mount == cert_dir == "/etc/registry/s3-ca"


def test_without_a_ca_bundle_the_registry_keeps_the_image_trust_store() -> None:
    rec = platform(S3)
    assert "s3-ca.crt" not in rec.named("rs-registry-config").inputs["data"]
    assert "SSL_CERT_DIR" not in [e["name"] for e in pod(rec)["containers"][0]["env"]]


def test_a_new_s3_ca_restarts_the_registry() -> None:
    stack = StackState()

    def checksum(raw: dict[str, Any]) -> str:
        template = (
            platform(raw, stack=stack).named("rs-registry-deployment").inputs["spec"]["template"]
        )
        return str(template["metadata"]["annotations"]["regstack.io/config-checksum"])

    other = token_key_pair("the lab CA after a renewal")[1]
    renewed = {"registry": {**S3["registry"],
                            "storage": {"type": "s3", "s3": {**BUCKET, "ca_bundle": other}}}}  # fmt: skip
    assert len({checksum(S3), checksum(WITH_CA), checksum(renewed)}) == 3


def test_harbor_keeps_images_in_the_bucket_with_keys_from_its_credentials_secret() -> None:
    raw = {"backend": "harbor", "registry": {"storage": {"type": "s3", "s3": BUCKET}},
           "harbor": {"admin_password": "harbor-admin-pw", "secret_seed": "s" * 32,
                      "expose": {"type": "nodePort"}}}  # fmt: skip
    rec = platform(raw)
    values = unwrap(rec.named("rs-harbor-chart").inputs["values"])
    storage = values["persistence"]["imageChartStorage"]
    assert (storage["type"], storage["s3"]["bucket"]) == ("s3", "registry-blobs")
    assert storage["s3"]["existingSecret"] == "rs-harbor-credentials"
    assert string_data(rec, "rs-harbor-credentials")["REGISTRY_STORAGE_S3_SECRETKEY"] == SECRET_KEY


def test_harbor_adds_the_s3_endpoint_ca_to_its_registry_trust_store() -> None:
    raw = {"backend": "harbor",
           "registry": {"storage": {"type": "s3", "s3": {**BUCKET, "ca_bundle": LAB_CA}}},
           "harbor": {"admin_password": "harbor-admin-pw", "secret_seed": "s" * 32,
                      "expose": {"type": "nodePort"}}}  # fmt: skip
    rec = platform(raw)
    values = unwrap(rec.named("rs-harbor-chart").inputs["values"])
    assert values["persistence"]["imageChartStorage"]["caBundleSecretName"] == "rs-harbor-s3-ca"
    assert string_data(rec, "rs-harbor-s3-ca") == {"ca.crt": LAB_CA}


@pytest.mark.parametrize(
    ("raw", "path", "hint"),
    [
        ({"registry": {"replicas": 2}}, "registry.replicas", "storage.type: s3"),
        ({"registry": {"storage": {"type": "s3"}}}, "registry.storage.s3", "bucket"),
        ({"registry": {"storage": {"s3": BUCKET}}}, "registry.storage.type", "set type: s3"),
        ({"registry": {"storage": {"type": "s3", "s3": {"bucket": "Bad_Bucket"}}}},
         "registry.storage.s3.bucket", "S3 bucket name"),
        ({"registry": {"storage": {"type": "s3", "s3": {"bucket": "b0b", "endpoint": "s3.lab"}}}},
         "registry.storage.s3.endpoint", "http(s)://"),
        ({"registry": {"storage": {"type": "s3", "s3": {"bucket": "b0b", "access_key": "a"}}}},
         "registry.storage.s3", "both access_key and secret_key"),
        ({"registry": {"cache": {"redis": "external"}}}, "registry.cache.address", "address"),
        ({"registry": {"cache": {"address": "redis:6379"}}}, "registry.cache.address",
         "only used with redis: external"),
        ({"registry": {"cache": {"password": "pw"}}}, "registry.cache.password", "no Redis cache"),
        ({"profile": "prod", "tls": {"mode": "self-signed"},
          "auth": {"enabled": True, "mode": "token",
                   "users": [{"name": "ci", "password": "long-enough-pw", "role": "admin"}]},
          "gc": {"enabled": False},  # its protection would need a realm pods reach: not this case
          "registry": {"storage": {"type": "s3", "s3": {**BUCKET, "endpoint": "http://s3:9000"}}}},
         "registry.storage.s3.endpoint", "verified HTTPS"),
        ({"backend": "microk8s-addon", "registry": {"storage": {"type": "s3", "s3": BUCKET}}},
         "registry.storage.type", "own volume"),
        ({"registry": {"storage": {"type": "s3", "s3": {**BUCKET, "ca_bundle": "lab-ca.crt"}}}},
         "registry.storage.s3.ca_bundle", "PEM certificates"),
        ({"registry": {"storage": {"type": "s3", "s3": {
            **BUCKET, "ca_bundle": LAB_CA.replace("MII", "XXX")}}}},
         "registry.storage.s3.ca_bundle", "not a readable PEM"),
        ({"registry": {"storage": {"type": "s3", "s3": {
            **BUCKET, "endpoint": "http://s3:9000", "ca_bundle": LAB_CA}}}},
         "registry.storage.s3.ca_bundle", "only used with an https endpoint"),
        ({"registry": {"storage": {"type": "s3", "s3": {
            **BUCKET, "tls_verify": False, "ca_bundle": LAB_CA}}}},
         "registry.storage.s3.ca_bundle", "set tls_verify: true"),
    ],
    ids=["replicas on one volume", "s3 without bucket", "bucket without type", "bucket name",
         "endpoint without scheme", "half the keys", "external without address",
         "address without external", "password without cache", "prod over http", "addon",
         "ca bundle as a file name", "ca bundle not PEM", "ca bundle over http",
         "ca bundle unverified"],
)  # fmt: skip
def test_unsafe_scale_out_settings_are_refused_at_their_path(
    raw: dict[str, Any], path: str, hint: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(raw)
    assert [p.path for p in error.value.problems] == [path]
    assert hint in str(error.value)


def test_bucket_keys_from_another_resource_reach_the_registry_as_plain_ones_do() -> None:
    """A bucket and its keys made in the same program (here a ConfigMap stands in for them)."""

    def build() -> None:
        keys = k8s.core.v1.ConfigMap("bucket", data={"access": ACCESS_KEY, "secret": SECRET_KEY})
        bucket = {**BUCKET, "access_key": keys.data.apply(lambda d: d["access"]),
                  "secret_key": keys.data.apply(lambda d: d["secret"])}  # fmt: skip
        raw = {"registry": {**S3["registry"], "storage": {"type": "s3", "s3": bucket}}}
        RegistryPlatform("rs", load_config(raw))

    stack = StackState()
    assert env_secret(evaluate(build, stack=stack)) == env_secret(platform(S3, stack=stack))


def test_a_cache_password_that_resolves_to_a_bad_value_ends_the_run_with_its_path() -> None:
    def build() -> None:
        cache = {"redis": "deploy", "password": pulumi.Output.secret("two words")}
        RegistryPlatform("rs", load_config({"registry": {**S3["registry"], "cache": cache}}))

    with pytest.raises(pulumi.RunError) as raised:
        evaluate(build)
    assert str(raised.value).startswith(
        "invalid stack configuration:\nregstack:registry.cache.password: must be "
    )
    assert "two words" not in str(raised.value)
