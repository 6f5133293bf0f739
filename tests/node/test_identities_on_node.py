"""Identities with rights on a real node: the dev stack with `auth.mode: token`.

The committed dev stack keeps htpasswd, where its one user (and so its pull Secret) may push,
overwrite and delete: what least privilege means there is only provable with the token server.
So this module deploys Pulumi.dev.yaml with `auth.mode: token` and three users (admin `dev`, CI
`ci` pushing to `ci/*`, `maintenance`), one `pulumi up` with skip_await off, and uses it as
clients do: skopeo on the host through node ports 32000 (registry) and 32001 (the token server,
the realm), and the node's containerd pulling for a pod. The pull Secret is read from the
cluster object and handed to skopeo as its auth file, never retyped.

Retention is not deployed: the realm is the node's loopback, which the config rules refuse for
retention (its pod cannot reach it); tests/registry/test_token_identities_real.py proves the
maintenance identity's deletes through retention's own client.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from engine import REPO, Cluster, Engine, ensure_toolchain, pulumi_env
from lab import REGISTRY, _cluster_access, node_images
from node import NodeCluster, pod
from regstack_project import RegstackProject

from components.auth import docker_config

NAMESPACE = "registry-token"
APPS = "team-a"
REALM = "https://localhost:32001/auth"
USERS = (("dev", "admin", None), ("ci", "push", "ci/*"), ("maintenance", "maintenance", None))


def absent(outcome: str) -> bool:
    """The registry answered that it has no such manifest (not that it could not be reached)."""
    return "manifest unknown" in outcome.lower() or "name unknown" in outcome.lower()


def refused(outcome: str) -> bool:
    """skopeo failed because the registry or the token server said no, not for another reason."""
    text = outcome.lower()
    return any(word in text for word in ("denied", "unauthorized", "authentication required"))


@dataclass
class TokenLab:
    node: NodeCluster
    certs: Path
    """The stack's CA as `ca.crt`, as skopeo's --cert-dir wants."""
    auth_files: dict[str, Path]
    """skopeo auth files: each user's, and `pull`, the pull Secret's own .dockerconfigjson."""

    def skopeo(self, who: str, *args: str) -> str:
        """skopeo as `who`: "ok" or its complaint."""
        done = subprocess.run(["skopeo", *args[:1], "--authfile", str(self.auth_files[who]), *args[1:]],
                              capture_output=True, text=True, timeout=180)  # fmt: skip
        return done.stderr if done.returncode else "ok"

    def copy(self, who: str, archive: Path, dest: str) -> str:
        return self.skopeo(who, "copy", "-q", "--dest-cert-dir", str(self.certs),
                           f"oci-archive:{archive}", f"docker://{REGISTRY}/{dest}")  # fmt: skip

    def delete(self, who: str, reference: str) -> str:
        return self.skopeo(
            who, "delete", "--cert-dir", str(self.certs), f"docker://{REGISTRY}/{reference}"
        )

    def pull(self, who: str, reference: str, layout: Path) -> str:
        return self.skopeo(who, "copy", "-q", "--src-cert-dir", str(self.certs),
                           f"docker://{REGISTRY}/{reference}", f"oci:{layout}:pulled")  # fmt: skip

    def digest(self, reference: str) -> str:
        """The digest the registry serves, asked as the admin; else skopeo's complaint."""
        done = subprocess.run(["skopeo", "inspect", "--authfile", str(self.auth_files["dev"]), "--cert-dir",
                               str(self.certs), "--format", "{{.Digest}}", f"docker://{REGISTRY}/{reference}"],
                              capture_output=True, text=True, timeout=180)  # fmt: skip
        return done.stdout.strip() if done.returncode == 0 else done.stderr

    def run_job(self, job: str, cronjob: str) -> dict:
        """A Job made from one of the stack's CronJobs, once it has finished."""
        self.node.kubectl("create", "job", "-n", NAMESPACE, job, f"--from=cronjob/{cronjob}")
        self.node.wait_for(f"{job} to finish", lambda: any(
            c["type"] in ("Complete", "Failed") and c["status"] == "True"
            for c in self.node.get("job", "-n", NAMESPACE, job).get("status", {}).get("conditions", [])),
            timeout=300)  # fmt: skip
        return self.node.get("job", "-n", NAMESPACE, job)


@pytest.fixture(scope="module")
def token_lab(
    node_cluster: NodeCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TokenLab]:
    cluster = Cluster(state=node_cluster.state, kubeconfig=node_cluster.kubeconfig,
                      **_cluster_access(node_cluster))  # fmt: skip
    tmp = tmp_path_factory.mktemp("identities-on-node")
    env = pulumi_env(tmp / "home", tmp / "state")
    env["KUBECONFIG"] = str(node_cluster.kubeconfig)
    engine = Engine(bin_dir=ensure_toolchain(), cluster=cluster, env=env, venv=REPO / ".venv")
    project = RegstackProject.copy(engine, tmp, "dev")
    project.run("config", "set", "regstack:skip_await", "false")
    # Its own namespaces: the dev module's, destroyed before, may still be terminating.
    project.set_path("regstack:registry.namespace", NAMESPACE)
    project.set_path("regstack:pull_secrets.namespaces[0]", APPS)
    project.run("config", "rm", "--path", "regstack:pull_secrets.namespaces[1]")
    project.set_path("regstack:monitoring.enabled", "false")
    # GC's in-use protection signs in from a pod, which the loopback realm cannot serve (the
    # config refuses it, as it refuses retention): this stack's GC collects deleted manifests only.
    project.set_path("regstack:gc.delete_untagged", "false")
    project.set_path("regstack:auth.mode", "token")
    # --plaintext: the CLI takes a key naming "token" for a secret and refuses it otherwise.
    project.run("config", "set", "--plaintext", "--path", "regstack:auth.token_server.realm", REALM)
    passwords = {name: secrets.token_urlsafe(24) for name, _, _ in USERS}
    for index, (name, role, repositories) in enumerate(USERS):
        project.set_path(f"regstack:auth.users[{index}].name", name)
        project.set_path(f"regstack:auth.users[{index}].role", role)
        if repositories:
            project.set_path(f"regstack:auth.users[{index}].repositories[0]", repositories)
        project.set_secret(f"regstack:auth.users[{index}].password", passwords[name])
    try:
        project.up()
        yield prepared(node_cluster, tmp, passwords)
    finally:
        project.run("destroy", "--yes", "--skip-preview", check=False)
        # destroy leaves the namespaces regstack made: an operator deletes them once done, and
        # their claims let go of the node's volumes for the next module.
        for namespace in (NAMESPACE, APPS):
            engine.cluster.delete_namespace(namespace)


def prepared(node_cluster: NodeCluster, tmp: Path, passwords: dict[str, str]) -> TokenLab:
    """The CA trusted by skopeo and the node's containerd, and an auth file per identity."""
    certs = tmp / "lab-ca"
    certs.mkdir()
    ca = node_cluster.get("secret", "-n", NAMESPACE, "regstack-certificate-ca")["data"]["ca.crt"]
    (certs / "ca.crt").write_bytes(base64.b64decode(ca))
    trust = node_cluster.script("node.sh", "trust", REGISTRY, str(certs / "ca.crt"))
    assert trust.returncode == 0, trust.stderr
    auth_files = {name: tmp / f"{name}.json" for name in [*passwords, "pull"]}
    for name, password in passwords.items():
        auth_files[name].write_text(docker_config([REGISTRY], name, password))
    pull_secret = node_cluster.get("secret", "-n", APPS, "regstack-pull")["data"][
        ".dockerconfigjson"
    ]
    auth_files["pull"].write_bytes(base64.b64decode(pull_secret))
    for path in auth_files.values():
        path.chmod(0o600)
    return TokenLab(node_cluster, certs, auth_files)


def test_the_pull_secret_is_its_namespaces_own_pull_identity(token_lab: TokenLab) -> None:
    auths = json.loads(token_lab.auth_files["pull"].read_text())["auths"]
    assert auths[REGISTRY]["username"] == f"pull-{APPS}"


def test_a_pod_runs_the_image_ci_pushed_through_the_pull_secret(token_lab: TokenLab) -> None:
    assert token_lab.copy("ci", node_images(token_lab.node)["busybox"], "ci/demo:1") == "ok"
    pushed = token_lab.digest("ci/demo:1")
    token_lab.node.apply(pod("from-registry", APPS, "echo ran from the registry",
                             image=f"{REGISTRY}/ci/demo:1", imagePullSecrets=[{"name": "regstack-pull"}]))  # fmt: skip
    phase = token_lab.node.wait_for("the pod to finish", lambda: token_lab.node.pod_phase(APPS, "from-registry")
                                    in ("Succeeded", "Failed") and token_lab.node.pod_phase(APPS, "from-registry"))  # fmt: skip
    status = token_lab.node.get("pod", "-n", APPS, "from-registry")["status"]["containerStatuses"][
        0
    ]
    # containerd names an image by the first reference it pulled that digest under (an earlier
    # module's chapter/app may hold the same busybox): the digest is what says which image ran.
    assert (phase, status["imageID"].rpartition("@")[2]) == ("Succeeded", pushed)


def test_the_pull_secret_pulls_with_skopeo(token_lab: TokenLab, tmp_path: Path) -> None:
    assert token_lab.copy("ci", node_images(token_lab.node)["busybox"], "ci/pulled:1") == "ok"
    assert token_lab.pull("pull", "ci/pulled:1", tmp_path / "pulled") == "ok"


# The pull Secret may push nowhere, even inside CI's pattern; CI nowhere outside it.
@pytest.mark.parametrize(("who", "reference"), [("pull", "ci/intruder:1"), ("ci", "other/app:1")])
def test_an_identity_cannot_push_where_it_has_no_right(
    token_lab: TokenLab, who: str, reference: str
) -> None:
    outcome = token_lab.copy(who, node_images(token_lab.node)["busybox"], reference)
    assert refused(outcome), outcome
    assert absent(token_lab.digest(reference))


def test_the_pull_secret_cannot_overwrite_a_tag(token_lab: TokenLab) -> None:
    images = node_images(token_lab.node)
    assert token_lab.copy("ci", images["busybox"], "ci/release:1") == "ok"
    before = token_lab.digest("ci/release:1")
    outcome = token_lab.copy("pull", images["pause"], "ci/release:1")
    assert refused(outcome), outcome
    assert token_lab.digest("ci/release:1") == before


def test_the_pull_secret_cannot_delete(token_lab: TokenLab) -> None:
    assert token_lab.copy("ci", node_images(token_lab.node)["busybox"], "ci/kept:1") == "ok"
    before = token_lab.digest("ci/kept:1")
    outcome = token_lab.delete("pull", f"ci/kept@{before}")
    assert refused(outcome), outcome
    assert token_lab.digest("ci/kept:1") == before


def test_the_gc_job_collects_what_the_maintenance_identity_deleted_on_the_token_stack(
    token_lab: TokenLab,
) -> None:
    images = node_images(token_lab.node)
    assert token_lab.copy("ci", images["busybox"], "ci/steady:1") == "ok"
    kept = token_lab.digest("ci/steady:1")
    assert token_lab.copy("ci", images["registry"], "ci/moving:1") == "ok"
    replaced = token_lab.digest("ci/moving:1")
    assert token_lab.copy("ci", images["pause"], "ci/moving:1") == "ok"  # the old one is untagged
    assert token_lab.delete("maintenance", f"ci/moving@{replaced}") == "ok"

    job = token_lab.run_job("gc-now", "registry-gc")
    logs = token_lab.node.kubectl(
        "logs", "-n", NAMESPACE, "job/gc-now", "--all-containers", check=False
    )
    assert job["status"].get("succeeded") == 1, logs
    token_lab.node.wait_for(
        "the registry to serve again", lambda: token_lab.digest("ci/steady:1") == kept
    )
    assert absent(token_lab.digest(f"ci/moving@{replaced}")), logs
