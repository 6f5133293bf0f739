"""Values other than secrets given as Pulumi Outputs (a ClusterIssuer, a namespace name, a bucket
and its CA, a host name made in the same program): each ends in the resources that use it, is
checked when it resolves with its path, and a plain value renders as before
(components/config/deferred.py, `MayBeOutput`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
import yaml

from components.config import ConfigError, load_config
from components.config.registry import CA_BUNDLE_PLACEHOLDER
from components.harbor_secrets import token_key_pair
from components.platform import RegistryPlatform
from devkit.pulumi_mocks import Recorder, StackState, evaluate, is_secret, plain_strings, unwrap
from tests.harbor.support import BASE as HARBOR

Given = Callable[[str], pulumi.Input[str]]
"""How a test gives a value: `str` (plain) or `pulumi.Output.from_input` (from a resource)."""
Config = Callable[[Given], dict[str, Any]]
"""A config with its values given one way: called inside the program, where Outputs are made."""

PLACEHOLDERS = ("regstack-issuer-output", "regstack-namespace-output", "regstack-bucket-output",
                "regstack-endpoint-output", "regstack-hostname-output",
                CA_BUNDLE_PLACEHOLDER.strip())  # fmt: skip
PASSWORD = "correct-horse-battery"
# Every part that names the namespace: the certificate, pull secrets, GC's protection and the
# retention job (both dial the registry's Service), local-registry-hosting, alerts, dashboard,
# the deployed cache's address (in config.yml and GC's restore step).
FULL = {"profile": "dev", "tls": {"mode": "self-signed"},
        "auth": {"enabled": True, "users": [{"name": "dev", "password": PASSWORD}]},
        "pull_secrets": {"namespaces": ["apps"]},
        "retention": {"enabled": True, "rules": [{"repositories": ["team/*"], "keep_last": 5}]},
        "registry": {"advertise": True, "cache": {"redis": "deploy", "password": "cache-pw-0123"}},
        "monitoring": {"enabled": True}}  # fmt: skip
SERVICE = "registry.made-here.svc.cluster.local:5000"
HOST = "registry.made.here"
LAB_CA = token_key_pair("a CA made in the same program")[1]  # any PEM certificate will do
output = pulumi.Output.from_input


def with_namespace(namespace: pulumi.Input[str], raw: dict[str, Any] = FULL) -> dict[str, Any]:
    return {**raw, "registry": {**raw.get("registry", {}), "namespace": namespace}}


def with_bucket(
    bucket: pulumi.Input[str],
    endpoint: pulumi.Input[str],
    raw: dict[str, Any] | None = None,
    ca: pulumi.Input[str] | None = None,
) -> dict[str, Any]:
    """`raw` keeping its images in the bucket at `endpoint` (keys from the pod's identity),
    whose certificate `ca` signs if given."""
    raw = raw if raw is not None else {}
    s3 = {"bucket": bucket, "endpoint": endpoint, **({"ca_bundle": ca} if ca is not None else {})}
    return {**raw, "registry": {**raw.get("registry", {}), "storage": {"type": "s3", "s3": s3}}}


def with_hostnames(
    names: list[pulumi.Input[str]], raw: dict[str, Any] = FULL, ingress: bool = True
) -> dict[str, Any]:
    registry = {**raw.get("registry", {}), "hostnames": names, "ingress": {"enabled": ingress}}
    return {**raw, "registry": registry}


def with_issuer(name: pulumi.Input[str], raw: dict[str, Any] | None = None) -> dict[str, Any]:
    issuer = {"mode": "issuer", "issuer": {"name": name, "kind": "ClusterIssuer"}}
    return {**(raw or {}), "tls": issuer}


def issuer(given: Given) -> dict[str, Any]:
    return with_issuer(given("made-here"))


def namespace(given: Given) -> dict[str, Any]:
    return with_namespace(given("made-here"))


def bucket(given: Given) -> dict[str, Any]:
    return with_bucket(given("made-here"), given("https://s3.made.here"))


def ca_bundle(given: Given) -> dict[str, Any]:
    return with_bucket("blobs", "https://s3.made.here", ca=given(LAB_CA))


def hostname(given: Given) -> dict[str, Any]:
    """FULL behind an Ingress for a host name: the Ingress, the certificate, the pull secrets,
    local-registry-hosting and the endpoint name it."""
    return with_hostnames([given(HOST)])


def harbor(given: Given) -> dict[str, Any]:
    raw = with_namespace(given("made-here"), with_issuer(given("company-ca"), HARBOR))
    raw = {**raw, "registry": {**raw["registry"], "hostnames": ["harbor.lab", given(HOST)]}}
    return with_bucket(given("made-here"), given("https://s3.made.here"), raw, ca=given(LAB_CA))


def every(given: Given) -> dict[str, Any]:
    return with_bucket(
        given("made-here"),
        given("https://s3.made.here"),
        with_issuer(given("made-here"), with_hostnames([given(HOST)], namespace(given))),
        ca=given(LAB_CA),
    )


def built(
    config: Callable[[], dict[str, Any]], stack: StackState | None = None, preview: bool = False
) -> Recorder:
    """What the platform registers for `config()` (made inside the program)."""
    build = lambda: RegistryPlatform("rs", load_config(config()))  # noqa: E731
    return evaluate(build, stack=stack, preview=preview)


def failure(config: Callable[[], dict[str, Any]]) -> str:
    """The message that ends the run of `config()`."""
    with pytest.raises(pulumi.RunError) as raised:
        built(config)
    return str(raised.value)


def refusal(raw: dict[str, Any], path: str) -> str:
    """`load_config`'s one problem at `path` (others, such as Harbor's own keys, aside)."""
    with pytest.raises(ConfigError) as raised:
        load_config(raw)
    about = [p.message for p in raised.value.problems if p.path == path]
    assert len(about) == 1, raised.value.problems
    return about[0]


def rendered(rec: Recorder) -> dict[str, str]:
    """Each resource's type and inputs by name, whatever order they were registered in; a
    dynamic resource's inputs hold its provider pickled anew on each run, so only its type."""
    return {
        r.name: r.type if r.type.startswith("pulumi-python:dynamic")
        else json.dumps([r.type, r.inputs], sort_keys=True)
        for r in rec.resources
    }  # fmt: skip


def unknown(_: str) -> pulumi.Output[str]:
    """An Output whose value a preview does not know yet (a resource still to be created)."""
    loop = asyncio.get_event_loop()
    value, known = loop.create_future(), loop.create_future()
    value.set_result(None)
    known.set_result(False)
    return pulumi.Output(set(), value, known)


# --- every value --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config", [issuer, namespace, bucket, ca_bundle, hostname, harbor], ids=lambda c: c.__name__
)
def test_a_plain_value_renders_the_same_resources_as_the_same_value_given_as_an_output(
    config: Config,
) -> None:
    stack = StackState()  # one stack: the same stack key, so the same derived values
    plain = built(lambda: config(str), stack)
    assert rendered(built(lambda: config(output), stack)) == rendered(plain)


def test_no_resource_holds_the_placeholder_that_stood_in_for_an_output() -> None:
    rec = built(lambda: every(output))
    found = [(r.name, s) for r in rec.resources for s in plain_strings(r.inputs)
             if any(p in s for p in PLACEHOLDERS)]  # fmt: skip
    assert found == []


def test_reading_an_output_value_as_text_raises_rather_than_using_its_placeholder() -> None:
    def build() -> None:
        cfg = load_config(issuer(output))
        assert cfg.tls.issuer is not None
        f"{cfg.tls.issuer.name}"

    with pytest.raises(TypeError, match=r"outputs\.input_of"):
        evaluate(build)


def test_a_preview_with_every_output_value_unknown_registers_the_same_resources() -> None:
    previewed = built(lambda: every(unknown), preview=True)
    applied = built(lambda: every(output))
    assert sorted(r.name for r in previewed.resources) == sorted(r.name for r in applied.resources)


def problems_of(raw: dict[str, Any]) -> list[str]:
    """Every `regstack:<path>: ...` line `load_config` refuses `raw` with."""
    lines: list[str] = []

    def check() -> None:
        with pytest.raises(ConfigError) as raised:
            load_config(raw)
        lines.extend(str(problem) for problem in raised.value.problems)

    evaluate(check)
    return lines


def test_an_output_after_a_refused_list_item_is_not_reported_as_a_key_that_takes_none() -> None:
    # The refused item is dropped to check the rest: the Output's index then names another item.
    lines = problems_of(with_hostnames(["Not_A_Host!", output(HOST)], {}))
    assert [line.split(":")[1] for line in lines] == ["registry.hostnames[0]"]


def test_a_secret_output_after_a_refused_user_leaves_that_users_problem_alone() -> None:
    users = [{"name": "not a name", "password": PASSWORD},
             {"name": "ci", "password": pulumi.Output.secret(PASSWORD)}]  # fmt: skip
    lines = problems_of({"auth": {"enabled": True, "users": users}})
    assert [line.split(":")[1] for line in lines] == ["auth.users[0].name"]


# --- tls.issuer.name ----------------------------------------------------------------------------


def test_an_issuer_name_given_as_an_output_is_the_serving_certificates_issuer() -> None:
    spec = built(lambda: issuer(output)).named("rs-certificate-tls").inputs["spec"]
    assert spec["issuerRef"] == {"name": "made-here", "kind": "ClusterIssuer",
                                 "group": "cert-manager.io"}  # fmt: skip


def test_an_issuer_name_given_as_an_output_is_harbors_certificates_issuer_too() -> None:
    def config() -> dict[str, Any]:
        return with_issuer(output("company-ca"), {**HARBOR, "tls": {}})

    certificates = built(config).of_type("kubernetes:cert-manager.io/v1:Certificate")
    assert [c.inputs["spec"]["issuerRef"]["name"] for c in certificates] == ["company-ca"]


def test_an_issuer_name_that_resolves_to_a_bad_name_ends_the_run_with_its_path() -> None:
    message = failure(lambda: with_issuer(output("Not_An_Issuer")))
    assert message.startswith(
        "invalid stack configuration:\nregstack:tls.issuer.name: 'Not_An_Issuer' is not "
    )


def test_an_issuer_name_that_resolves_to_a_public_acme_ca_is_refused_at_its_path() -> None:
    message = failure(lambda: with_issuer(output("letsencrypt-prod")))
    assert "regstack:tls.issuer.name: 'letsencrypt-prod' looks like a public ACME CA" in message
    assert "give tls.issuer.name as a plain value" in message


def test_an_issuer_name_given_as_a_secret_is_refused_rather_than_shown_in_plain() -> None:
    message = failure(lambda: with_issuer(pulumi.Output.secret("lab-issuer")))
    assert "regstack:tls.issuer.name: is a pulumi secret, but this value is shown in plain" in (
        message
    )


# --- registry.namespace -------------------------------------------------------------------------


def test_a_namespace_given_as_an_output_is_the_one_regstack_creates_and_deploys_into() -> None:
    rec = built(lambda: namespace(output))
    assert rec.named("rs-namespace").inputs["metadata"]["name"] == "made-here"
    assert rec.named("rs-registry-deployment").inputs["metadata"]["namespace"] == "made-here"


def test_the_certificate_names_the_service_in_the_namespace_given_as_an_output() -> None:
    names = built(lambda: namespace(output)).named("rs-certificate-tls").inputs["spec"]["dnsNames"]
    assert names == ["registry", "registry.made-here", "registry.made-here.svc",
                     "registry.made-here.svc.cluster.local", "localhost"]  # fmt: skip


def test_pull_secrets_authenticate_the_service_in_the_namespace_given_as_an_output() -> None:
    secret = built(lambda: namespace(output)).named("rs-auth-pull-apps")
    hosts = json.loads(unwrap(secret.inputs["stringData"])[".dockerconfigjson"])["auths"]
    assert sorted(hosts) == ["localhost:32000", SERVICE, "registry.made-here.svc:5000"]


def test_gc_and_retention_dial_the_service_in_the_namespace_given_as_an_output() -> None:
    rec = built(lambda: namespace(output))
    job = rec.named("rs-retention-cronjob").inputs["spec"]["jobTemplate"]["spec"]["template"]
    assert f"--registry=https://{SERVICE}" in job["spec"]["containers"][0]["command"]
    gc = rec.named("rs-gc-cronjob").inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert f"--protect-registry=https://{SERVICE}" in gc["initContainers"][0]["args"][0]


def test_without_a_host_name_the_endpoint_is_the_service_in_the_namespace_given_as_an_output() -> (
    None
):
    endpoints: list[str] = []

    def build() -> None:
        raw = with_namespace(output("made-here"), {"registry": {"service": {"type": "ClusterIP"}}})
        RegistryPlatform("rs", load_config(raw)).endpoint.apply(endpoints.append)

    evaluate(build)
    assert endpoints == [SERVICE]


def test_alert_rules_and_the_dashboard_watch_the_namespace_given_as_an_output() -> None:
    rec = built(lambda: with_namespace(output("made-here"), {"monitoring": {"enabled": True}}))
    rules = json.dumps(rec.named("rs-monitoring-rules").inputs["spec"])
    dashboard = rec.named("rs-monitoring-dashboard").inputs["data"]["regstack-registry.json"]
    assert "made-here" in rules and "made-here" in dashboard


def test_a_namespace_that_resolves_to_a_bad_name_ends_the_run_with_its_path() -> None:
    message = failure(lambda: with_namespace(output("Not_A_Namespace")))
    assert message.startswith(
        "invalid stack configuration:\nregstack:registry.namespace: 'Not_A_Namespace' is not "
    )


def test_a_namespace_given_as_a_secret_is_refused_rather_than_shown_in_plain() -> None:
    message = failure(lambda: with_namespace(pulumi.Output.secret("made-here")))
    assert "regstack:registry.namespace: is a pulumi secret" in message


def test_a_namespace_given_as_an_output_is_the_one_harbor_is_installed_in() -> None:
    rec = built(lambda: with_namespace(output("made-here"), HARBOR))
    assert rec.named("rs-namespace").inputs["metadata"]["name"] == "made-here"
    assert rec.named("rs-harbor-chart").inputs["namespace"] == "made-here"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"backend": "microk8s-addon"}, "the microk8s-addon backend does not take"),
        (
            {
                **HARBOR,
                "registry": {},
                "harbor": {**HARBOR["harbor"], "expose": {"type": "clusterIP"}},
            },
            "Harbor's URL would be named after it",
        ),
    ],
    ids=["addon", "harbor named after it"],
)
def test_a_namespace_output_where_it_must_be_text_is_refused_before_any_resource(
    raw: dict[str, Any], says: str
) -> None:
    def check() -> None:
        assert says in refusal(with_namespace(output("made-here"), raw), "registry.namespace")

    assert evaluate(check).resources == []


def test_the_cache_the_registry_and_gc_use_is_the_one_in_the_namespace_given_as_an_output() -> None:
    rec = built(lambda: namespace(output))
    address = "registry-cache.made-here.svc.cluster.local:6379"
    config = yaml.safe_load(rec.named("rs-registry-config").inputs["data"]["config.yml"])
    assert config["redis"]["addrs"] == [address]
    gc = rec.named("rs-gc-cronjob").inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert f"--redis={address} " in gc["containers"][1]["args"][0]


# --- registry.storage.s3.bucket and .endpoint ---------------------------------------------------


def config_yml(config: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    text = built(config).named("rs-registry-config").inputs["data"]["config.yml"]
    return dict(yaml.safe_load(text))


def test_a_bucket_and_its_endpoint_given_as_outputs_are_in_the_registrys_config_file() -> None:
    s3 = config_yml(lambda: with_bucket(output("made-here"), output("https://s3.made.here:9000")))
    driver = s3["storage"]["s3"]
    assert (driver["bucket"], driver["regionendpoint"], driver["secure"]) == (
        "made-here", "https://s3.made.here:9000", True
    )  # fmt: skip


def test_an_endpoint_given_as_an_output_loses_its_trailing_slash_as_a_plain_one_does() -> None:
    s3 = config_yml(lambda: with_bucket("blobs", output("https://s3.made.here/")))
    assert s3["storage"]["s3"]["regionendpoint"] == "https://s3.made.here"


def test_a_bucket_that_resolves_to_a_bad_name_ends_the_run_with_its_path() -> None:
    message = failure(lambda: with_bucket(output("Bad_Bucket"), "https://s3.lab"))
    assert message.startswith(
        "invalid stack configuration:\nregstack:registry.storage.s3.bucket: must be an S3 bucket"
    )


def test_an_endpoint_that_resolves_to_plain_http_is_refused_at_its_path() -> None:
    message = failure(lambda: with_bucket("blobs", output("http://s3.lab")))
    assert "regstack:registry.storage.s3.endpoint: 'http://s3.lab' is plain HTTP" in message
    assert "give an http endpoint as a plain value" in message


def test_a_bucket_and_its_endpoint_given_as_outputs_are_in_harbors_values() -> None:
    def config() -> dict[str, Any]:
        return with_bucket(output("made-here"), output("https://s3.made.here/"), HARBOR)

    values = unwrap(built(config).named("rs-harbor-chart").inputs["values"])
    driver = values["persistence"]["imageChartStorage"]["s3"]
    assert (driver["bucket"], driver["regionendpoint"]) == ("made-here", "https://s3.made.here")


# --- registry.storage.s3.ca_bundle --------------------------------------------------------------


def test_a_ca_bundle_given_as_an_output_is_the_one_the_registry_trusts_for_its_bucket() -> None:
    data = built(lambda: ca_bundle(output)).named("rs-registry-config").inputs["data"]
    assert data["s3-ca.crt"] == LAB_CA


def test_a_ca_bundle_read_from_a_secret_is_taken_and_stays_a_secret() -> None:
    rec = built(lambda: with_bucket("blobs", "https://s3.lab", ca=pulumi.Output.secret(LAB_CA)))
    data = rec.named("rs-registry-config").inputs["data"]
    assert is_secret(data) and unwrap(data)["s3-ca.crt"] == LAB_CA


def test_a_ca_bundle_that_resolves_to_no_certificate_ends_the_run_without_showing_it() -> None:
    given = "a secret-looking text that is no certificate"
    message = failure(lambda: with_bucket("blobs", "https://s3.lab", ca=output(given)))
    assert message.startswith(
        "invalid stack configuration:\nregstack:registry.storage.s3.ca_bundle: must be PEM"
    )
    assert given not in message


def test_a_ca_bundle_given_as_an_output_is_in_harbors_trust_store_for_its_bucket() -> None:
    rec = built(lambda: with_bucket("blobs", "https://s3.lab", HARBOR, ca=output(LAB_CA)))
    assert unwrap(rec.named("rs-harbor-s3-ca").inputs["stringData"]) == {"ca.crt": LAB_CA}


def test_a_ca_bundle_output_with_the_microk8s_addon_is_refused_before_any_resource() -> None:
    def check() -> None:
        raw = with_bucket("blobs", "https://s3.lab", {"backend": "microk8s-addon"}, output(LAB_CA))
        message = refusal(raw, "registry.storage.s3.ca_bundle")
        assert "the microk8s-addon backend does not take" in message

    assert evaluate(check).resources == []


# --- registry.hostnames -------------------------------------------------------------------------


def test_a_host_name_given_as_an_output_is_the_ingress_host_and_in_its_certificate() -> None:
    rec = built(lambda: hostname(output))
    spec = rec.named("rs-registry-ingress").inputs["spec"]
    assert [rule["host"] for rule in spec["rules"]] == [HOST]
    assert spec["tls"][0]["hosts"] == [HOST]
    assert rec.named("rs-certificate-tls").inputs["spec"]["dnsNames"][0] == HOST


def test_pull_secrets_and_the_endpoint_name_the_host_name_given_as_an_output() -> None:
    endpoints: list[str] = []

    def build() -> None:
        RegistryPlatform("rs", load_config(hostname(output))).endpoint.apply(endpoints.append)

    rec = evaluate(build)
    secret = rec.named("rs-auth-pull-apps")
    assert HOST in json.loads(unwrap(secret.inputs["stringData"])[".dockerconfigjson"])["auths"]
    assert endpoints == [HOST]


NODES = {"nodes": [{"host": "node1.lab"}],
         "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-key\n-----END OPENSSH PRIVATE KEY-----"}  # fmt: skip


def test_nodes_trust_the_host_name_given_as_an_output_at_the_node_port() -> None:
    rec = built(lambda: with_hostnames([output(HOST)], {"node_trust": NODES}, ingress=False))
    script = rec.of_type("command:remote:Command")[0].inputs["create"]
    assert f"/var/snap/microk8s/current/args/certs.d/{HOST}:32000/hosts.toml" in script


def test_the_insecure_registries_snippet_names_the_host_name_given_as_an_output() -> None:
    snippets: list[str | None] = []

    def build() -> None:
        raw = with_hostnames([output(HOST)], {}, ingress=False)
        RegistryPlatform("rs", load_config(raw)).docker_daemon_json.apply(snippets.append)

    evaluate(build)
    assert snippets and json.loads(snippets[0] or "{}")["insecure-registries"] == [
        "localhost:32000", f"{HOST}:32000"
    ]  # fmt: skip


TOKEN = {"tls": {"mode": "self-signed"},
         "auth": {"enabled": True, "mode": "token",
                  "token_server": {"realm": "https://auth.made.here/auth"},
                  "users": [{"name": "ci", "password": PASSWORD, "role": "admin"}]}}  # fmt: skip


def test_the_token_servers_ingress_routes_the_host_name_given_as_an_output() -> None:
    rec = built(lambda: with_hostnames([output(HOST)], TOKEN))
    spec = rec.named("rs-token-server-ingress").inputs["spec"]
    assert [rule["host"] for rule in spec["rules"]] == [HOST]


def test_a_host_name_that_resolves_to_a_bad_name_ends_the_run_with_its_path() -> None:
    message = failure(lambda: with_hostnames(["plain.made.here", output("not_a_host")]))
    assert message.startswith(
        "invalid stack configuration:\nregstack:registry.hostnames[1]: 'not_a_host' is not an "
        "RFC 1123 host name"
    )


def test_a_host_name_that_resolves_to_a_wildcard_is_refused_at_its_path() -> None:
    message = failure(lambda: with_hostnames([output("*.made.here")]))
    assert "regstack:registry.hostnames[0]: '*.made.here' is a wildcard" in message
    assert "give it as a plain value" in message


def test_a_private_host_name_from_an_output_with_a_public_acme_ca_is_refused_as_a_plain_one() -> (
    None
):
    def config(name: pulumi.Input[str]) -> dict[str, Any]:
        return with_issuer("letsencrypt-prod", with_hostnames([name], {}))

    plain = refusal(config("registry.lab.internal"), "tls.issuer.name")
    message = failure(lambda: config(output("registry.lab.internal")))
    assert message == f"invalid stack configuration:\nregstack:tls.issuer.name: {plain}"


def test_a_host_name_given_as_a_secret_is_refused_rather_than_shown_in_plain() -> None:
    message = failure(lambda: with_hostnames([pulumi.Output.secret(HOST)]))
    assert "regstack:registry.hostnames[0]: is a pulumi secret" in message


@pytest.mark.parametrize(
    ("raw", "path", "says"),
    [
        (HARBOR, "registry.hostnames[0]", "becomes Harbor's externalURL"),
        (
            {**TOKEN, "auth": {**TOKEN["auth"], "token_server": {}}},
            "registry.hostnames[0]",
            "set auth.token_server.realm",
        ),
    ],
    ids=["harbor url", "token realm"],
)
def test_a_host_name_output_where_it_must_be_text_is_refused_before_any_resource(
    raw: dict[str, Any], path: str, says: str
) -> None:
    def check() -> None:
        assert says in refusal(with_hostnames([output(HOST)], raw), path)

    assert evaluate(check).resources == []


def test_the_host_names_given_as_one_output_are_refused_at_the_list_each_may_be_one() -> None:
    def check() -> None:
        message = refusal(with_hostnames(output([HOST])), "registry.hostnames")
        assert "is a pulumi Output" in message

    assert evaluate(check).resources == []
