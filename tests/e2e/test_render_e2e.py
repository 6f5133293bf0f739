"""`make render` writes a stack's manifests with the provider's render mode, no real secret in them."""

from __future__ import annotations

import base64
import subprocess
import sys

import bcrypt
import pytest
import yaml
from engine import REPO, Engine

from devkit.render import PLACEHOLDER

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
