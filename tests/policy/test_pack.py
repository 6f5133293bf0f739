"""The policy pack process itself, spoken to over gRPC as the engine does (no engine needed)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from tests.policy.bad_stack import BAD_RESOURCES
from tests.policy.manifests import DEPLOYMENT, SAFE_CONTEXT, container, deployment
from tests.policy.support import ROOT, pack_config


@pytest.fixture(scope="module")
def pack() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """`policy/__main__.py` serving; like the engine, read its port from its first line."""
    process = subprocess.Popen(
        [sys.executable, "__main__.py"], cwd=ROOT / "policy", stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.terminate()
        process.wait(timeout=30)


def struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def configure(pack: analyzer_pb2_grpc.AnalyzerStub, stack: str) -> None:
    """What the engine sends: every policy's level, with the stack's properties."""
    info = pack.GetAnalyzerInfo(empty_pb2.Empty())
    config = pack_config(stack)
    pack.Configure(
        analyzer_pb2.ConfigureAnalyzerRequest(
            policyConfig={
                p.name: analyzer_pb2.PolicyConfig(
                    enforcementLevel=p.enforcementLevel, properties=struct(config.get(p.name, {}))
                )
                for p in info.policies
            }
        )
    )


def analyze(
    pack: analyzer_pb2_grpc.AnalyzerStub, resource_type: str, props: dict[str, Any]
) -> list[analyzer_pb2.AnalyzeDiagnostic]:
    request = analyzer_pb2.AnalyzeRequest(type=resource_type, properties=struct(props), name="x")
    return list(pack.Analyze(request).diagnostics)


def test_the_pack_is_named_regstack_and_serves_the_engine_visible_rules(
    pack: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    info = pack.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "regstack"
    assert [p.name for p in info.policies] == [
        "registry-images", "prod-image-tags", "namespace-layout", "restricted-pod-security",
        "resource-limits", "read-only-root-filesystem"]  # fmt: skip


def test_the_pack_declares_namespaces_advisory_and_the_rest_mandatory(
    pack: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    levels = {p.name: p.enforcementLevel for p in pack.GetAnalyzerInfo(empty_pb2.Empty()).policies}
    assert levels.pop("namespace-layout") == analyzer_pb2.ADVISORY
    assert set(levels.values()) == {analyzer_pb2.MANDATORY}


def test_the_pack_publishes_its_config_schema_with_defaults(
    pack: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    (images,) = [p for p in pack.GetAnalyzerInfo(empty_pb2.Empty()).policies
                 if p.name == "registry-images"]  # fmt: skip
    prefixes = images.configSchema.properties["allowed_image_prefixes"]
    assert "docker.io/goharbor/" in list(prefixes["default"])


def test_the_pack_refuses_the_bad_deployment_with_how_to_fix_messages(
    pack: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    configure(pack, "prod")
    resource_type, props = BAD_RESOURCES[0]
    messages = [d.message for d in analyze(pack, resource_type, props)]
    assert any("push it there and reference registry.example.com/nginx:" in m for m in messages)
    assert any("uses latest" in m for m in messages)
    assert any("volume docker is a hostPath" in m for m in messages)


def test_the_pack_reads_numbers_as_the_engine_sends_them(
    pack: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    """protobuf carries every number as a double: runAsUser 0 arrives as 0.0, and still is root."""
    configure(pack, "dev")
    props = deployment(container(securityContext={**SAFE_CONTEXT, "runAsUser": 0},
                                 ports=[{"containerPort": 8080, "hostPort": 8080}]))  # fmt: skip
    messages = [d.message for d in analyze(pack, DEPLOYMENT, props)]
    assert any("container app: securityContext.runAsUser: 0 runs as root" in m for m in messages)
    assert any("remove ports[0].hostPort: 8080 (reach" in m for m in messages)
