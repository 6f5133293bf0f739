"""Harbor on the real node, deployed by the prod profile's own code path (issue 26).

One `pulumi up` of Pulumi.prod.yaml, changed only where this machine forces it (DIFFERENCES), with
Pulumi waiting for every Harbor workload to be Ready. The images are local stand-ins under the
exact references the pinned chart names, built by scripts/harbor-images.sh from Harbor's source
(scripts/harbor_images.py says how each is made). The tests then use Harbor as a team would:
the admin login regstack's Secret holds, a project, a pull-only robot, a multi-arch push and pull
through the TLS node port, a pod pulling with the robot's pull Secret, a second `up`, `destroy`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from lab import node_engine, node_images
from node import REPO, NodeCluster, pod
from regstack_project import RegstackProject

from devkit.oci import Layout
from devkit.vendor import harbor_chart

pytestmark = pytest.mark.harbor

NAMESPACE = "container-registry"  # Pulumi.prod.yaml's
APPS = "harbor-apps"  # a team's namespace, where a pod pulls from Harbor
HTTPS_PORT, HTTP_PORT = 32000, 32001  # the node ports scripts/node.sh forwards to the host
HARBOR = f"localhost:{HTTPS_PORT}"
ADMIN_PASSWORD = "Node-Admin-Passw0rd"
SEED = "node-harbor-seed-0123456789-abcdefghijkl"
ISSUER = "regstack-node-ca"
# Where this stack differs from Pulumi.prod.yaml, and why (the README lists the same).
DIFFERENCES: dict[str, tuple[Any, str]] = {
    "harbor.chart": (
        {"path": str(harbor_chart())},
        "the pinned chart from the vendor directory: helm.goharbor.io is out of reach",
    ),
    "harbor.expose": (
        {"type": "nodePort", "node_ports": {"https": HTTPS_PORT, "http": HTTP_PORT}},
        "no ingress controller runs on the node: the chart's own nginx serves TLS on a node port",
    ),
    "registry.hostnames": (
        ["localhost"],
        "Harbor's externalURL (its token realm) must be a name the host and the node resolve",
    ),
    "tls.issuer": (
        {"name": ISSUER, "kind": "ClusterIssuer"},
        "Let's Encrypt issues for public DNS names only (regstack refuses it for localhost): "
        "an issuer of a CA of our own, self-signed here",
    ),
    "harbor.trivy": (
        False,
        "Trivy needs a vulnerability database, which cannot be downloaded here",
    ),
}
# The ClusterIssuer of tls.issuer: self-signed here, the team's own CA in production.
CLUSTER_ISSUER = {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
                  "metadata": {"name": ISSUER}, "spec": {"selfSigned": {}}}  # fmt: skip
WORKLOADS = {  # kind/name -> the chart's component
    "deployment/harbor-core": "core",
    "deployment/harbor-jobservice": "jobservice",
    "deployment/harbor-registry": "registry",
    "deployment/harbor-portal": "portal",
    "deployment/harbor-nginx": "nginx",
    "deployment/harbor-exporter": "exporter",
    "statefulset/harbor-database": "database",
    "statefulset/harbor-redis": "redis",
}
DATA_CLAIMS = {"harbor-registry", "harbor-jobservice", "database-data-harbor-database-0",
               "data-harbor-redis-0"}  # fmt: skip
HARBOR_SECRETS = ("harbor-core", "harbor-jobservice", "harbor-registry", "harbor-registry-htpasswd",
                  "harbor-database", "harbor-exporter", "regstack-harbor-credentials")  # fmt: skip


def stack_file(directory: Path) -> Path:
    """Pulumi.prod.yaml without its placeholder secrets, with DIFFERENCES applied."""
    document = yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text())
    config = document["config"]
    for secret in ("admin_password", "secret_seed"):
        config["regstack:harbor"].pop(secret)
    for path, (value, _) in DIFFERENCES.items():
        section, key = path.split(".", 1)
        config[f"regstack:{section}"][key] = value
    path = directory / "Pulumi.harbor-node.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def import_harbor_images(node: NodeCluster) -> None:
    """The stand-ins (built once and cached by scripts/harbor-images.sh) into the node's
    containerd, as scripts/node.sh imports its own."""
    built = subprocess.run(["bash", str(REPO / "scripts" / "harbor-images.sh")],
                           capture_output=True, text=True)  # fmt: skip
    assert built.returncode == 0, built.stderr
    socket = node.node["REGSTACK_NODE_CONTAINERD"]
    for line in built.stdout.splitlines():
        _, archive = line.split("\t")
        subprocess.run(["ctr", "--address", socket, "-n", "k8s.io", "images", "import", archive],
                       check=True, capture_output=True)  # fmt: skip


def add_volumes(node: NodeCluster, count: int) -> None:
    """More of the node's hostPath volumes (scripts/node.sh makes a few): Harbor claims four.
    Labelled as the node's own, so that `node.sh down` removes them."""
    data = Path(node.node["REGSTACK_NODE_DATA"]) / "pv"
    for index in range(count):
        directory = data / f"harbor-{index}"
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o777)
        node.apply({"apiVersion": "v1", "kind": "PersistentVolume",
                    "metadata": {"name": f"regstack-harbor-{index}",
                                 "labels": {"app.kubernetes.io/part-of": "regstack-test-node"}},
                    "spec": {"capacity": {"storage": "100Gi"},
                             "accessModes": ["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany"],
                             "persistentVolumeReclaimPolicy": "Retain",
                             "storageClassName": "regstack-hostpath",
                             "hostPath": {"path": str(directory), "type": "Directory"}}})  # fmt: skip


@dataclass
class Harbor:
    """The deployed prod stack, and Harbor as a client outside the cluster sees it."""

    node: NodeCluster
    project: RegstackProject
    ca_dir: Path
    work: Path

    @classmethod
    def open(cls, node: NodeCluster, project: RegstackProject, tmp: Path) -> Harbor:
        """After `pulumi up`: trust the serving certificate's CA, on the host and the node."""
        ca_dir, work = tmp / "ca", tmp / "images"
        ca_dir.mkdir()
        work.mkdir()
        secret = node.get("secret", "-n", NAMESPACE, project.outputs()["tls_secret_name"])
        (ca_dir / "ca.crt").write_bytes(base64.b64decode(secret["data"]["ca.crt"]))
        trust = node.script("node.sh", "trust", HARBOR, str(ca_dir / "ca.crt"))
        assert trust.returncode == 0, trust.stderr
        return cls(node, project, ca_dir, work)

    @property
    def admin(self) -> tuple[str, str]:
        """The admin login as regstack's credentials Secret holds it."""
        data = self.node.get("secret", "-n", NAMESPACE, "regstack-harbor-credentials")["data"]
        return "admin", base64.b64decode(data["HARBOR_ADMIN_PASSWORD"]).decode()

    def api(self, method: str, path: str, body: Any = None,
            login: tuple[str, str] | None = None) -> tuple[int, Any]:  # fmt: skip
        user, password = login or self.admin
        request = urllib.request.Request(
            f"https://{HARBOR}/api/v2.0{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": "Basic "
                     + base64.b64encode(f"{user}:{password}".encode()).decode()},
        )  # fmt: skip
        context = ssl.create_default_context(cafile=str(self.ca_dir / "ca.crt"))
        try:
            with urllib.request.urlopen(request, context=context, timeout=30) as response:
                text = response.read().decode()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def skopeo(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=300)
        if check and done.returncode != 0:
            raise AssertionError(f"skopeo {args[0]}: {done.stderr}")
        return done

    def push(self, source: str, image: str, login: tuple[str, str]) -> subprocess.CompletedProcess[str]:  # fmt: skip
        return self.skopeo("copy", "-q", "--multi-arch", "all", "--dest-cert-dir", str(self.ca_dir),
                           "--dest-creds", ":".join(login), source, f"docker://{HARBOR}/{image}",
                           check=False)  # fmt: skip

    def pull(self, image: str, login: tuple[str, str], name: str) -> str:
        digestfile = self.work / f"{name}.digest"
        self.skopeo("copy", "-q", "--multi-arch", "all", "--src-cert-dir", str(self.ca_dir),
                    "--src-creds", ":".join(login), "--digestfile", str(digestfile),
                    f"docker://{HARBOR}/{image}", f"oci:{self.work / name}:latest")  # fmt: skip
        return digestfile.read_text().strip()

    def ready(self) -> dict[str, bool]:
        """Each Harbor workload: are all its replicas Ready?"""
        found = {}
        for workload, component in WORKLOADS.items():
            status = self.node.get(workload, "-n", NAMESPACE).get("status", {})
            found[component] = status.get("readyReplicas", 0) == status.get("replicas", -1) >= 1
        return found

    def secret_digests(self) -> dict[str, str]:
        """A digest of each Harbor Secret's data (the values never leave the test)."""
        return {name: hashlib.sha256(json.dumps(self.node.get("secret", "-n", NAMESPACE, name)
                                                ["data"], sort_keys=True).encode()).hexdigest()
                for name in HARBOR_SECRETS}  # fmt: skip

    def robot(self, project: str, name: str) -> tuple[str, str]:
        """A robot account of `project` that may pull only; its login."""
        status, robot = self.api("POST", "/robots", {
            "name": name, "level": "project", "duration": -1,
            "permissions": [{"kind": "project", "namespace": project,
                             "access": [{"resource": "repository", "action": "pull"}]}],
        })  # fmt: skip
        assert status == 201, robot
        return robot["name"], robot["secret"]


@pytest.fixture(scope="module")
def harbor(node_cluster: NodeCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harbor]:
    tmp = tmp_path_factory.mktemp("harbor-on-node")
    import_harbor_images(node_cluster)
    add_volumes(node_cluster, len(DATA_CLAIMS))
    node_cluster.apply(CLUSTER_ISSUER)
    engine = node_engine(node_cluster, tmp)
    project = RegstackProject.copy(engine, tmp, "harbor-node", source=stack_file(tmp))
    project.set_secret("regstack:harbor.admin_password", ADMIN_PASSWORD)
    project.set_secret("regstack:harbor.secret_seed", SEED)
    # RegstackProject.copy turns waiting off for the node-less API server; the prod stack waits.
    project.run("config", "set", "regstack:skip_await", "false")
    try:
        up = project.up(check=False)
        assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
        yield Harbor.open(node_cluster, project, tmp)
    finally:
        for resource in json.loads(project.export())["deployment"].get("resources") or []:
            if resource.get("protect"):
                project.run("state", "unprotect", resource["urn"], "--yes", check=False)
        project.destroy(check=False)
        for namespace in (NAMESPACE, APPS):
            engine.cluster.delete_namespace(namespace)
        node_cluster.kubectl("delete", "clusterissuer", ISSUER, "--ignore-not-found")


def test_every_harbor_workload_is_ready(harbor: Harbor) -> None:
    assert harbor.ready() == dict.fromkeys(WORKLOADS.values(), True)


def test_the_admin_logs_in_with_the_password_regstack_stored(harbor: Harbor) -> None:
    status, user = harbor.api("GET", "/users/current")
    assert (status, user["username"]) == (200, "admin")
    assert harbor.api("GET", "/users/current", login=("admin", "wrong-" + ADMIN_PASSWORD))[0] == 401


def test_a_multi_arch_image_pushed_by_the_admin_is_pulled_whole_by_a_pull_only_robot(
    harbor: Harbor,
) -> None:
    assert harbor.api("POST", "/projects", {"project_name": "team", "public": False})[0] == 201
    robot = harbor.robot("team", "puller")
    layout = Layout(harbor.work / "multi")
    layout.directory.mkdir()
    index = layout.index([layout.image(f"multi-{arch}", arch=arch) for arch in ("amd64", "arm64")])
    layout.name("multi", index)
    pushed = harbor.push(f"oci:{layout.directory}:multi", "team/multi:1", harbor.admin)
    assert pushed.returncode == 0, pushed.stderr
    assert harbor.pull("team/multi:1", robot, "multi") == index["digest"]


def test_the_pull_only_robot_cannot_push(harbor: Harbor) -> None:
    robot = harbor.robot("team", "reader")
    refused = harbor.push(
        f"oci-archive:{node_images(harbor.node)['busybox']}", "team/robot:1", robot
    )
    assert refused.returncode != 0, "the robot pushed"
    assert "unauthorized to access repository: team/robot, action: push" in refused.stderr


def test_a_pod_runs_an_image_from_harbor_through_a_pull_secret_of_the_robot(harbor: Harbor) -> None:
    admin = harbor.admin
    assert harbor.push(f"oci-archive:{node_images(harbor.node)['busybox']}", "team/app:1",
                       admin).returncode == 0  # fmt: skip
    user, password = harbor.robot("team", "app-puller")
    config = {"auths": {HARBOR: {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}}}
    harbor.node.kubectl("create", "namespace", APPS, check=False)
    harbor.node.apply({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                       "metadata": {"name": "harbor-pull", "namespace": APPS},
                       "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()}})  # fmt: skip
    harbor.node.apply(pod("from-harbor", APPS, "echo ran from harbor", image=f"{HARBOR}/team/app:1",
                          imagePullSecrets=[{"name": "harbor-pull"}]))  # fmt: skip
    phase = harbor.node.wait_for("the pod to finish", lambda: harbor.node.pod_phase(APPS, "from-harbor")
                                 in ("Succeeded", "Failed") and harbor.node.pod_phase(APPS, "from-harbor"))  # fmt: skip
    assert phase == "Succeeded"


def test_a_second_up_changes_nothing_and_rotates_no_harbor_secret(harbor: Harbor) -> None:
    secrets = harbor.secret_digests()
    pods = {p["metadata"]["uid"] for p in harbor.node.get("pods", "-n", NAMESPACE)["items"]}
    assert harbor.project.preview_steps() == []
    harbor.project.up()
    assert harbor.secret_digests() == secrets
    assert {p["metadata"]["uid"] for p in harbor.node.get("pods", "-n", NAMESPACE)["items"]} == pods


def test_destroy_is_refused_while_the_claims_are_protected_and_leaves_them_once_unprotected(
    harbor: Harbor,
) -> None:
    refused = harbor.project.destroy(check=False)
    assert refused.returncode != 0 and "protected" in refused.stdout + refused.stderr
    resources = json.loads(harbor.project.export())["deployment"]["resources"]
    for resource in resources:
        if resource.get("protect"):
            harbor.project.run("state", "unprotect", resource["urn"], "--yes")
    harbor.project.destroy()
    claims = {c["metadata"]["name"] for c in harbor.node.get("pvc", "-n", NAMESPACE)["items"]}
    assert claims == DATA_CLAIMS
