"""Stacks under the mock harness, and their pack config, for the policy tests."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from components.stack_config import read_stack_file
from tests.helpers.pulumi_mocks import Recorder, Registered, run_program

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dev", "prod", "prod-distribution", "prod-s3")
# Stack file of each stack; its pack config is policy/config/<stack>.json.
STACK_FILES = {"dev": ROOT / "Pulumi.dev.yaml", "prod": ROOT / "Pulumi.prod.yaml",
               "prod-distribution": ROOT / "examples" / "Pulumi.prod-distribution.yaml",
               "prod-s3": ROOT / "examples" / "Pulumi.prod-s3.yaml"}  # fmt: skip
# Long enough for harbor.secret_seed (32+) and short enough for bcrypt (72 bytes at most).
DUMMY_SECRET = "policy-test-dummy-secret-0123456789abcdef"


@cache
def stack_program(stack: str) -> Recorder:
    """The stack's program evaluated once under mocks (evaluation costs about a second)."""
    return run_program(read_stack_file(STACK_FILES[stack], secret=DUMMY_SECRET))


def kubernetes_resources(recorder: Recorder) -> list[Registered]:
    """Kubernetes objects only: components and Helm charts are not objects the API server sees."""
    return [
        r
        for r in recorder.resources
        if r.type.startswith("kubernetes:") and not r.type.startswith("kubernetes:helm.sh/")
    ]


def pack_config(stack: str) -> dict[str, Any]:
    """`policy/config/<stack>.json`, the `--policy-pack-config` of that stack."""
    return json.loads((ROOT / "policy" / "config" / f"{stack}.json").read_text())
