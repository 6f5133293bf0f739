"""Values other than secrets given as Pulumi Outputs (a ClusterIssuer or a Namespace made in the
same program): each ends in the resources that use it, is checked when it resolves with its path,
and a plain value renders as before (components/config/deferred.py, `MayBeOutput`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
import yaml

from components.config import ConfigError, load_config
from components.platform import RegistryPlatform
from devkit.pulumi_mocks import Recorder, StackState, evaluate, plain_strings, unwrap

ISSUER = {"mode": "issuer", "issuer": {"name": "lab-issuer", "kind": "ClusterIssuer"}}
PLACEHOLDERS = ("regstack-issuer-output", "regstack-namespace-output", "regstack-bucket-output",
                "regstack-endpoint-output")  # fmt: skip
PASSWORD = "correct-horse-battery"
# Every part that names the namespace: the certificate, pull secrets, GC's protection and the
# retention job (both dial the registry's Service), local-registry-hosting.
FULL = {"profile": "dev", "tls": {"mode": "self-signed"},
        "auth": {"enabled": True, "users": [{"name": "dev", "password": PASSWORD}]},
        "pull_secrets": {"namespaces": ["apps"]},
        "retention": {"enabled": True, "rules": [{"repositories": ["team/*"], "keep_last": 5}]},
        "registry": {"advertise": True}}  # fmt: skip
SERVICE = "registry.made-here.svc.cluster.local:5000"


def platform_with(raw: dict[str, Any], stack: StackState | None = None) -> Recorder:
    """What the platform registers for the plain config `raw`."""
    return evaluate(lambda: RegistryPlatform("rs", load_config(raw)), stack=stack)


def rendered(rec: Recorder) -> dict[str, str]:
    """Each resource's type and inputs by name, whatever order they were registered in; a
    dynamic resource's inputs hold its provider pickled anew on each run, so only its type."""
    return {
        r.name: r.type if r.type.startswith("pulumi-python:dynamic")
        else json.dumps([r.type, r.inputs], sort_keys=True)
        for r in rec.resources
    }  # fmt: skip


def an_output(value: str) -> Callable[[], pulumi.Output[str]]:
    """`value` as another resource's output would come: made when the program runs."""
    return lambda: pulumi.Output.from_input(value)


def failure(raw: Callable[[], dict[str, Any]]) -> str:
    with pytest.raises(pulumi.RunError) as raised:
        evaluate(lambda: RegistryPlatform("rs", load_config(raw())))
    return str(raised.value)


def with_namespace(namespace: pulumi.Input[str], raw: dict[str, Any] = FULL) -> dict[str, Any]:
    return {**raw, "registry": {**raw.get("registry", {}), "namespace": namespace}}


def with_bucket(
    bucket: pulumi.Input[str], endpoint: pulumi.Input[str], raw: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`raw` keeping its images in the bucket at `endpoint` (keys from the pod's identity)."""
    raw = raw if raw is not None else {}
    s3 = {"bucket": bucket, "endpoint": endpoint}
    return {**raw, "registry": {**raw.get("registry", {}), "storage": {"type": "s3", "s3": s3}}}


def issuer_config(name: pulumi.Input[str]) -> dict[str, Any]:
    return {"tls": {**ISSUER, "issuer": {**ISSUER["issuer"], "name": name}}}


def test_an_issuer_name_given_as_an_output_is_the_serving_certificates_issuer() -> None:
    rec = evaluate(
        lambda: RegistryPlatform("rs", load_config(issuer_config(an_output("made-here")())))
    )
    spec = rec.named("rs-certificate-tls").inputs["spec"]
    assert spec["issuerRef"] == {"name": "made-here", "kind": "ClusterIssuer",
                                 "group": "cert-manager.io"}  # fmt: skip


def test_an_issuer_name_that_resolves_to_a_bad_name_ends_the_run_with_its_path() -> None:
    message = failure(lambda: issuer_config(pulumi.Output.from_input("Not_An_Issuer")))
    assert message.startswith(
        "invalid stack configuration:\nregstack:tls.issuer.name: 'Not_An_Issuer' is not "
    )


def test_an_issuer_name_that_resolves_to_a_public_acme_ca_is_refused_at_its_path() -> None:
    message = failure(lambda: issuer_config(pulumi.Output.from_input("letsencrypt-prod")))
    assert "regstack:tls.issuer.name: 'letsencrypt-prod' looks like a public ACME CA" in message
    assert "give tls.issuer.name as a plain value" in message


def test_an_issuer_name_given_as_a_secret_is_refused_rather_than_shown_in_plain() -> None:
    message = failure(lambda: issuer_config(pulumi.Output.secret("lab-issuer")))
    assert "regstack:tls.issuer.name: is a pulumi secret, but this value is shown in plain" in (
        message
    )


def test_a_plain_issuer_name_renders_the_same_resources_as_the_same_name_given_as_an_output() -> (
    None
):
    stack = StackState()  # one stack: the same stack key, so the same derived values
    plain = platform_with(issuer_config("lab-issuer"), stack)
    given = evaluate(
        lambda: RegistryPlatform("rs", load_config(issuer_config(an_output("lab-issuer")()))),
        stack=stack,
    )
    assert rendered(given) == rendered(plain)


def test_no_resource_holds_the_placeholder_that_stood_in_for_an_output() -> None:
    def build() -> None:
        raw = with_namespace(an_output("made-here")(), issuer_config(an_output("made-here")()))
        raw = with_bucket(an_output("made-here")(), an_output("https://s3.made.here")(), raw)
        RegistryPlatform("rs", load_config({**FULL, **raw}))

    rec = evaluate(build)
    found = [(r.name, s) for r in rec.resources for s in plain_strings(r.inputs)
             if any(p in s for p in PLACEHOLDERS)]  # fmt: skip
    assert found == []


def test_reading_an_output_value_as_text_raises_rather_than_using_its_placeholder() -> None:
    def build() -> None:
        cfg = load_config(issuer_config(pulumi.Output.from_input("made-here")))
        assert cfg.tls.issuer is not None
        f"{cfg.tls.issuer.name}"

    with pytest.raises(TypeError, match=r"outputs\.input_of"):
        evaluate(build)


def built_in(namespace: str, raw: dict[str, Any] = FULL) -> Recorder:
    """What the platform registers for `raw` with its namespace given as an Output."""
    return evaluate(lambda: RegistryPlatform("rs", load_config(with_namespace(
        pulumi.Output.from_input(namespace), raw))))  # fmt: skip


def test_a_namespace_given_as_an_output_is_the_one_regstack_creates_and_deploys_into() -> None:
    rec = built_in("made-here")
    assert rec.named("rs-namespace").inputs["metadata"]["name"] == "made-here"
    assert rec.named("rs-registry-deployment").inputs["metadata"]["namespace"] == "made-here"


def test_the_certificate_names_the_service_in_the_namespace_given_as_an_output() -> None:
    names = built_in("made-here").named("rs-certificate-tls").inputs["spec"]["dnsNames"]
    assert names == ["registry", "registry.made-here", "registry.made-here.svc",
                     "registry.made-here.svc.cluster.local", "localhost"]  # fmt: skip


def test_pull_secrets_authenticate_the_service_in_the_namespace_given_as_an_output() -> None:
    data = unwrap(built_in("made-here").named("rs-auth-pull-apps").inputs["stringData"])
    hosts = json.loads(data[".dockerconfigjson"])["auths"]
    assert sorted(hosts) == ["localhost:32000", SERVICE, "registry.made-here.svc:5000"]


def test_gc_and_retention_dial_the_service_in_the_namespace_given_as_an_output() -> None:
    rec = built_in("made-here")
    job = rec.named("rs-retention-cronjob").inputs["spec"]["jobTemplate"]["spec"]["template"]
    assert f"--registry=https://{SERVICE}" in job["spec"]["containers"][0]["command"]
    gc = rec.named("rs-gc-cronjob").inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert f"--protect-registry=https://{SERVICE}" in gc["initContainers"][0]["args"][0]


def test_without_a_host_name_the_endpoint_is_the_service_in_the_namespace_given_as_an_output() -> (
    None
):
    endpoints: list[str] = []

    def build() -> None:
        raw = with_namespace(pulumi.Output.from_input("made-here"), {})
        raw["registry"]["service"] = {"type": "ClusterIP"}
        RegistryPlatform("rs", load_config(raw)).endpoint.apply(endpoints.append)

    evaluate(build)
    assert endpoints == [SERVICE]


def test_a_namespace_that_resolves_to_a_bad_name_ends_the_run_with_its_path() -> None:
    message = failure(lambda: with_namespace(pulumi.Output.from_input("Not_A_Namespace")))
    assert message.startswith(
        "invalid stack configuration:\nregstack:registry.namespace: 'Not_A_Namespace' is not "
    )


def test_a_namespace_given_as_a_secret_is_refused_rather_than_shown_in_plain() -> None:
    message = failure(lambda: with_namespace(pulumi.Output.secret("made-here")))
    assert "regstack:registry.namespace: is a pulumi secret" in message


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"backend": "harbor"}, "only the distribution backend takes (not harbor yet)"),
        ({"monitoring": {"enabled": True}}, "or set monitoring.enabled: false"),
        ({"registry": {"cache": {"redis": "deploy"}}}, "registry.cache.redis to external or none"),
    ],
    ids=["harbor", "monitoring", "deployed cache"],
)
def test_a_namespace_output_where_a_part_needs_it_as_text_is_refused_before_any_resource(
    raw: dict[str, Any], says: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(with_namespace(pulumi.Output.from_input("made-here"), raw))
    # Harbor's own required keys are missing too: only the namespace's problem matters here.
    about = [p.message for p in raised.value.problems if p.path == "registry.namespace"]
    assert len(about) == 1 and says in about[0]


def test_a_plain_namespace_renders_the_same_resources_as_the_same_namespace_given_as_an_output() -> (
    None
):
    stack = StackState()
    plain = platform_with(with_namespace("made-here"), stack)
    given = evaluate(
        lambda: RegistryPlatform("rs", load_config(with_namespace(an_output("made-here")()))),
        stack=stack,
    )
    assert rendered(given) == rendered(plain)


def config_yml(rec: Recorder) -> dict[str, Any]:
    return dict(yaml.safe_load(rec.named("rs-registry-config").inputs["data"]["config.yml"]))


def with_bucket_outputs(bucket: str, endpoint: str) -> Recorder:
    """What the platform registers with the bucket and its endpoint given as Outputs."""
    return evaluate(lambda: RegistryPlatform("rs", load_config(with_bucket(
        pulumi.Output.from_input(bucket), pulumi.Output.from_input(endpoint)))))  # fmt: skip


def test_a_bucket_and_its_endpoint_given_as_outputs_are_in_the_registrys_config_file() -> None:
    driver = config_yml(with_bucket_outputs("made-here", "https://s3.made.here:9000"))["storage"]
    assert (driver["s3"]["bucket"], driver["s3"]["regionendpoint"], driver["s3"]["secure"]) == (
        "made-here",
        "https://s3.made.here:9000",
        True,
    )


def test_an_endpoint_given_as_an_output_loses_its_trailing_slash_as_a_plain_one_does() -> None:
    driver = config_yml(with_bucket_outputs("made-here", "https://s3.made.here/"))["storage"]
    assert driver["s3"]["regionendpoint"] == "https://s3.made.here"


def test_a_bucket_that_resolves_to_a_bad_name_ends_the_run_with_its_path() -> None:
    message = failure(lambda: with_bucket(pulumi.Output.from_input("Bad_Bucket"), "https://s3.lab"))
    assert message.startswith(
        "invalid stack configuration:\nregstack:registry.storage.s3.bucket: must be an S3 bucket"
    )


def test_an_endpoint_that_resolves_to_plain_http_is_refused_at_its_path() -> None:
    message = failure(lambda: with_bucket("blobs", pulumi.Output.from_input("http://s3.lab")))
    assert "regstack:registry.storage.s3.endpoint: 'http://s3.lab' is plain HTTP" in message
    assert "give an http endpoint as a plain value" in message


def test_a_bucket_output_with_the_harbor_backend_is_refused_before_any_resource() -> None:
    raw = with_bucket(
        pulumi.Output.from_input("made-here"), "https://s3.lab", {"backend": "harbor"}
    )
    with pytest.raises(ConfigError) as raised:
        load_config(raw)
    about = [p.message for p in raised.value.problems if p.path == "registry.storage.s3.bucket"]
    assert len(about) == 1 and "only the distribution backend takes (not harbor yet)" in about[0]


def test_a_plain_bucket_and_endpoint_render_the_same_resources_as_the_same_given_as_outputs() -> (
    None
):
    stack = StackState()
    plain = platform_with(with_bucket("made-here", "https://s3.made.here"), stack)
    given = evaluate(
        lambda: RegistryPlatform("rs", load_config(with_bucket(
            an_output("made-here")(), an_output("https://s3.made.here")()))),
        stack=stack,
    )  # fmt: skip
    assert rendered(given) == rendered(plain)


def unknown() -> pulumi.Output[str]:
    """An Output whose value a preview does not know yet (a resource still to be created)."""
    loop = asyncio.get_event_loop()
    value, known = loop.create_future(), loop.create_future()
    value.set_result(None)
    known.set_result(False)
    return pulumi.Output(set(), value, known)


def test_a_preview_with_every_output_value_unknown_registers_the_same_resources() -> None:
    def with_all(value: Callable[[str], pulumi.Output[str]]) -> dict[str, Any]:
        raw = with_namespace(value("made-here"), issuer_config(value("made-here")))
        return {**FULL, **with_bucket(value("made-here"), value("https://s3.made.here"), raw)}

    previewed = evaluate(
        lambda: RegistryPlatform("rs", load_config(with_all(lambda _: unknown()))), preview=True
    )
    applied = evaluate(
        lambda: RegistryPlatform("rs", load_config(with_all(pulumi.Output.from_input)))
    )
    assert sorted(r.name for r in previewed.resources) == sorted(r.name for r in applied.resources)
