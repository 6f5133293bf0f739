"""Values other than secrets given as Pulumi Outputs (a ClusterIssuer or a Namespace made in the
same program): each ends in the resources that use it, is checked when it resolves with its path,
and a plain value renders as before (components/config/deferred.py, `MayBeOutput`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.config import load_config
from components.platform import RegistryPlatform
from devkit.pulumi_mocks import Recorder, StackState, evaluate, plain_strings

ISSUER = {"mode": "issuer", "issuer": {"name": "lab-issuer", "kind": "ClusterIssuer"}}
PLACEHOLDERS = ("regstack-issuer-output",)


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
    rec = evaluate(
        lambda: RegistryPlatform("rs", load_config(issuer_config(an_output("made-here")())))
    )
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
