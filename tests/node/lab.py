"""The dev stack on the real node, as the chapter's reader uses it: the throwaway project driven by
the real pulumi CLI, and the registry reached through the node port with the dev user's password
and the lab CA. Shared by the node tests that run the dev stack."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from engine import REPO, Cluster, Engine, ensure_toolchain, pulumi_env
from node import NodeCluster
from regstack_project import RegstackProject

from devkit.oci import Layout

REGISTRY = "localhost:32000"
PASSWORD = "node-tier-dev-password"  # a throwaway stack's, set as a Pulumi secret
NAMESPACE = "container-registry"
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


def node_engine(node_cluster: NodeCluster, tmp: Path) -> Engine:
    """The real pulumi CLI with a state and home of its own, deploying to the node's cluster."""
    cluster = Cluster(state=node_cluster.state, kubeconfig=node_cluster.kubeconfig,
                      **_cluster_access(node_cluster))  # fmt: skip
    env = pulumi_env(tmp / "home", tmp / "state")
    env["KUBECONFIG"] = str(node_cluster.kubeconfig)
    return Engine(bin_dir=ensure_toolchain(), cluster=cluster, env=env, venv=REPO / ".venv")


def dev_project(
    node_cluster: NodeCluster, tmp: Path, source: Path | None = None
) -> RegstackProject:
    """A copy of Pulumi.dev.yaml (or of `source`, a dev stack file of another release) for the
    node: Pulumi waits for readiness (skip_await off), and the dev user's password is this
    module's throwaway one. Nothing is deployed yet."""
    engine = node_engine(node_cluster, tmp)
    engine.cluster.create_namespace("observability")  # where the dev stack's dashboard goes
    project = RegstackProject.copy(engine, tmp, "dev", source=source)
    project.run("config", "set", "regstack:skip_await", "false")
    project.set_secret("regstack:auth.users[0].password", PASSWORD)
    return project


def layout_image(layouts: Path, seed: str, platforms: tuple[str, ...] = ("amd64",)) -> str:
    """A small image of its own blobs (an index of several platforms), as a skopeo source."""
    layout = Layout(layouts / seed)
    layout.directory.mkdir(parents=True)
    images = [layout.image(f"{seed}-{arch}", arch=arch) for arch in platforms]
    layout.name(seed, images[0] if len(images) == 1 else layout.index(images))
    return f"oci:{layout.directory}:{seed}"


def pull_secret_namespaces(project: RegstackProject) -> list[str]:
    """The namespaces the stack's config names in `pull_secrets`."""
    out = project.run("config", "get", "--path", "regstack:pull_secrets.namespaces", "--json")
    return list(json.loads(out.stdout)["objectValue"])


def _cluster_access(node_cluster: NodeCluster) -> dict[str, object]:
    out = node_cluster.script("cluster.sh", "env").stdout
    values = dict(
        line.removeprefix("export ").split("=", 1) for line in out.splitlines() if "=" in line
    )
    return {"api": values["REGSTACK_KUBE_API"], "token": values["REGSTACK_KUBE_TOKEN"],
            "ca": Path(values["REGSTACK_KUBE_CA"])}  # fmt: skip


def node_images(node_cluster: NodeCluster) -> dict[str, Path]:
    """The node's image archives (busybox, registry, pause, python) by short name."""
    lines = node_cluster.script("node.sh", "images").stdout.splitlines()
    return {
        Path(archive).stem: Path(archive) for _, archive in (line.split("\t") for line in lines)
    }


class Lab:
    """The deployed dev stack: its project, and the registry as a client outside the cluster."""

    def __init__(self, node: NodeCluster, project: RegstackProject, ca_dir: Path, work: Path):
        self.node, self.project, self.ca_dir, self.work = node, project, ca_dir, work

    @classmethod
    def open(cls, node: NodeCluster, project: RegstackProject, tmp: Path) -> Lab:
        """After `pulumi up`: read the lab CA from the stack's Secret and make the node trust it."""
        ca_dir = tmp / "lab-ca"
        ca_dir.mkdir()
        ca_secret = project.outputs()["ca_secret_name"]
        secret = node.get("secret", "-n", NAMESPACE, ca_secret)
        (ca_dir / "ca.crt").write_bytes(base64.b64decode(secret["data"]["ca.crt"]))
        trust = node.script("node.sh", "trust", REGISTRY, str(ca_dir / "ca.crt"))
        assert trust.returncode == 0, trust.stderr
        work = tmp / "images"
        work.mkdir()
        return cls(node, project, ca_dir, work)

    def skopeo(self, *args: str) -> str:
        done = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            raise AssertionError(f"skopeo {args[0]}: {done.stderr}")
        return done.stdout

    def push(self, image: str, archive: Path) -> str:
        """Push an OCI archive; return the digest the registry serves it under."""
        return self.push_from(image, f"oci-archive:{archive}")

    def push_from(self, image: str, source: str) -> str:
        """Push from any skopeo source (`oci:DIR:REF`, ...), every platform of an index."""
        self.skopeo("copy", "-q", "--multi-arch", "all", "--dest-cert-dir", str(self.ca_dir),
                    "--dest-creds", f"dev:{PASSWORD}", source, f"docker://{REGISTRY}/{image}")  # fmt: skip
        return self.digest(image)

    def digest(self, image: str) -> str:
        return self.skopeo("inspect", "--cert-dir", str(self.ca_dir), "--creds", f"dev:{PASSWORD}",
                           "--format", "{{.Digest}}", f"docker://{REGISTRY}/{image}").strip()  # fmt: skip

    def pull(self, image: str, name: str) -> str:
        """Pull the manifest and every blob of an image (of each platform of an index); return
        the digest pulled."""
        digestfile = self.work / f"{name}.digest"
        self.skopeo("copy", "-q", "--multi-arch", "all", "--src-cert-dir", str(self.ca_dir),
                    "--src-creds", f"dev:{PASSWORD}", "--digestfile", str(digestfile),
                    f"docker://{REGISTRY}/{image}", f"oci:{self.work / name}:latest")  # fmt: skip
        return digestfile.read_text().strip()

    def get(self, path: str, auth: bool = True) -> int:
        context = ssl.create_default_context(cafile=str(self.ca_dir / "ca.crt"))
        # Distribution answers 404 for an OCI manifest a client does not say it accepts.
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        if auth:
            headers["Authorization"] = (
                "Basic " + base64.b64encode(f"dev:{PASSWORD}".encode()).decode()
            )
        try:
            with urllib.request.urlopen(urllib.request.Request(f"https://{REGISTRY}{path}", headers=headers),
                                        context=context, timeout=10) as response:  # fmt: skip
                return response.status
        except urllib.error.HTTPError as err:
            return err.code
        except OSError:  # nothing behind the node port (yet): kube-proxy follows the endpoints
            return 0

    def registry_ready(self) -> bool:
        deployment = self.node.get("deployment", "-n", NAMESPACE, "registry")
        status = deployment.get("status", {})
        return status.get("readyReplicas") == 1 and status.get("updatedReplicas") == 1
