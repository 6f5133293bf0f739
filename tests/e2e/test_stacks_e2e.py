"""The dev stack and the distribution-backed prod variant, end to end on a real API server.

`pulumi up` creates what the config asks for, a second run changes nothing, config changes
preview as exactly the expected steps, `destroy` cleans up (except protected prod data), invalid
config fails before anything is created, and no secret appears in plaintext anywhere.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine import REPO, Engine
from regstack_project import RegstackProject

pytestmark = pytest.mark.e2e

REGISTRY_NS = "/api/v1/namespaces/container-registry"
DEPLOYMENT = "/apis/apps/v1/namespaces/container-registry/deployments/registry"
SERVICE = f"{REGISTRY_NS}/services/registry"
HTPASSWD = f"{REGISTRY_NS}/secrets/regstack-auth-htpasswd"
CERTIFICATE = (
    "/apis/cert-manager.io/v1/namespaces/container-registry/certificates/regstack-certificate-tls"
)
GC_CRONJOB = "/apis/batch/v1/namespaces/container-registry/cronjobs/registry-gc"
CLAIM = f"{REGISTRY_NS}/persistentvolumeclaims/registry-data"
DEV_PASSWORD = "e2e-lab-password-7f3a"  # replaces the committed lab password in the test copy


def wait_gone(engine: Engine, path: str, seconds: float = 90) -> bool:
    deadline = time.monotonic() + seconds
    while engine.cluster.get(path)[0] != 404:
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True


@pytest.fixture(scope="module")
def dev(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegstackProject]:
    engine.cluster.create_namespace("observability")
    project = RegstackProject.copy(engine, tmp_path_factory.mktemp("dev"), "dev")
    project.set_secret("regstack:auth.users[0].password", DEV_PASSWORD)
    project.up()
    yield project
    project.destroy(check=False)
    project.remove()
    # `pulumi destroy` leaves the namespaces regstack created (components/ownership.py); the
    # quickstart's dev stack on this cluster creates them again.
    for namespace in ("container-registry", "dev", "staging"):
        engine.cluster.delete_namespace(namespace)


def test_up_creates_the_lab_registry_objects(dev: RegstackProject) -> None:
    cluster = dev.engine.cluster
    namespace = cluster.get(REGISTRY_NS)[1]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    deployment = cluster.get(DEPLOYMENT)[1]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "docker.io/library/registry:3.1.2"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert cluster.get(SERVICE)[1]["spec"]["ports"][0]["nodePort"] == 32000
    assert (
        cluster.get(CERTIFICATE)[1]["spec"]["issuerRef"]["name"] == "regstack-certificate-ca-issuer"
    )
    assert cluster.get(GC_CRONJOB)[1]["spec"]["schedule"] == "0 2 * * 0"
    for namespace_name in ("dev", "staging"):
        pull = cluster.get(f"/api/v1/namespaces/{namespace_name}/secrets/regstack-pull")[1]
        assert pull["type"] == "kubernetes.io/dockerconfigjson"


def test_the_htpasswd_in_the_cluster_verifies_the_configured_password(dev: RegstackProject) -> None:
    import bcrypt

    data = dev.engine.cluster.get(HTPASSWD)[1]["data"]["htpasswd"]
    user, hashed = base64.b64decode(data).decode().strip().split(":", 1)
    assert user == "dev" and bcrypt.checkpw(DEV_PASSWORD.encode(), hashed.encode())


def test_a_second_preview_shows_no_changes(dev: RegstackProject) -> None:
    dev.run("preview", "--expect-no-changes")


def test_outputs_give_the_endpoint_and_login_hint(dev: RegstackProject) -> None:
    outputs = dev.outputs()
    assert outputs["endpoint"] == "registry.lab.local:32000"
    assert outputs["docker_login"] == "docker login registry.lab.local:32000 -u dev"
    assert outputs["pull_secret_names"] == {"dev": "regstack-pull", "staging": "regstack-pull"}


def test_no_secret_appears_in_plaintext_in_state_or_cli_output(dev: RegstackProject) -> None:
    exported = dev.export()
    printed = dev.run("preview", "--diff").stdout + dev.run("stack", "output").stdout
    token = base64.b64encode(f"dev:{DEV_PASSWORD}".encode()).decode()
    for text in (exported, printed):
        assert DEV_PASSWORD not in text and token not in text


def changed(steps: list[tuple[str, str]]) -> list[str]:
    """The resources a preview would touch, whatever the kind of change."""
    return sorted({resource for _, resource in steps})


def test_adding_a_user_changes_only_the_users_secret_and_the_registry(dev: RegstackProject) -> None:
    dev.set_path("regstack:auth.users[1].name", "ci")
    dev.set_secret("regstack:auth.users[1].password", "e2e-ci-password-2b9c")
    # In place: kubernetes:enableSecretMutable (stack file) keeps the provider from replacing
    # the Secret, and with it the Deployment that mounts it.
    assert dev.preview_steps() == [
        ("update", "kubernetes:apps/v1:Deployment::regstack-registry-deployment"),
        ("update", "kubernetes:core/v1:Secret::regstack-auth-htpasswd"),
    ]
    dev.up()
    data = dev.engine.cluster.get(HTPASSWD)[1]["data"]["htpasswd"]
    assert [line.split(":")[0] for line in base64.b64decode(data).decode().splitlines()] == [
        "dev",
        "ci",
    ]
    dev.run("preview", "--expect-no-changes")


def test_changing_the_gc_schedule_updates_only_the_cronjob(dev: RegstackProject) -> None:
    dev.set_path("regstack:gc.schedule", "30 3 * * 6")
    assert dev.preview_steps() == [("update", "kubernetes:batch/v1:CronJob::regstack-gc-cronjob")]
    dev.up()
    assert dev.engine.cluster.get(GC_CRONJOB)[1]["spec"]["schedule"] == "30 3 * * 6"


def test_growing_the_volume_is_a_resize_of_the_claim_never_a_replacement(
    dev: RegstackProject,
) -> None:
    dev.set_path("regstack:registry.storage.size", "30Gi")
    # A claim is resized in place (bound claims, expandable storage class); this API server has
    # no volumes, so it refuses the resize of an unbound claim, and regstack must not replace
    # (and so empty) the registry's volume instead.
    result = dev.run("preview", "--diff", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "except resources.requests" in output and "for bound claims" in output
    assert "+-kubernetes:core/v1:PersistentVolumeClaim" not in output
    dev.set_path("regstack:registry.storage.size", "20Gi")


def test_invalid_config_fails_before_anything_is_created(engine: Engine, tmp_path: Path) -> None:
    project = RegstackProject.copy(engine, tmp_path, "broken", source=REPO / "Pulumi.dev.yaml")
    try:
        project.set_path("regstack:registry.replicas", "0")
        project.set_path("regstack:registry.namespace", "broken-registry")
        result = project.run("up", "--yes", "--skip-preview", check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert "regstack:registry.replicas: " in output and "Traceback" not in output
        assert engine.cluster.get("/api/v1/namespaces/broken-registry")[0] == 404
        resources = json.loads(project.export())["deployment"].get("resources") or []
        assert [r["type"] for r in resources if r["type"] != "pulumi:pulumi:Stack"] == []
    finally:
        project.remove()


def test_destroy_removes_every_object_of_the_dev_stack_and_keeps_its_namespaces(
    engine: Engine, tmp_path: Path
) -> None:
    engine.cluster.create_namespace("observability")
    project = RegstackProject.copy(engine, tmp_path, "lab-destroy", source=REPO / "Pulumi.dev.yaml")
    project.set_path("regstack:registry.namespace", "lab-destroy")
    # The dev stack owns node port 32000 and the dashboard on this cluster.
    project.set_path("regstack:registry.service.node_port", "31999")
    project.set_path("regstack:monitoring.enabled", "false")
    project.set_path("regstack:pull_secrets.namespaces[0]", "destroy-dev")
    project.set_path("regstack:pull_secrets.namespaces[1]", "destroy-staging")
    project.up()
    project.destroy()
    assert wait_gone(engine, "/apis/apps/v1/namespaces/lab-destroy/deployments/registry")
    assert wait_gone(engine, "/api/v1/namespaces/destroy-dev/secrets/regstack-pull")
    assert json.loads(project.export())["deployment"].get("resources", []) == []
    # Namespaces may hold what others put there: regstack never deletes one.
    for namespace in ("lab-destroy", "destroy-dev", "destroy-staging"):
        assert engine.cluster.get(f"/api/v1/namespaces/{namespace}")[1]["status"] == {
            "phase": "Active"
        }
    project.remove()


def test_prod_registry_data_survives_destroy_until_unprotected(
    engine: Engine, tmp_path: Path
) -> None:
    engine.cluster.create_namespace("monitoring")
    project = RegstackProject.copy(
        engine, tmp_path, "prod", source=REPO / "examples" / "Pulumi.prod-distribution.yaml"
    )
    project.set_path("regstack:registry.namespace", "prod-registry")
    engine.cluster.create_namespace("prod-apps")  # the team's: the example does not create it
    project.set_path("regstack:pull_secrets.namespaces[0]", "prod-apps")
    for index in range(3):  # ci, maintenance, admin: the example's identities
        project.set_secret(
            f"regstack:auth.users[{index}].password", f"e2e-prod-password-91d{index}"
        )
    project.up()
    claim = "/api/v1/namespaces/prod-registry/persistentvolumeclaims/registry-data"
    assert engine.cluster.get(claim)[0] == 200
    refused = project.destroy(check=False)
    assert refused.returncode != 0 and "protected" in (refused.stdout + refused.stderr)
    assert engine.cluster.get(claim)[0] == 200
    urn = next(r["urn"] for r in json.loads(project.export())["deployment"]["resources"]
               if r["urn"].endswith("::regstack-registry-data"))  # fmt: skip
    project.run("state", "unprotect", urn, "--yes")
    project.destroy()
    assert wait_gone(engine, claim)
    assert engine.cluster.get("/api/v1/namespaces/prod-registry")[0] == 200  # never deleted
    project.remove()


def test_a_prod_stack_under_the_published_lab_passphrase_is_refused_before_any_resource(
    engine: Engine, tmp_path: Path
) -> None:
    # As created in a shell that sourced scripts/pulumi-env.sh, which exports that passphrase.
    project = RegstackProject.copy(
        engine, tmp_path, "labprod", source=REPO / "examples" / "Pulumi.prod-distribution.yaml",
        passphrase="regstack-local",
    )  # fmt: skip
    for index in range(3):  # the example's ci, maintenance and admin
        project.set_secret(
            f"regstack:auth.users[{index}].password", f"e2e-prod-password-3f1a{index}"
        )
    refused = project.up(check=False)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "regstack:profile: the prod profile's secrets are encrypted with the published" in output
    resources = json.loads(project.export())["deployment"].get("resources") or []
    assert [r["type"] for r in resources if r["type"] != "pulumi:pulumi:Stack"] == []
    project.remove()
