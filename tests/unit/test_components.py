"""What each component registers: kinds, key fields, parents and secrets (Pulumi mocks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import bcrypt
import pulumi
import pytest
import yaml

from components.config import RegstackConfig, load_config
from components.distribution import DistributionRegistry, DistributionRegistryArgs
from components.microk8s_addon import MicroK8sRegistryAddon, MicroK8sRegistryAddonArgs
from devkit.pulumi_mocks import (
    Recorder,
    StackState,
    evaluate,
    is_secret,
    plain_strings,
    platform,
    unwrap,
)

PASSWORD = "correct-horse-battery"
LAB = {"profile": "dev", "tls": {"mode": "self-signed"},
       "auth": {"enabled": True, "users": [{"name": "dev", "password": PASSWORD}]},
       "pull_secrets": {"namespaces": ["dev", "staging"], "create_namespaces": True}}  # fmt: skip


def registry_config(rec: Recorder) -> dict[str, Any]:
    return yaml.safe_load(rec.named("rs-registry-config").inputs["data"]["config.yml"])


def container(rec: Recorder) -> dict[str, Any]:
    return rec.named("rs-registry-deployment").inputs["spec"]["template"]["spec"]["containers"][0]


# --- DistributionRegistry ---------------------------------------------------------------------


def test_the_lab_registers_the_registry_objects_once_each() -> None:
    rec = platform({**LAB, "gc": {"enabled": False}})
    kinds = sorted(
        r.type.split(":")[-1]
        for r in rec.resources
        if r.type.startswith(("kubernetes:core", "kubernetes:apps"))
    )
    # The second ConfigMap is the lab's local-registry-hosting; the Secrets: the registry env
    # (http.secret), htpasswd and two pull secrets.
    assert kinds == ["ConfigMap", "ConfigMap", "Deployment", "Namespace", "Namespace", "Namespace",
                     "PersistentVolumeClaim", "Secret", "Secret", "Secret", "Secret", "Service",
                     "Service"]  # fmt: skip


def test_every_child_is_parented_to_its_component_and_named_after_it() -> None:
    rec = platform(LAB)
    components = {r.name: r.type for r in rec.resources if r.type.startswith("regstack:")}
    for resource in rec.resources:
        if resource.name == "rs":
            continue
        parent = rec.parent_type(resource.name)
        owner = max((n for n in components if resource.name.startswith(f"{n}-")), key=len)
        assert parent == components[owner], resource.name


def test_config_yml_enables_deletes_metrics_auth_and_tls() -> None:
    config = registry_config(platform(LAB))
    assert config["storage"]["delete"] == {"enabled": True}
    assert config["http"]["debug"]["prometheus"] == {"enabled": True, "path": "/metrics"}
    assert config["auth"]["htpasswd"]["path"] == "/etc/registry/auth/htpasswd"
    assert config["http"]["tls"]["certificate"] == "/etc/registry/tls/tls.crt"


def test_without_tls_and_auth_config_yml_has_neither() -> None:
    config = registry_config(platform({}))
    assert "auth" not in config and "tls" not in config["http"]


def test_the_container_runs_restricted() -> None:
    rec = platform(LAB)
    pod = rec.named("rs-registry-deployment").inputs["spec"]["template"]["spec"]
    security = container(rec)["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert set(container(rec)["resources"]) == {"requests", "limits"}


def test_probes_use_https_when_tls_is_on_and_http_otherwise() -> None:
    assert container(platform(LAB))["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    plain = container(platform({}))["readinessProbe"]["httpGet"]
    assert (plain["scheme"], plain["path"]) == ("HTTP", "/v2/")


def test_the_pod_template_carries_a_config_checksum_that_follows_the_users() -> None:
    stack = StackState()

    def checksum(password: str) -> str:
        users = {**LAB["auth"], "users": [{"name": "dev", "password": password}]}  # type: ignore[dict-item]
        template = (
            platform({**LAB, "auth": users}, stack=stack)
            .named("rs-registry-deployment")
            .inputs["spec"]["template"]
        )
        return template["metadata"]["annotations"]["regstack.io/config-checksum"]

    assert checksum("one-password") == checksum("one-password") != checksum("another-password")


def test_the_service_is_node_port_32000_by_default() -> None:
    port = platform({}).named("rs-registry-service").inputs["spec"]["ports"][0]
    assert (port["nodePort"], port["port"]) == (32000, 5000)


def test_a_cluster_ip_service_has_no_node_port() -> None:
    spec = (
        platform({"registry": {"service": {"type": "ClusterIP"}}})
        .named("rs-registry-service")
        .inputs["spec"]
    )
    assert spec["type"] == "ClusterIP" and "nodePort" not in spec["ports"][0]


def test_metrics_get_a_cluster_ip_service_of_their_own() -> None:
    spec = platform({}).named("rs-registry-metrics").inputs["spec"]
    assert (spec["type"], spec["ports"][0]["name"], spec["ports"][0]["port"]) == (
        "ClusterIP",
        "metrics",
        5001,
    )


def test_an_ingress_carries_tls_and_an_unlimited_body_size() -> None:
    raw = {**LAB, "registry": {"hostnames": ["registry.lab.local"], "ingress": {"enabled": True}}}
    ingress = platform(raw).named("rs-registry-ingress").inputs
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] == "0"
    assert ingress["spec"]["tls"] == [
        {"hosts": ["registry.lab.local"], "secretName": "rs-certificate-tls"}
    ]


def test_skip_await_marks_only_objects_that_wait_for_nodes() -> None:
    rec = platform({"skip_await": True})
    for name in ("rs-registry-deployment", "rs-registry-service", "rs-registry-data"):
        assert rec.named(name).inputs["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    assert "annotations" not in rec.named("rs-registry-config").inputs["metadata"]


def test_one_registry_on_a_read_write_once_volume_is_recreated_not_rolled() -> None:
    spec = platform({}).named("rs-registry-deployment").inputs["spec"]
    assert spec["strategy"] == {"type": "Recreate"}


@pytest.mark.parametrize(("profile", "protected"), [("prod", True), ("dev", False)])
def test_registry_data_is_protected_only_in_production(profile: str, protected: bool) -> None:
    cfg = RegstackConfig.model_validate({"profile": profile})
    built: list[DistributionRegistry] = []

    def build() -> None:
        args = DistributionRegistryArgs(
            namespace="ns", registry=cfg.registry, stack_key="k" * 64,
            protect_data=cfg.protect_data,
        )  # fmt: skip
        built.append(DistributionRegistry("rs", args))

    evaluate(build)
    assert built[0].data_claim._protect is protected


# --- RegistryCertificate ----------------------------------------------------------------------


def test_a_lab_gets_a_self_signed_ca_chain_that_issues_the_serving_certificate() -> None:
    rec = platform(LAB)
    assert rec.named("rs-certificate-selfsigned").inputs["spec"] == {"selfSigned": {}}
    assert rec.named("rs-certificate-ca").inputs["spec"]["isCA"] is True
    assert rec.named("rs-certificate-ca-issuer").inputs["spec"] == {
        "ca": {"secretName": "rs-certificate-ca"}
    }
    serving = rec.named("rs-certificate-tls").inputs["spec"]
    assert serving["issuerRef"]["name"] == "rs-certificate-ca-issuer"
    assert {"localhost", "registry.container-registry.svc.cluster.local"} <= set(
        serving["dnsNames"]
    )


def test_an_existing_cluster_issuer_signs_a_single_certificate() -> None:
    # A public CA needs a public name to certify.
    raw = {**LAB, "tls": {"mode": "issuer", "issuer": {"name": "letsencrypt-prod"}},
           "registry": {"hostnames": ["registry.example.com"]}}  # fmt: skip
    rec = platform(raw)
    certificates = rec.of_type("kubernetes:cert-manager.io/v1:Certificate")
    assert [c.inputs["spec"]["issuerRef"] for c in certificates] == [
        {"name": "letsencrypt-prod", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    ]
    assert rec.of_type("kubernetes:cert-manager.io/v1:Issuer") == []


# --- RegistryAuth -----------------------------------------------------------------------------


def test_the_htpasswd_secret_is_secret_and_verifies_the_password() -> None:
    data = platform(LAB).named("rs-auth-htpasswd").inputs["stringData"]
    assert is_secret(data)
    user, hashed = unwrap(data)["htpasswd"].strip().split(":", 1)
    assert user == "dev" and bcrypt.checkpw(PASSWORD.encode(), hashed.encode())


def test_htpasswd_is_identical_on_a_second_run_of_the_stack() -> None:
    stack = StackState()

    def htpasswd() -> str:
        secret = platform(LAB, stack=stack).named("rs-auth-htpasswd")
        return unwrap(secret.inputs["stringData"])["htpasswd"]

    assert htpasswd() == htpasswd()


def test_each_listed_namespace_gets_a_dockerconfigjson_pull_secret() -> None:
    rec = platform(LAB)
    for namespace in ("dev", "staging"):
        secret = rec.named(f"rs-auth-pull-{namespace}").inputs
        assert secret["type"] == "kubernetes.io/dockerconfigjson"
        assert secret["metadata"] == {"name": "regstack-pull", "namespace": namespace}
        config = json.loads(unwrap(secret["stringData"])[".dockerconfigjson"])
        assert config["auths"]["localhost:32000"]["password"] == PASSWORD


def test_pull_secrets_authenticate_the_host_name_at_the_node_port_that_nodes_pull_by() -> None:
    raw = {**LAB, "registry": {"hostnames": ["registry.lab.local"]}}
    secret = platform(raw).named("rs-auth-pull-dev").inputs
    config = json.loads(unwrap(secret["stringData"])[".dockerconfigjson"])
    assert config["auths"]["registry.lab.local:32000"]["password"] == PASSWORD


def test_no_password_appears_outside_a_secret_in_any_registered_input() -> None:
    rec = platform(LAB)
    token = __import__("base64").b64encode(f"dev:{PASSWORD}".encode()).decode()
    leaks = [
        r.name
        for r in rec.resources
        for s in plain_strings(r.inputs)
        if PASSWORD in s or token in s
    ]
    assert leaks == []


# --- MicroK8sRegistryAddon --------------------------------------------------------------------


def addon(raw: dict[str, Any]) -> Recorder:
    cfg = load_config({"backend": "microk8s-addon", **raw})

    def build() -> None:
        key = pulumi.Output.secret("PRIVATE KEY") if cfg.microk8s.host else None
        args = MicroK8sRegistryAddonArgs(
            cfg.registry.storage.size, cfg.registry.storage.storage_class, cfg.microk8s, key
        )
        MicroK8sRegistryAddon("rs-addon", args)

    return evaluate(build)


def test_the_addon_is_enabled_locally_with_the_chapter_command() -> None:
    command = addon({"registry": {"storage": {"size": "40Gi", "storage_class": "fast"}}}).named(
        "rs-addon-enable"
    )
    assert command.type == "command:local:Command"
    assert (
        "\nmicrok8s enable registry --size 40Gi --storageclass fast\n" in command.inputs["create"]
    )
    assert "delete" not in command.inputs  # `microk8s disable registry` deletes every image


def test_a_changed_addon_command_is_checked_against_the_claim_never_re_enabled() -> None:
    command = addon({"registry": {"storage": {"size": "40Gi"}}}).named("rs-addon-enable")
    assert "get persistentvolumeclaim registry-claim" in command.inputs["update"]
    assert "microk8s enable" not in command.inputs["update"]
    assert "disable" not in command.inputs["update"]


def test_the_addon_runs_over_ssh_with_a_secret_key_when_a_host_is_set() -> None:
    command = addon({"microk8s": {"host": "node1.lab", "user": "ubuntu"}}).named("rs-addon-enable")
    assert command.type == "command:remote:Command"
    connection = command.inputs["connection"]
    assert is_secret(connection) and unwrap(connection)["host"] == "node1.lab"


def test_the_addon_backend_creates_no_kubernetes_objects() -> None:
    rec = platform({"backend": "microk8s-addon"})
    assert [r for r in rec.resources if r.type.startswith("kubernetes:")] == []


def test_the_addon_backend_warns_that_its_registry_gets_no_garbage_collection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(
        pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message)
    )
    platform({"backend": "microk8s-addon"})
    assert [w for w in warnings if "no garbage collection" in w] != []


def test_the_addon_backend_is_quiet_about_gc_once_it_is_turned_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(
        pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message)
    )
    platform({"backend": "microk8s-addon", "gc": {"enabled": False}})
    assert [w for w in warnings if "garbage collection" in w] == []


def test_the_deployment_stays_readable_in_previews_when_auth_is_on() -> None:
    assert not is_secret(platform(LAB).named("rs-registry-deployment").inputs["spec"])


# --- GarbageCollection ------------------------------------------------------------------------


def gc_pod(rec: Recorder) -> dict[str, Any]:
    return rec.named("rs-gc-cronjob").inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_gc_runs_on_the_configured_schedule_never_twice_at_once() -> None:
    spec = platform({"gc": {"schedule": "30 3 * * 6"}}).named("rs-gc-cronjob").inputs["spec"]
    assert (spec["schedule"], spec["concurrencyPolicy"]) == ("30 3 * * 6", "Forbid")
    assert spec["jobTemplate"]["spec"]["backoffLimit"] == 0


def test_gc_stops_the_registry_first_and_restores_it_beside_the_collection() -> None:
    pod = gc_pod(platform({}))
    assert [c["name"] for c in pod["initContainers"]] == ["stop"]
    assert [c["name"] for c in pod["containers"]] == ["gc", "restore"]
    assert "registry garbage-collect --delete-untagged" in pod["containers"][0]["command"][2]


def test_gc_mounts_the_registry_volume_and_config() -> None:
    volumes = {v["name"]: v for v in gc_pod(platform({}))["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "registry-data"}
    assert volumes["config"]["configMap"] == {"name": "registry-config"}


def test_gc_may_only_change_the_registry_deployment_and_its_own_lease() -> None:
    rules = platform({}).named("rs-gc-role").inputs["rules"]
    assert rules[0] == {"apiGroups": ["apps"], "resources": ["deployments"],
                        "resourceNames": ["registry"], "verbs": ["get", "patch"]}  # fmt: skip
    assert rules[3] == {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                        "resourceNames": ["registry-gc"], "verbs": ["get", "update"]}  # fmt: skip


def test_gc_protects_in_use_images_with_the_credentials_and_ca_retention_uses() -> None:
    pod = gc_pod(platform(RETENTION))
    stop, restore = pod["initContainers"][0], pod["containers"][1]
    for step in (stop, restore):
        assert (
            "--protect-registry=https://registry.container-registry.svc.cluster.local:5000"
            in (step["args"][0])
        )
        assert "--protect-password-file=/etc/registry-gc/credentials/password" in step["args"][0]
        assert "--protect-ca-file=/etc/registry-gc/ca/ca.crt" in step["args"][0]
    assert is_secret(platform(RETENTION).named("rs-gc-credentials").inputs["stringData"])
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["in-use"]["configMap"] == {"name": "registry-in-use", "optional": True}


def test_gc_without_delete_untagged_has_nothing_to_protect() -> None:
    pod = gc_pod(platform({"gc": {"delete_untagged": False}}))
    assert "--protect-" not in pod["initContainers"][0]["args"][0]


def test_the_gc_pod_has_time_to_reopen_when_it_is_terminated() -> None:
    assert gc_pod(platform({}))["terminationGracePeriodSeconds"] == 120


def test_no_gc_job_when_gc_is_disabled() -> None:
    assert platform({"gc": {"enabled": False}}).of_type("kubernetes:batch/v1:CronJob") == []


# --- hardening ----------------------------------------------------------------------------------


def test_the_registry_namespace_enforces_the_restricted_pod_security_standard() -> None:
    labels = platform({}).named("rs-namespace").inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_a_cluster_ip_registry_accepts_clients_from_inside_the_cluster_only() -> None:
    rules = (
        platform({"registry": {"service": {"type": "ClusterIP"}}})
        .named("rs-registry-network-policy")
        .inputs["spec"]["ingress"]
    )
    assert rules[0]["from"] == [{"namespaceSelector": {}}]


def test_a_node_port_registry_accepts_clients_from_anywhere_on_its_port_only() -> None:
    rules = platform({}).named("rs-registry-network-policy").inputs["spec"]["ingress"]
    assert rules[0] == {
        "from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
        "ports": [{"protocol": "TCP", "port": 5000}],
    }


def test_several_replicas_get_a_disruption_budget_and_one_does_not() -> None:
    shared = {"registry": {"replicas": 2, "storage": {"access_mode": "ReadWriteMany"},
                           "http_secret": "shared-upload-secret"}}  # fmt: skip
    assert platform(shared).named("rs-registry-pdb").inputs["spec"]["minAvailable"] == 1
    assert platform({}).of_type("kubernetes:policy/v1:PodDisruptionBudget") == []


# --- RetentionJob ---------------------------------------------------------------------------------

RETENTION = {
    **LAB,
    "retention": {"enabled": True, "rules": [{"repositories": ["team/*"], "keep_last": 5}]},
}


def retention_container(rec: Recorder) -> dict[str, Any]:
    spec = rec.named("rs-retention-cronjob").inputs["spec"]["jobTemplate"]["spec"]["template"][
        "spec"
    ]
    return spec["containers"][0]


def test_retention_runs_the_engine_dry_by_default_against_the_in_cluster_https_endpoint() -> None:
    line = retention_container(platform(RETENTION))["command"]
    assert line[:3] == ["python", "-m", "components.retention"]
    assert "--registry=https://registry.container-registry.svc.cluster.local:5000" in line
    assert "--apply" not in line and "--in-use-from-cluster" in line


def test_retention_applies_only_when_configured() -> None:
    raw = {**RETENTION, "retention": {**RETENTION["retention"], "apply": True}}
    assert "--apply" in retention_container(platform(raw))["command"]


def test_retention_ships_its_policy_and_engine_as_config_maps() -> None:
    rec = platform(RETENTION)
    policy = json.loads(rec.named("rs-retention-policy").inputs["data"]["policy.json"])
    assert policy["rules"] == [
        {"repositories": ["team/*"], "keep_last": 5, "protected": [], "default_protected": True}
    ]
    assert "__main__.py" in rec.named("rs-retention-code").inputs["data"]


# What the pod's `python -m components.retention` imports: its command line and, through it, the
# in-use inventory and the policy (which imports the shared image-reference module by `..images`).
ENGINE_MODULES = (
    "components.retention.cli",
    "components.retention.inuse",
    "components.retention.policy",
)


def test_the_retention_engine_runs_from_what_its_job_mounts_and_the_standard_library(
    tmp_path: Path,
) -> None:
    rec = platform(RETENTION)
    data = rec.named("rs-retention-code").inputs["data"]
    pod = rec.named("rs-retention-cronjob").inputs["spec"]["jobTemplate"]["spec"]["template"]
    (code,) = [v for v in pod["spec"]["volumes"] if v["name"] == "code"]
    (mount,) = [m for m in retention_container(rec)["volumeMounts"] if m["name"] == "code"]
    for item in code["configMap"]["items"]:
        (tmp_path / item["path"]).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / item["path"]).write_text(data[item["key"]])
    env = {e["name"]: e["value"] for e in retention_container(rec)["env"]}
    assert env["PYTHONPATH"] == mount["mountPath"]
    # -S: no site-packages, as in the stock Python image; the engine's policy check imports
    # the shared image-reference module, so it must be among the mounted files.
    done = subprocess.run(
        [sys.executable, "-S", "-c", f"import {', '.join(ENGINE_MODULES)}"],
        env={"PYTHONPATH": str(tmp_path)}, cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_retention_keeps_the_in_use_files_of_other_clusters_that_gc_keeps() -> None:
    rec = platform(RETENTION)
    pod = rec.named("rs-retention-cronjob").inputs["spec"]["jobTemplate"]["spec"]["template"]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    gc_volumes = {v["name"]: v for v in gc_pod(rec)["volumes"]}
    optional = {"name": "in-use", "configMap": {"name": "registry-in-use", "optional": True}}
    assert volumes["in-use"] == gc_volumes["in-use"] == optional
    assert "--in-use-file=/etc/retention/in-use" in retention_container(rec)["command"]


def test_retention_credentials_are_a_secret_and_the_lab_ca_is_mounted() -> None:
    rec = platform(RETENTION)
    assert is_secret(rec.named("rs-retention-credentials").inputs["stringData"])
    assert "--ca-file=/etc/retention/ca/ca.crt" in retention_container(rec)["command"]


def test_retention_may_only_list_pods_and_the_kinds_with_pod_templates() -> None:
    roles = platform(RETENTION).of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
    [role] = [r for r in roles if r.name == "rs-retention-in-use-reader"]
    assert role.inputs["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
        {"apiGroups": ["apps"], "verbs": ["list"],
         "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"]},
        {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["list"]},
    ]  # fmt: skip
