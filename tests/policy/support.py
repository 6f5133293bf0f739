"""The stacks' Kubernetes objects and pack config, for the policy tests (the stacks themselves
are devkit/stacks.py's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devkit.pulumi_mocks import Recorder, Registered

ROOT = Path(__file__).resolve().parents[2]


def kubernetes_resources(recorder: Recorder) -> list[Registered]:
    """Kubernetes objects the stack creates: components and Helm charts are not objects the API
    server sees, and an object the stack only reads is not its to judge."""
    return [
        r
        for r in recorder.resources
        if r.type.startswith("kubernetes:")
        and not r.type.startswith("kubernetes:helm.sh/")
        and not r.read_id
    ]


def pack_config(stack: str) -> dict[str, Any]:
    """`policy/config/<stack>.json`, the `--policy-pack-config` of that stack."""
    return json.loads((ROOT / "policy" / "config" / f"{stack}.json").read_text())
