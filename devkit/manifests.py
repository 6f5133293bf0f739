"""Kubernetes manifests from the mock harness's records, for scanners that read YAML files.

Each registered Kubernetes object is written as it would be sent, with every secret value
replaced by `[secret]` so no scanner report or temp file ever holds one.

Why two renderers. `make render` (devkit/render.py) runs the provider's render mode: exactly what
the provider sends, but it needs the built Pulumi toolchain and takes tens of seconds per stack.
`make scan` and the policy and checkov tests use these mock records: no toolchain, a second per
stack, so `make unit` can scan every stack file; only a Helm chart's objects, which the mocks never
see, come from render mode (`chart_objects`). The two agree on every object regstack itself
registers: tests/e2e/test_render_e2e.py renders through the provider.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from devkit.pulumi_mocks import Recorder, is_secret

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
    """Every Kubernetes object the stack creates; Helm charts are left out (their objects are
    not recorded), and so are objects it only reads (a lent claim, the issued lab CA)."""
    objects = [
        _auto_named(plain(r.inputs), r.name)
        for r in recorder.resources
        if r.type.startswith("kubernetes:")
        and not r.type.startswith("kubernetes:helm.sh/")
        and not r.read_id
    ]
    # apiVersion, kind and metadata first, as people write and read manifests.
    return [{**{k: o[k] for k in HEAD if k in o}, **o} for o in objects]


def _auto_named(manifest: dict[str, Any], logical_name: str) -> dict[str, Any]:
    """An object left unnamed (a cluster-wide one, not to collide between stacks) gets the name
    Pulumi would give it: its logical name and a random suffix, here a fixed one."""
    metadata = manifest.setdefault("metadata", {})
    metadata.setdefault("name", f"{logical_name}-0000000")
    return manifest


def write_manifests(recorder: Recorder, directory: Path) -> list[Path]:
    """One `<kind>-<namespace>-<name>.yaml` per object in `directory`."""
    return write_objects(manifests(recorder), directory)


def chart_objects(stack: str, kubeconfig: Path) -> list[dict[str, Any]]:
    """The Harbor chart's objects of a harbor stack (none for the other backends), rendered by
    the provider (needs the toolchain) from the pinned chart in the vendor directory; the
    chart's `lookup` calls need the API server of `kubeconfig` (they find nothing there)."""
    from devkit.render import (
        offline_overrides,
        render,
        renders_a_chart,
    )  # imports pulumi_kubernetes

    if not renders_a_chart(stack):
        return []
    with tempfile.TemporaryDirectory() as out:
        render(stack, Path(out), offline_overrides(stack), kubeconfig)
        return chart_manifests(Path(out))


def chart_manifests(rendered: Path) -> list[dict[str, Any]]:
    """The Helm chart's objects among the provider's render-mode output (`scripts/render.py`):
    those a chart labels `heritage: Helm`, with every Secret's values redacted."""
    objects = [
        document
        for path in sorted(rendered.rglob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document and document.get("metadata", {}).get("labels", {}).get("heritage") == "Helm"
    ]
    for document in objects:
        if document["kind"] == "Secret":
            for key in ("data", "stringData"):
                if key in document:
                    document[key] = _redacted(document[key])
    return objects


def write_objects(objects: list[dict[str, Any]], directory: Path) -> list[Path]:
    """One `<kind>-<namespace>-<name>.yaml` per object in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for manifest in objects:
        meta = manifest.get("metadata", {})
        stem = "-".join(
            str(p) for p in (manifest["kind"], meta.get("namespace"), meta["name"]) if p
        )
        path = directory / f"{re.sub(r'[^A-Za-z0-9.-]', '_', stem).lower()}.yaml"
        path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths
