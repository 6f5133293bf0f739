"""The stack key through the real engine: the dynamic provider makes it once, keeps it in state as
a secret, a second preview changes nothing, and two stacks with the same user and password get
different htpasswd lines (issue 14, defect 1)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import bcrypt
import pytest
from engine import Engine
from regstack_project import RegstackProject

pytestmark = pytest.mark.e2e

PASSWORD = "e2e-same-password-in-both-stacks"


def htpasswd_line(project: RegstackProject, namespace: str) -> str:
    path = f"/api/v1/namespaces/{namespace}/secrets/regstack-auth-htpasswd"
    data = project.engine.cluster.get(path)[1]["data"]["htpasswd"]
    return base64.b64decode(data).decode().strip()


def stack_key_outputs(project: RegstackProject) -> dict[str, object]:
    deployment = json.loads(project.export())["deployment"]
    [key] = [r for r in deployment["resources"] if r["type"].endswith(":StackKey")]
    return dict(key["outputs"])


def test_two_stacks_salt_one_password_differently_and_neither_diffs_again(
    engine: Engine, tmp_path: Path
) -> None:
    lines = []
    for stack in ("key-one", "key-two"):
        # A namespace each: the first one may still be terminating when the second stack starts.
        namespace = f"{stack}-registry"
        project = RegstackProject.dev_variant(engine, tmp_path, stack, namespace, PASSWORD)
        try:
            project.up()
            line = htpasswd_line(project, namespace)
            assert bcrypt.checkpw(PASSWORD.encode(), line.split(":", 1)[1].encode())
            project.run("preview", "--expect-no-changes")
            assert "ciphertext" in json.dumps(stack_key_outputs(project)["key"])
            lines.append(line)
        finally:
            project.destroy(check=False)
            project.remove()
    assert lines[0] != lines[1]
