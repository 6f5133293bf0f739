"""Golden test: every resource RegistryPlatform registers, for a set of representative stacks,
is exactly what the snapshot `platform_golden.json` recorded.

It pins behaviour for the restructuring of components/platform.py (issue 24, "end platform.py as
the hall every change crosses": addresses computed once, one value the registry hands to GC and
retention). The snapshot was taken from main's code (3caf979) before that restructuring began;
each refactor commit keeps it identical. For each stack it holds every registered resource by
URN (type, name and parent chain), with its inputs (a secret as {"<secret>": value}: still
secret, and the same value), its resource options (protect, dependencies, provider, ignore
changes...) and the platform's outputs. A change of behaviour fails here with the first path
that differs; one meant to happen rewrites the snapshot with `python -m
tests.unit.test_platform_golden` and says so in its commit.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from hashlib import sha256
from pathlib import Path
from typing import Any

import pulumi
import pytest
from google.protobuf.json_format import MessageToDict

from components.config import load_config
from components.platform import RegistryPlatform
from components.registry import PLATFORM_OUTPUTS
from components.stack_config import read_stack_file
from devkit.pulumi_mocks import (
    DYNAMIC_PROVIDER_KEY,
    Recorder,
    StackState,
    evaluate,
    is_secret,
    unwrap,
)
from devkit.stacks import DUMMY_SECRET, LAB_CA_ISSUED, stack_file
from tests.harbor.support import BASE as HARBOR
from tests.unit.test_output_values import (
    FULL,
    LAB_CA,
    every,
    harbor,
    with_hostnames,
    with_namespace,
)

SNAPSHOT = Path(__file__).with_name("platform_golden.json")
PASSWORD = "golden-password-0123"
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlaceholderHostKeyOfNode1ReplaceMe0000"
Given = Callable[[str], pulumi.Input[str]]


def stack(name: str) -> Callable[[Given], dict[str, Any]]:
    """A committed stack file, its secrets set to one stand-in."""
    return lambda _: read_stack_file(stack_file(name), secret=DUMMY_SECRET)


def plain(raw: dict[str, Any]) -> Callable[[Given], dict[str, Any]]:
    return lambda _: raw


def outputs(config: Callable[[Given], dict[str, Any]]) -> Callable[[Given], dict[str, Any]]:
    """`config` with its values given as Outputs (made inside the program)."""
    return lambda _: config(pulumi.Output.from_input)


# fmt: off
MAINTENANCE = {
    "retention": {"enabled": True, "apply": True, "rules": [{"repositories": ["team/**"],
                                                              "keep_last": 3}]},
    "gc": {"delete_untagged": True, "schedule": "0 3 * * *"},
    "monitoring": {"enabled": True},
}
USERS = {"enabled": True, "users": [{"name": "dev", "password": PASSWORD},
                                    {"name": "ops", "password": PASSWORD}]}
TOKEN_USERS = {"enabled": True, "mode": "token",
               "users": [{"name": "ci", "role": "push", "repositories": ["apps/*"],
                          "password": PASSWORD},
                         {"name": "keeper", "role": "maintenance", "password": PASSWORD}]}
CASES: dict[str, Callable[[Given], dict[str, Any]]] = {
    # The committed stacks: the lab (dev), production Harbor, and every documented variant.
    **{name: stack(name) for name in ("dev", "prod", "prod-distribution", "prod-s3", "lab",
                                      "addon", "takeover", "mirror")},
    "addon-local-with-gc": plain({"backend": "microk8s-addon"}),
    "self-signed-maintenance": plain({
        "profile": "dev", "tls": {"mode": "self-signed"}, "auth": USERS,
        "retention": {**MAINTENANCE["retention"], "user": "ops"},
        "gc": MAINTENANCE["gc"], "monitoring": MAINTENANCE["monitoring"],
        "registry": {"cache": {"redis": "deploy", "password": PASSWORD}, "advertise": True},
    }),
    "public-ca-maintenance": plain({
        "profile": "prod", "tls": {"mode": "issuer", "issuer": {"name": "letsencrypt-prod"}},
        "auth": TOKEN_USERS, "pull_secrets": {"namespaces": ["apps", "web"]}, **MAINTENANCE,
        "registry": {"hostnames": ["registry.example.com", "*.example.com"],
                     "ingress": {"enabled": True}, "service": {"type": "ClusterIP"},
                     "storage": {"type": "s3", "s3": {
                         "bucket": "blobs", "endpoint": "https://s3.example.com",
                         "access_key": "AKIDEXAMPLE", "secret_key": PASSWORD,
                         "ca_bundle": LAB_CA}}},
    }),
    "token-node-port-no-hostname": plain({
        "profile": "dev", "tls": {"mode": "self-signed"},
        "auth": {**TOKEN_USERS, "token_server": {"realm": "https://tokens.lab.example/auth"}},
        "pull_secrets": {"namespaces": ["apps"]}, "retention": MAINTENANCE["retention"],
    }),
    "cluster-ip-plain-http": plain({
        "profile": "dev", "tls": {"mode": "none"}, "registry": {
            "service": {"type": "ClusterIP"}, "advertise": True,
            "cache": {"redis": "external", "address": "redis.shared.svc:6379"},
            "http_secret": PASSWORD},
        "gc": {"delete_untagged": True}, "retention": MAINTENANCE["retention"],
    }),
    "load-balancer-hostname": plain({
        "profile": "prod", "tls": {"mode": "self-signed", "dns_names": ["alias.example.com"],
                                   "ip_addresses": ["10.0.0.5"]},
        "auth": {**TOKEN_USERS, "token_server": {"realm": "https://auth.example.com/auth"}},
        "registry": {"service": {"type": "LoadBalancer"}, "hostnames": ["registry.example.com"],
                     "create_namespace": False},
        "node_trust": {"nodes": [{"host": "node1.lab", "host_key": HOST_KEY}],
                       "private_key": PASSWORD, "endpoints": ["10.0.0.5:5000"]},
    }),
    "harbor-node-port-self-signed": plain({
        **HARBOR, "profile": "dev", "tls": {"mode": "self-signed"},
        "harbor": {**HARBOR["harbor"], "expose": {"type": "nodePort"}},
        "node_trust": {"nodes": [{"host": "node1.lab"}], "private_key": PASSWORD},
    }),
    "harbor-cluster-ip-plain-http": plain({
        **HARBOR, "profile": "dev", "tls": {"mode": "none"}, "registry": {},
        "harbor": {**HARBOR["harbor"], "expose": {"type": "clusterIP"}},
    }),
    # Values given as Outputs: namespace, host names, issuer, bucket, endpoint, CA.
    "outputs-everything": outputs(every),
    "outputs-harbor": outputs(harbor),
    "outputs-namespace-maintenance": lambda given: with_namespace(
        given("made-here"), {**FULL, "gc": MAINTENANCE["gc"]}),
    "outputs-hostname-node-port": lambda given: with_hostnames(
        [given("registry.made.here")], ingress=False, raw={
            **FULL, "node_trust": {"nodes": [{"host": "node1.lab"}], "private_key": PASSWORD}}),
}
# fmt: on


class FixedKeys(StackState):
    """A stack whose random keys are each a digest of their resource's name: the same on every
    run, so that what they key (htpasswd salts, rollout checksums, http.secret) is too."""

    def outputs(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        props = {k: v for k, v in inputs.items() if k != DYNAMIC_PROVIDER_KEY}
        return f"{name}-id", {**props, "key": sha256(name.encode()).hexdigest()}


LONG = 2000
"""Longer texts (the job's code and the dashboard, mounted from this repository's files) are kept
as their digest: still pinned, without copying the sources into the snapshot for every case."""


def value(item: Any) -> Any:
    """An input as JSON: a secret as {"<secret>": its value}, a long text as its digest."""
    if isinstance(item, str) and len(item) > LONG:
        return {"<sha256>": sha256(item.encode()).hexdigest(), "<chars>": len(item)}
    if is_secret(item):
        return {"<secret>": value(unwrap(item))}
    if isinstance(item, dict):
        return {str(k): value(v) for k, v in item.items()}
    if isinstance(item, list | tuple):
        return [value(v) for v in item]
    if item is None or isinstance(item, str | int | float | bool):
        return item
    raise TypeError(f"an input the snapshot cannot hold: {item!r}")


# What the URN and inputs already say, what the SDK sends on every registration (`version`: the
# provider plugin its own release asks for, which `make test-newest` moves), and where in the
# program the registration ran.
NOT_OPTIONS = {"type", "name", "parent", "object", "acceptResources", "acceptSecrets", "hooks",
               "supportsPartialValues", "supportsResultReporting", "sourcePosition", "stackTrace",
               "parentStackTraceHandle", "transforms", "version"}  # fmt: skip


def options(request: Any) -> dict[str, Any]:
    found = MessageToDict(request, preserving_proto_field_name=True)
    kept = {k: v for k, v in found.items() if k not in NOT_OPTIONS}
    if "dependencies" in kept:
        kept["dependencies"] = sorted(kept["dependencies"])
    for deps in kept.get("propertyDependencies", {}).values():
        deps["urns"] = sorted(deps.get("urns", []))
    return kept


def rendered(rec: Recorder, platform_outputs: dict[str, Any]) -> dict[str, Any]:
    """Every resource by URN, and the platform's outputs."""
    urns = {u.rsplit("::", 1)[1]: u for u in rec.urns}
    resources: dict[str, Any] = {}
    for registered in rec.resources:
        urn = urns[registered.name]
        dynamic = registered.type.startswith("pulumi-python:dynamic")
        resources[urn] = {
            # A dynamic resource's inputs hold its provider pickled and the key drawn anew.
            "inputs": None if dynamic else value(registered.inputs),
            "read_id": registered.read_id,
            # A read (`Resource.get`) is no registration: it has no options.
            "options": options(rec.requests[urn]) if urn in rec.requests else None,
        }
    return {"resources": dict(sorted(resources.items())), "outputs": platform_outputs}


def render(case: str) -> dict[str, Any]:
    """What RegistryPlatform `rs` registers and outputs for the case's config."""
    probe: dict[str, Any] = {}

    def build() -> None:
        platform = RegistryPlatform("rs", load_config(CASES[case](str)))
        # The outputs as one resource's inputs: the mocks record them, secrets marked.
        probe["outputs"] = pulumi.CustomResource(
            "golden:index:Outputs", "platform-outputs",
            {name: getattr(platform, name) for name in PLATFORM_OUTPUTS},
        )  # fmt: skip

    rec = evaluate(build, existing=LAB_CA_ISSUED, stack=FixedKeys())
    probe_urn = next(u for u in rec.urns if u.endswith("::platform-outputs"))
    (outputs_resource,) = rec.of_type("golden:index:Outputs")
    rec.resources.remove(outputs_resource)
    rec.urns.remove(probe_urn)
    return rendered(rec, value(outputs_resource.inputs))


def snapshot() -> dict[str, Any]:
    return json.loads(SNAPSHOT.read_text())


def first_difference(expected: Any, actual: Any, path: str = "") -> str | None:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(expected.keys() | actual.keys()):
            if key not in actual or key not in expected:
                return f"{path}/{key}: only in the {'snapshot' if key in expected else 'run'}"
            found = first_difference(expected[key], actual[key], f"{path}/{key}")
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (e, a) in enumerate(zip(expected, actual, strict=True)):
            found = first_difference(e, a, f"{path}[{index}]")
            if found:
                return found
        return None
    return None if expected == actual else f"{path}: snapshot {expected!r}, run {actual!r}"


def test_the_snapshot_holds_every_case_and_nothing_else() -> None:
    assert sorted(snapshot()) == sorted(CASES)


@pytest.mark.parametrize("case", CASES)
def test_the_platform_registers_exactly_what_the_snapshot_recorded(case: str) -> None:
    expected = snapshot()[case]
    difference = first_difference(expected, json.loads(json.dumps(render(case))))
    assert difference is None, difference


def write_snapshot() -> None:
    """Rewrite the snapshot from the code as it is: only for a change of behaviour meant to
    happen, said in its commit."""
    cases = {case: render(case) for case in CASES}
    SNAPSHOT.write_text(json.dumps(cases, indent=1, sort_keys=True) + "\n")
    print(f"{SNAPSHOT}: {len(cases)} cases", file=sys.stderr)


if __name__ == "__main__":
    write_snapshot()
