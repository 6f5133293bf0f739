"""The dev stack on a real node: the chapter's flow, and the registry's life around it.

One `pulumi up` of Pulumi.dev.yaml (skip_await off: Pulumi waits for the registry pod to be Ready)
for the module; the tests then use the registry as the chapter's reader would, through the node
port with the dev user's password and the lab CA.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab import (
    NAMESPACE,
    PASSWORD,
    REGISTRY,
    Lab,
    dev_project,
    node_images,
    pull_secret_namespaces,
)
from node import REPO, NodeCluster, pod


@pytest.fixture(scope="module")
def lab(node_cluster: NodeCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp("dev-on-node")
    project = dev_project(node_cluster, tmp)
    # RegistryDown's `for:` from 5m to seconds, so that the monitoring test sees it fire.
    project.set_path("regstack:monitoring.alerts.down_for", "10s")
    # Retention that would delete every tag of `retained/*` but the images pods use.
    for key, value in (("enabled", "true"), ("apply", "true"), ("rules[0].repositories[0]", "retained/*"),
                       ("rules[0].keep_last", "0")):  # fmt: skip
        project.set_path(f"regstack:retention.{key}", value)
    project.up()
    try:
        yield Lab.open(node_cluster, project, tmp)
    finally:
        project.run("destroy", "--yes", "--skip-preview", check=False)
        # regstack never deletes a namespace it made: as an operator would once nothing in them is
        # needed, so that the next module's stack may make them again.
        for namespace in (NAMESPACE, *pull_secret_namespaces(project)):
            project.engine.cluster.delete_namespace(namespace)


def test_the_registry_answers_through_the_node_port_behind_tls_and_htpasswd(lab: Lab) -> None:
    assert lab.registry_ready()
    assert (lab.get("/v2/", auth=False), lab.get("/v2/")) == (401, 200)


def test_an_image_pushed_with_the_dev_password_is_pulled_back_whole(lab: Lab) -> None:
    pushed = lab.push("chapter/busybox:1.35.0", node_images(lab.node)["busybox"])
    assert lab.pull("chapter/busybox:1.35.0", "pulled") == pushed


def test_a_pod_in_another_namespace_runs_the_pushed_image_through_the_pull_secret(lab: Lab) -> None:
    pushed = lab.push("chapter/app:1", node_images(lab.node)["busybox"])
    lab.node.apply(pod("from-registry", "dev", "echo ran from the registry",
                       image=f"{REGISTRY}/chapter/app:1", imagePullSecrets=[{"name": "regstack-pull"}]))  # fmt: skip
    phase = lab.node.wait_for("the pod to finish", lambda: lab.node.pod_phase("dev", "from-registry")
                              in ("Succeeded", "Failed") and lab.node.pod_phase("dev", "from-registry"))  # fmt: skip
    status = lab.node.get("pod", "-n", "dev", "from-registry")["status"]["containerStatuses"][0]
    assert (phase, status["imageID"]) == ("Succeeded", f"{REGISTRY}/chapter/app@{pushed}")


def test_without_the_pull_secret_the_same_image_is_refused(lab: Lab) -> None:
    lab.push("chapter/private:1", node_images(lab.node)["busybox"])
    lab.node.apply(pod("no-secret", "staging", "true", image=f"{REGISTRY}/chapter/private:1"))
    reason = lab.node.wait_for(
        "the pull to fail",
        lambda: (
            lab.node.get("pod", "-n", "staging", "no-secret")["status"]
            .get("containerStatuses", [{}])[0]
            .get("state", {})
            .get("waiting", {})
            .get("reason", "")
            in ("ErrImagePull", "ImagePullBackOff")
        ),
    )
    assert reason


def test_the_registry_comes_back_after_its_pod_is_killed_with_its_images(lab: Lab) -> None:
    pushed = lab.push("chapter/durable:1", node_images(lab.node)["busybox"])
    (old,) = [p["metadata"]["name"] for p in lab.node.get("pods", "-n", NAMESPACE, "-l",
              "app.kubernetes.io/name=registry")["items"]]  # fmt: skip
    lab.node.kubectl("delete", "pod", "-n", NAMESPACE, old, "--grace-period=0", "--force")

    def replaced_and_ready() -> bool:
        pods = lab.node.get("pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/name=registry")[
            "items"
        ]
        names = [p["metadata"]["name"] for p in pods]
        return lab.registry_ready() and old not in names and lab.get("/v2/") == 200

    lab.node.wait_for("a new registry pod to be Ready", replaced_and_ready)
    assert lab.pull("chapter/durable:1", "durable") == pushed


def test_the_gc_job_collects_an_overwritten_image_while_earlier_images_still_pull(lab: Lab) -> None:
    images = node_images(lab.node)
    kept = lab.push("chapter/kept:1", images["busybox"])
    replaced = lab.push("chapter/moving:1", images["registry"])
    replaced_layer = json.loads(lab.skopeo("inspect", "--raw", "--cert-dir", str(lab.ca_dir), "--creds",
                                           f"dev:{PASSWORD}", f"docker://{REGISTRY}/chapter/moving:1"))["layers"][-1]["digest"]  # fmt: skip
    lab.push(
        "chapter/moving:1", images["pause"]
    )  # the tag moves: the registry image's layers are garbage
    assert (
        lab.get(f"/v2/chapter/moving/manifests/{replaced}"),
        lab.get(f"/v2/chapter/moving/blobs/{replaced_layer}"),
    ) == (200, 200)

    lab.node.kubectl("create", "job", "-n", NAMESPACE, "gc-now", "--from=cronjob/registry-gc")
    lab.node.wait_for("the GC job to finish", lambda: any(
        c["type"] in ("Complete", "Failed") and c["status"] == "True"
        for c in lab.node.get("job", "-n", NAMESPACE, "gc-now").get("status", {}).get("conditions", [])), timeout=300)  # fmt: skip
    job = lab.node.get("job", "-n", NAMESPACE, "gc-now")
    assert job["status"].get("succeeded") == 1, lab.node.kubectl(
        "logs", "-n", NAMESPACE, "job/gc-now", "--all-containers", check=False
    )
    lab.node.wait_for("the registry to answer after the window",
                      lambda: lab.registry_ready() and lab.get("/v2/") == 200)  # fmt: skip
    assert lab.get(f"/v2/chapter/moving/manifests/{replaced}") == 404
    assert lab.get(f"/v2/chapter/moving/blobs/{replaced_layer}") == 404
    assert lab.pull("chapter/kept:1", "kept-after-gc") == kept


class Prometheus:
    """Debian's Prometheus inside the node's network namespace, where Service addresses route."""

    def __init__(self, lab: Lab, directory: Path) -> None:
        self.lab, self.port = lab, 19090
        service = lab.node.get("service", "-n", NAMESPACE, "registry-metrics")["spec"]
        rule = lab.node.get(
            "prometheusrule", "-n", NAMESPACE, "-l", "app.kubernetes.io/managed-by=regstack"
        )
        (directory / "rules.yaml").write_text(
            json.dumps({"groups": rule["items"][0]["spec"]["groups"]})
        )
        (directory / "prometheus.yml").write_text(json.dumps({
            "global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
            "rule_files": [str(directory / "rules.yaml")],
            "scrape_configs": [{
                "job_name": "registry-metrics",
                "static_configs": [{"targets": [f"{service['clusterIP']}:{service['ports'][0]['port']}"],
                                    "labels": {"namespace": NAMESPACE}}],
            }],
        }))  # fmt: skip
        with open(directory / "prometheus.log", "w") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                ["bash", str(REPO / "scripts" / "node.sh"), "exec", "prometheus",
                 f"--config.file={directory / 'prometheus.yml'}", f"--storage.tsdb.path={directory / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}"],
                env=NodeCluster._env_for(lab.node.state), stdout=subprocess.DEVNULL,
                stderr=log, start_new_session=True,
            )  # fmt: skip

    def query(self, promql: str) -> list[dict[str, object]]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?query={urllib.parse.quote(promql)}"
        done = self.lab.node.script("node.sh", "exec", "curl", "-fsS", url)
        return json.loads(done.stdout)["data"]["result"] if done.returncode == 0 else []

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


@pytest.fixture
def prometheus(lab: Lab, tmp_path: Path) -> Iterator[Prometheus]:
    server = Prometheus(lab, tmp_path)
    try:
        yield server
    finally:
        server.stop()


def test_prometheus_scrapes_the_metrics_service_and_registry_down_fires_at_zero_and_clears(
    lab: Lab, prometheus: Prometheus
) -> None:
    up = 'up{job="registry-metrics"}'
    firing = 'ALERTS{alertname="RegistryDown", alertstate="firing"}'
    lab.node.wait_for(
        "a successful scrape", lambda: [r["value"][1] for r in prometheus.query(up)] == ["1"]
    )  # type: ignore[index]

    lab.node.kubectl("scale", "deployment", "-n", NAMESPACE, "registry", "--replicas=0")
    try:
        lab.node.wait_for("RegistryDown to fire", lambda: prometheus.query(firing), timeout=120)
    finally:
        lab.node.kubectl("scale", "deployment", "-n", NAMESPACE, "registry", "--replicas=1")
    lab.node.wait_for(
        "RegistryDown to clear",
        lambda: prometheus.query(up) and not prometheus.query(firing),
        timeout=180,
    )
    lab.node.wait_for("the registry to answer again", lambda: lab.get("/v2/") == 200)


def test_the_retention_job_keeps_the_image_a_running_pod_uses_and_deletes_the_rest(
    lab: Lab,
) -> None:
    images = node_images(lab.node)
    in_use = lab.push("retained/app:build-1", images["busybox"])
    unused = lab.push("retained/app:build-2", images["pause"])
    lab.node.apply(pod("uses-build-1", "dev", "sleep 3600", image=f"{REGISTRY}/retained/app:build-1",
                       imagePullSecrets=[{"name": "regstack-pull"}]))  # fmt: skip
    lab.node.wait_for(
        "the pod to run", lambda: lab.node.pod_phase("dev", "uses-build-1") == "Running"
    )

    lab.node.kubectl(
        "create", "job", "-n", NAMESPACE, "retention-now", "--from=cronjob/registry-retention"
    )
    lab.node.wait_for("the retention job to finish", lambda: any(
        c["type"] in ("Complete", "Failed") and c["status"] == "True"
        for c in lab.node.get("job", "-n", NAMESPACE, "retention-now").get("status", {}).get("conditions", [])),
        timeout=300)  # fmt: skip
    logs = lab.node.kubectl("logs", "-n", NAMESPACE, "job/retention-now", check=False)
    assert lab.node.get("job", "-n", NAMESPACE, "retention-now")["status"].get("succeeded") == 1, (
        logs
    )
    assert (lab.get(f"/v2/retained/app/manifests/{in_use}"), lab.get("/v2/retained/app/manifests/build-1"),
            lab.get(f"/v2/retained/app/manifests/{unused}")) == (200, 200, 404), logs  # fmt: skip
