"""A config that would delete or replace the claim holding a Distribution registry's images is refused, in
preview and in up, through the engine on the real API server; a change that keeps the claim is not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from engine import Engine
from regstack_project import RegstackProject
from test_ownership_e2e import output_of

pytestmark = pytest.mark.e2e

NAMESPACE = "guard-reg"
CLAIM = f"/api/v1/namespaces/{NAMESPACE}/persistentvolumeclaims/registry-data"
STACK = f"""config:
  regstack:profile: dev
  regstack:backend: distribution
  regstack:registry:
    namespace: {NAMESPACE}
    service: {{type: ClusterIP}}
  regstack:auth:
    enabled: true
    users: [{{name: dev}}]
  regstack:gc:
    enabled: false
"""


@pytest.fixture(scope="module")
def stored(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegstackProject]:
    """A stack whose Distribution registry created its claim, applied once."""
    directory = tmp_path_factory.mktemp("guard")
    (directory / "stack.yaml").write_text(STACK)
    project = RegstackProject.copy(engine, directory, "guard", source=directory / "stack.yaml")
    project.set_secret("regstack:auth.users[0].password", "e2e-guard-password-7d21")
    project.up()
    yield project
    project.destroy(check=False)
    project.remove()


def test_the_lab_backend_rewrites_no_attributes_file_that_the_guards_read_could_catch_half_written(
    stored: RegstackProject,
) -> None:
    # The guard reads the stack's own checkpoint during an update (scripts/pulumi-env.sh).
    state = Path(urlparse(stored.engine.env["PULUMI_BACKEND_URL"]).path)
    assert list(state.rglob(f"{stored.stack}.json"))
    assert list(state.rglob("*.attrs")) == []


def test_a_change_that_keeps_the_claim_is_not_refused(stored: RegstackProject) -> None:
    stored.set_path("regstack:registry.replicas", "1")
    stored.run("preview")


@pytest.mark.parametrize(
    "change",
    [
        # The README's addon stack: the addon takes no registry, auth or gc section.
        [("config", "set", "regstack:backend", "microk8s-addon"),
         *(("config", "rm", f"regstack:{section}") for section in ("registry", "auth", "gc"))],
        [("config", "set", "--path", "regstack:registry.storage.existing_claim", "lent")],
        [("config", "set", "--path", "regstack:registry.storage.storage_class", "fast")],
    ],
    ids=["another backend", "an existing claim instead", "another storage class"],
)  # fmt: skip
def test_a_change_that_deletes_or_replaces_the_claim_is_refused_in_preview_and_up(
    stored: RegstackProject, change: list[tuple[str, ...]]
) -> None:
    stack_file = stored.directory / f"Pulumi.{stored.stack}.yaml"
    applied = stack_file.read_text()
    resources_before = urns(stored)
    for command in change:
        stored.run(*command)
    try:
        for command in (("preview",), ("up", "--yes", "--skip-preview")):
            result = stored.run(*command, check=False)
            assert result.returncode != 0
            said = output_of(result)
            assert "the claim registry-data in namespace guard-reg" in said
            assert "Nothing was changed" in said
            assert "Traceback" not in said
            assert stored.engine.cluster.get(CLAIM)[0] == 200
            assert urns(stored) == resources_before
    finally:
        stack_file.write_text(applied)


def urns(project: RegstackProject) -> set[str]:
    """The resources the stack's state holds."""
    return {resource["urn"] for resource in json.loads(project.export())["deployment"]["resources"]}
