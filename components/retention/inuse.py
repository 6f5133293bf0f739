"""Images referenced by Pods, which retention keeps whatever the policy says.

References come from a file (one per line, or a JSON list) or from the Kubernetes API,
read-only, with the Pod's own ServiceAccount token.  Hosts are ignored when matching: a
Pod may pull the registry under another name than the engine uses (a Service name inside
the cluster, an ingress name outside), and keeping too much is the safe mistake.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from components.images import split_reference

from .http import HttpClient, HttpError, MiB
from .plan import InUse

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
PAGE_LIMIT = 16 * MiB


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
    for reference in references:
        repository, tag, digest = parse_reference(reference)
        if repository and tag:
            tags.add((repository, tag))
        if digest:
            digests.add(digest)
    return InUse(frozenset(tags), frozenset(digests))


def load_in_use_file(path: str | Path) -> InUse:
    text = Path(path).read_text()
    if text.lstrip().startswith("["):
        references = json.loads(text)
    else:
        references = [line for line in text.splitlines() if line.strip()]
        references = [line for line in references if not line.lstrip().startswith("#")]
    return in_use_from_references(references)


def cluster_api_url() -> str:
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def fetch_in_use_from_cluster(http: HttpClient, api_url: str, token: str) -> InUse:
    """List Pods in all namespaces (get/list on pods is all the RBAC this needs)."""
    return in_use_from_references(_pod_images(http, api_url.rstrip("/"), token))


def _pod_images(http: HttpClient, api_url: str, token: str) -> Iterator[str]:
    cont = ""
    while True:
        # 100 Pods (with their managedFields) stay far below the body limit and the job's
        # 256Mi once parsed; 500 could exceed both on a busy cluster.
        query = urllib.parse.urlencode({"limit": 100, **({"continue": cont} if cont else {})})
        url = f"{api_url}/api/v1/pods?{query}"
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        response = http.send("GET", url, kind="kubernetes", headers=headers, limit=PAGE_LIMIT)
        if response.status != 200:
            raise HttpError(f"GET {url}: HTTP {response.status}")
        page = response.json()
        for pod in page.get("items") or []:
            yield from _images_of(pod)
        cont = (page.get("metadata") or {}).get("continue") or ""
        if not cont:
            return


def _images_of(pod: dict[str, Any]) -> Iterator[str]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            yield container.get("image") or ""
    # Statuses carry the resolved digest (imageID), which protects the exact image running
    # even if its tag has since been moved.
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for container in status.get(key) or []:
            yield container.get("image") or ""
            yield container.get("imageID") or ""
