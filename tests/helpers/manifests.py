"""Kubernetes manifests from the mock harness's records, for scanners that read YAML files.

Stands in for the provider's render-to-directory mode (`make render`, later): each registered
Kubernetes object is written as it would be sent, with every secret value replaced by
`[secret]` so no scanner report or temp file ever holds one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.helpers.pulumi_mocks import Recorder, is_secret

REDACTED = "[secret]"


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return REDACTED


def plain(value: Any) -> Any:
    """`value` as YAML: secrets redacted, whole numbers as integers (the wire has only floats)."""
    if is_secret(value):
        return _redacted(value["value"])
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


HEAD = ("apiVersion", "kind", "metadata")


def manifests(recorder: Recorder) -> list[dict[str, Any]]:
    """Every Kubernetes object; Helm charts are left out (their objects are not recorded)."""
    objects = [
        plain(r.inputs)
        for r in recorder.resources
        if r.type.startswith("kubernetes:") and not r.type.startswith("kubernetes:helm.sh/")
    ]
    # apiVersion, kind and metadata first, as people write and read manifests.
    return [{**{k: o[k] for k in HEAD if k in o}, **o} for o in objects]


def write_manifests(recorder: Recorder, directory: Path) -> list[Path]:
    """One `<kind>-<namespace>-<name>.yaml` per object in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for manifest in manifests(recorder):
        meta = manifest.get("metadata", {})
        stem = "-".join(
            str(p) for p in (manifest["kind"], meta.get("namespace"), meta["name"]) if p
        )
        path = directory / f"{re.sub(r'[^A-Za-z0-9.-]', '_', stem).lower()}.yaml"
        path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths
