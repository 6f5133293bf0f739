"""A TypeScript program through the real engine: the built Pulumi CLI runs it with Pulumi's
Node.js language host (built from the vendored source) and `@pulumi/pulumi` from npm, and
pulumi-resource-kubernetes creates, diffs and deletes real objects on the throwaway API server."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from engine import REPO, Engine
from typescript_program import copy_program, nodejs_env

pytestmark = pytest.mark.e2e

PROGRAM = REPO / "tests" / "e2e" / "typescript" / "smoke"
CONFIGMAP = "/api/v1/namespaces/default/configmaps/typescript-smoke"
SECRET = "/api/v1/namespaces/default/secrets/typescript-smoke"
TOKEN = "typescript-smoke-token-4711"  # a throwaway stack's config secret


def test_a_typescript_program_previews_deploys_and_destroys_through_the_nodejs_host(
    engine: Engine, tmp_path: Path
) -> None:
    engine = Engine(engine.bin_dir, engine.cluster, nodejs_env(engine.env), engine.venv)
    project = copy_program(PROGRAM, tmp_path / "smoke", engine.env)
    engine.pulumi("stack", "init", "typescript-smoke", cwd=project)
    engine.pulumi("config", "set", "kubeconfigPath", str(engine.kubeconfig), cwd=project)
    engine.pulumi("config", "set", "--secret", "token", TOKEN, cwd=project)

    preview = engine.pulumi("preview", cwd=project)
    # The stack, the provider and the two objects.
    assert "4 to create" in preview.stdout, preview.stdout

    engine.pulumi("up", "--yes", "--skip-preview", cwd=project)
    status, body = engine.cluster.get(CONFIGMAP)
    assert (status, body.get("data")) == (200, {"hello": "world"}), body
    status, body = engine.cluster.get(SECRET)
    assert status == 200, body
    assert base64.b64decode(body["data"]["token"]).decode() == TOKEN

    engine.pulumi("preview", "--expect-no-changes", cwd=project)

    engine.pulumi("destroy", "--yes", "--skip-preview", cwd=project)
    assert engine.cluster.get(CONFIGMAP)[0] == 404
    assert engine.cluster.get(SECRET)[0] == 404
    engine.pulumi("stack", "rm", "--yes", cwd=project)
