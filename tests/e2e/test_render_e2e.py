"""`make render` writes a stack's manifests with the provider's render mode, no real secret in them."""

from __future__ import annotations

import base64
import subprocess
import sys
import tarfile

import bcrypt
import pytest
import yaml
from engine import REPO, Engine

from components.config import HARBOR_CHART_VERSION
from devkit.render import PLACEHOLDER
from devkit.vendor import harbor_chart

pytestmark = pytest.mark.e2e


def test_render_writes_the_dev_manifests_with_placeholder_secrets(engine: Engine) -> None:
    subprocess.run([sys.executable, str(REPO / "scripts" / "render.py"), "dev"], check=True,
                   capture_output=True, env=engine.env)  # fmt: skip
    documents = [
        yaml.safe_load(path.read_text())
        for path in sorted((REPO / "build" / "manifests" / "dev").rglob("*.yaml"))
    ]
    kinds = {d["kind"] for d in documents}
    assert {"Deployment", "Service", "PersistentVolumeClaim", "CronJob", "Certificate"} <= kinds
    [secret] = [d for d in documents if d["metadata"]["name"] == "regstack-auth-htpasswd"]
    hashed = base64.b64decode(secret["data"]["htpasswd"]).decode().strip().split(":", 1)[1]
    assert bcrypt.checkpw(PLACEHOLDER.encode(), hashed.encode())


def test_render_writes_the_prod_manifests_offline_with_the_vendored_harbor_chart(
    engine: Engine,
) -> None:
    """The chart's Helm repository is on the internet, which this machine does not reach."""
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "render.py"), "prod", f"--kubeconfig={engine.kubeconfig}"],
        check=True, capture_output=True, env=engine.env,
    )  # fmt: skip
    documents = [
        document
        for path in sorted((REPO / "build" / "manifests" / "prod").rglob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]
    helm = [d for d in documents if d["metadata"].get("labels", {}).get("heritage") == "Helm"]
    with tarfile.open(harbor_chart()) as archive:
        vendored = yaml.safe_load(archive.extractfile("harbor/Chart.yaml").read())
    assert vendored["version"] == HARBOR_CHART_VERSION
    assert {d["metadata"]["labels"]["app.kubernetes.io/version"] for d in helm} == {
        vendored["appVersion"]
    }
    names = {d["metadata"]["name"] for d in helm if d["kind"] == "Deployment"}
    assert {"harbor-core", "harbor-registry"} <= names
