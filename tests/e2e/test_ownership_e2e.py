"""regstack never takes over a namespace or Secret it did not create, and never deletes a namespace
it created, through the engine on the real API server (whose namespace controller deletes
everything in a deleted namespace, as a real cluster's does).

Each team namespace holds objects of the team's own (a ConfigMap, a Secret, a claim) made outside
any stack; after every step they must still be there in an Active namespace.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine import Engine
from regstack_project import RegstackProject
from test_stacks_e2e import wait_gone

pytestmark = pytest.mark.e2e

STACK = """config:
  kubernetes:enableSecretMutable: "true"
  regstack:profile: dev
  regstack:backend: distribution
  regstack:registry:
    namespace: {registry}
    service: {{type: ClusterIP}}
  regstack:auth:
    enabled: true
    users: [{{name: dev}}]
  regstack:gc:
    enabled: false
  regstack:pull_secrets:
    namespaces: {namespaces}
    create_namespaces: true
"""
TEAM_OBJECTS: dict[str, dict[str, Any]] = {
    "configmaps": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "team-settings"},
                   "data": {"owner": "team"}},
    "secrets": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "team-token"},
                "stringData": {"token": "team-only"}},
    "persistentvolumeclaims": {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "team-data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    },
}  # fmt: skip


def ownership_stack(
    engine: Engine, tmp_path: Path, name: str, namespaces: list[str], registry: str
) -> RegstackProject:
    stack_file = tmp_path / "stack.yaml"
    stack_file.write_text(STACK.format(registry=registry, namespaces=namespaces))
    project = RegstackProject.copy(engine, tmp_path, name, source=stack_file)
    project.set_secret("regstack:auth.users[0].password", "e2e-ownership-password-5c1e")
    return project


def add_team_objects(engine: Engine, namespace: str) -> None:
    for collection, manifest in TEAM_OBJECTS.items():
        engine.cluster.create(f"/api/v1/namespaces/{namespace}/{collection}", manifest)


def team_objects_intact(engine: Engine, namespace: str) -> bool:
    status, body = engine.cluster.get(f"/api/v1/namespaces/{namespace}")
    if status != 200 or "deletionTimestamp" in body["metadata"]:
        return False
    objects = [f"{collection}/{m['metadata']['name']}" for collection, m in TEAM_OBJECTS.items()]
    return all(
        engine.cluster.get(f"/api/v1/namespaces/{namespace}/{path}")[0] == 200 for path in objects
    )


def pull_secret_exists(engine: Engine, namespace: str) -> bool:
    return engine.cluster.get(f"/api/v1/namespaces/{namespace}/secrets/regstack-pull")[0] == 200


def output_of(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def teams(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegstackProject]:
    """A stack that created three team namespaces, each with the team's own objects in it."""
    project = ownership_stack(
        engine, tmp_path_factory.mktemp("teams"), "teams", ["own-a", "own-b", "own-c"], "own-reg"
    )
    project.up()
    for namespace in ("own-a", "own-b", "own-c"):
        add_team_objects(engine, namespace)
    yield project
    project.destroy(check=False)
    project.remove()


def test_a_namespace_removed_from_the_list_keeps_everything_in_it(
    teams: RegstackProject,
) -> None:
    teams.run("config", "rm", "--path", "regstack:pull_secrets.namespaces[2]")
    teams.up()
    assert team_objects_intact(teams.engine, "own-c")
    # regstack's own object goes
    assert wait_gone(teams.engine, "/api/v1/namespaces/own-c/secrets/regstack-pull")


def test_create_namespaces_turned_off_keeps_every_namespace_and_its_objects(
    teams: RegstackProject,
) -> None:
    teams.set_path("regstack:pull_secrets.create_namespaces", "false")
    teams.up()
    for namespace in ("own-a", "own-b"):
        assert team_objects_intact(teams.engine, namespace)
        assert pull_secret_exists(teams.engine, namespace)
    teams.run("preview", "--expect-no-changes")


def test_destroy_keeps_every_namespace_regstack_created_and_the_teams_objects(
    teams: RegstackProject,
) -> None:
    teams.destroy()
    for namespace in ("own-a", "own-b", "own-c"):
        assert team_objects_intact(teams.engine, namespace)
    # The registry's namespace is kept as well; what regstack put in it is gone.
    cluster = teams.engine.cluster
    assert cluster.get("/api/v1/namespaces/own-reg")[0] == 200
    assert wait_gone(teams.engine, "/apis/apps/v1/namespaces/own-reg/deployments/registry")


def test_an_existing_team_namespace_is_refused_and_the_error_says_what_to_do(
    engine: Engine, tmp_path: Path
) -> None:
    engine.cluster.create_namespace("team-existing")
    add_team_objects(engine, "team-existing")
    project = ownership_stack(engine, tmp_path, "existing", ["team-existing"], "own-reg-2")
    result = project.up(check=False)
    assert result.returncode != 0
    assert "regstack: Namespace team-existing already exists" in output_of(result)
    assert "Set pull_secrets.create_namespaces: false" in output_of(result)
    resources = json.loads(project.export())["deployment"].get("resources") or []
    assert "kubernetes:core/v1:Namespace" not in [r["type"] for r in resources]  # not adopted
    project.set_path("regstack:pull_secrets.create_namespaces", "false")  # what the error says
    project.up()
    assert pull_secret_exists(engine, "team-existing")
    project.destroy()
    assert team_objects_intact(engine, "team-existing")
    project.remove()


def test_an_existing_secret_of_the_pull_secret_s_name_is_refused_not_overwritten(
    engine: Engine, tmp_path: Path
) -> None:
    engine.cluster.create_namespace("team-secret")
    engine.cluster.create(
        "/api/v1/namespaces/team-secret/secrets",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regstack-pull"},
         "stringData": {"token": "the team's own"}},
    )  # fmt: skip
    project = ownership_stack(engine, tmp_path, "secret", ["team-secret"], "own-reg-3")
    project.set_path("regstack:pull_secrets.create_namespaces", "false")
    result = project.up(check=False)
    assert result.returncode != 0
    assert "regstack: Secret regstack-pull in namespace team-secret already exists" in output_of(
        result
    )
    assert "Choose another pull_secrets.secret_name" in output_of(result)
    secret = engine.cluster.get("/api/v1/namespaces/team-secret/secrets/regstack-pull")[1]
    assert secret["type"] == "Opaque"  # still the team's
    project.destroy()
    assert engine.cluster.get("/api/v1/namespaces/team-secret/secrets/regstack-pull")[0] == 200
    project.remove()


def test_an_existing_registry_namespace_is_refused_and_the_error_says_what_to_do(
    engine: Engine, tmp_path: Path
) -> None:
    engine.cluster.create_namespace("team-apps")
    add_team_objects(engine, "team-apps")
    project = ownership_stack(engine, tmp_path, "regns", ["own-d"], "team-apps")
    result = project.up(check=False)
    assert result.returncode != 0
    assert "regstack: Namespace team-apps already exists" in output_of(result)
    assert "Choose another registry.namespace" in output_of(result)
    labels = engine.cluster.get("/api/v1/namespaces/team-apps")[1]["metadata"].get("labels", {})
    assert "pod-security.kubernetes.io/enforce" not in labels  # not labelled as regstack's
    project.destroy()
    assert team_objects_intact(engine, "team-apps")
    project.remove()
