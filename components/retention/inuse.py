"""The in-use inventory: every image the cluster runs or may start, which neither retention nor
garbage collection may delete.

References come from files (one per line, or a JSON list: the images of other clusters) and
from the Kubernetes API, read-only (`list` on the kinds in WORKLOADS), with the Pod's own
ServiceAccount token.  Pods alone are not enough: a CronJob between runs, a Deployment scaled
to zero, a suspended Job or a DaemonSet without a matching node has no Pod, yet starts one the
moment it is scheduled, so every pod template counts as in use.

Fail closed: any answer the inventory cannot read in full (403, a timeout, a page that is not a
list of objects) raises, and the caller deletes nothing.  A partial inventory would look like
"nothing in use" for whatever it missed.

Hosts are ignored when matching: a Pod may pull the registry under another name than the
engine uses (a Service name inside the cluster, an ingress name outside), and keeping too much
is the safe mistake.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..images import split_reference
from .http import HttpClient, HttpError, MiB
from .plan import InUse
from .registry import Manifest, Registry

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
PAGE_LIMIT = 16 * MiB
# (API group, version, resource, where the pod spec sits in one object).  The in-use reader's
# ClusterRole is built from this list (components/kube.py), so RBAC and reads never drift.
WORKLOADS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("", "v1", "pods", ("spec",)),
    ("apps", "v1", "deployments", ("spec", "template", "spec")),
    ("apps", "v1", "statefulsets", ("spec", "template", "spec")),
    ("apps", "v1", "daemonsets", ("spec", "template", "spec")),
    ("apps", "v1", "replicasets", ("spec", "template", "spec")),
    ("batch", "v1", "jobs", ("spec", "template", "spec")),
    ("batch", "v1", "cronjobs", ("spec", "jobTemplate", "spec", "template", "spec")),
)


class InventoryError(HttpError):
    """The cluster could not be read in full: nothing may be deleted on this inventory."""


def parse_reference(reference: str) -> tuple[str | None, str | None, str | None]:
    """(repository, tag, digest) of an image reference or a container status imageID."""
    ref = reference.strip()
    for prefix in ("docker-pullable://", "docker://"):
        ref = ref.removeprefix(prefix)
    name, _, digest = ref.partition("@")
    if not name and digest:
        return None, None, digest
    if name.startswith("sha256:"):
        return None, None, name
    _, repository, tag, digest_or_none = split_reference(ref, default_registry=None)
    if tag is None and digest_or_none is None:
        tag = "latest"
    return repository or None, tag, digest_or_none or None


def in_use_from_references(references: Iterable[str]) -> InUse:
    tags: set[tuple[str, str]] = set()
    digests: set[str] = set()
    pinned: set[tuple[str, str]] = set()
    for reference in references:
        repository, tag, digest = parse_reference(reference)
        if repository and tag:
            tags.add((repository, tag))
        if digest:
            digests.add(digest)
            if repository:
                pinned.add((repository, digest))
    return InUse(frozenset(tags), frozenset(digests), frozenset(pinned))


def merged(*parts: InUse) -> InUse:
    return InUse(
        frozenset().union(*(p.tags for p in parts)),
        frozenset().union(*(p.digests for p in parts)),
        frozenset().union(*(p.pinned for p in parts)),
    )


def load_in_use_file(path: str | Path) -> InUse:
    text = Path(path).read_text()
    if text.lstrip().startswith("["):
        references = json.loads(text)
    else:
        references = [line for line in text.splitlines() if line.strip()]
        references = [line for line in references if not line.lstrip().startswith("#")]
    return in_use_from_references(references)


def load_in_use_dir(directory: str | Path) -> InUse:
    """Every file of a directory (a mounted ConfigMap: one key per other cluster)."""
    files = [p for p in sorted(Path(directory).iterdir()) if p.is_file()]
    return merged(InUse(), *(load_in_use_file(p) for p in files if not p.name.startswith(".")))


def cluster_api_url() -> str:
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def fetch_in_use_from_cluster(http: HttpClient, api_url: str, token: str) -> InUse:
    """Every image in Pods and pod templates of all namespaces; raises InventoryError (or the
    client's HttpError) when any list cannot be read in full."""
    return in_use_from_references(_cluster_images(http, api_url.rstrip("/"), token))


def _cluster_images(http: HttpClient, api_url: str, token: str) -> Iterator[str]:
    for group, version, resource, spec_path in WORKLOADS:
        prefix = f"{api_url}/apis/{group}/{version}" if group else f"{api_url}/api/{version}"
        for item in _list(http, f"{prefix}/{resource}", token):
            yield from _images_of(item, spec_path)


def _list(http: HttpClient, url: str, token: str) -> Iterator[dict[str, Any]]:
    cont = ""
    while True:
        # 100 objects (with their managedFields) stay far below the body limit and the job's
        # 256Mi once parsed; 500 could exceed both on a busy cluster.
        query = urllib.parse.urlencode({"limit": 100, **({"continue": cont} if cont else {})})
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        response = http.send(
            "GET", f"{url}?{query}", kind="kubernetes", headers=headers, limit=PAGE_LIMIT
        )
        if response.status != 200:
            raise InventoryError(f"GET {url}: HTTP {response.status}: cannot see what is in use")
        page = response.json()
        items = page.get("items") if isinstance(page, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise InventoryError(f"GET {url}: not a list of objects: cannot see what is in use")
        yield from items
        cont = (page.get("metadata") or {}).get("continue") or ""
        if not cont:
            return


def _images_of(item: dict[str, Any], spec_path: tuple[str, ...]) -> Iterator[str]:
    spec: Any = item
    for key in spec_path:
        spec = spec.get(key) if isinstance(spec, dict) else None
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for container in (spec or {}).get(key) or []:
            yield container.get("image") or ""
    # Statuses carry the resolved digest (imageID), which protects the exact image running
    # even if its tag has since been moved.
    status = item.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for container in status.get(key) or []:
            yield container.get("image") or ""
            yield container.get("imageID") or ""


def resolve(in_use: InUse, registry: Registry) -> dict[tuple[str, str], Manifest]:
    """(repository, digest) -> the manifest, for every in-use manifest this registry holds:
    tags resolved to what they point to now, digests as referenced, and the children of every
    index among them.  References to other registries (404 here) are left out; any other
    failure raises, so the caller protects all or does nothing."""
    wanted = set(in_use.pinned)
    for repository, tag in sorted(in_use.tags):
        digest = registry.head_digest(repository, tag)
        if digest is not None:
            wanted.add((repository, digest))
    found: dict[tuple[str, str], Manifest] = {}
    while wanted:
        repository, digest = wanted.pop()
        if (repository, digest) in found:
            continue
        manifest = registry.find_manifest(repository, digest)
        if manifest is None:
            continue
        found[(repository, digest)] = manifest
        if manifest.is_index:
            children = manifest.document.get("manifests") or []
            wanted.update(
                (repository, child["digest"])
                for child in children
                if isinstance(child, dict) and isinstance(child.get("digest"), str)
            )
    return found
