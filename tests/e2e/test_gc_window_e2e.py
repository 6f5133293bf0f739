"""The GC window's scale calls against a real kube-apiserver (the unit tests use a fake API).

The test control plane runs no Deployment controller, so no pod ever exists: this proves the
requests (scale subresource, merge patch, pod listing by label) and the restore arithmetic.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from engine import Engine

from components.jobs import gc_window

pytestmark = pytest.mark.e2e

NAMESPACE = "gc-window-e2e"
LABELS = {"app.kubernetes.io/name": "registry"}
DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "registry", "labels": LABELS},
    "spec": {"replicas": 3, "selector": {"matchLabels": LABELS},
             "template": {"metadata": {"labels": LABELS},
                          "spec": {"containers": [{"name": "registry", "image": "registry:2.8.3"}]}}},
}  # fmt: skip


def post(engine: Engine, path: str, body: dict[str, object]) -> None:
    cluster = engine.cluster
    request = urllib.request.Request(f"{cluster.api}{path}", data=json.dumps(body).encode(),
                                     method="POST", headers={"Authorization": f"Bearer {cluster.token}",
                                                             "Content-Type": "application/json"})  # fmt: skip
    urllib.request.urlopen(request, context=cluster._ssl, timeout=10)


def replicas(engine: Engine) -> int:
    path = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/registry"
    return int(engine.cluster.get(path)[1]["spec"]["replicas"])


def test_stop_and_restore_scale_a_real_deployment_down_and_back(
    engine: Engine, tmp_path: Path
) -> None:
    post(engine, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": NAMESPACE}})  # fmt: skip
    post(engine, f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments", DEPLOYMENT)
    api = gc_window.Api(engine.cluster.api, engine.cluster.token, str(engine.cluster.ca))
    flags = [f"--namespace={NAMESPACE}", "--deployment=registry",
             "--selector=app.kubernetes.io/name=registry", f"--shared={tmp_path}",
             "--timeout=30", "--poll=0.2"]  # fmt: skip
    assert gc_window.main(["stop", *flags], api=api) == 0
    assert replicas(engine) == 0
    (tmp_path / "gc-exit").write_text("0\n")
    assert gc_window.main(["restore", *flags], api=api) == 0
    assert replicas(engine) == 3
