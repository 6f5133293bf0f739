"""The dev stack's whole life on the real node, among a team's own objects (issue 22).

A team already has the namespaces the stack names in `pull_secrets`, each with a claim of its own,
before the first `pulumi up`, which must adopt none of them (refusing is fine: the test then does
what the refusal says). Once the registry serves, the team's workloads reference images in
it: a Deployment pinned by digest to an image whose tag is later pushed again, a CronJob between
runs, a Deployment at 0 replicas (the last two have no pod). The stack then goes through what its
operators do, one test per step, in this order: a second `up`, a namespace removed from
`pull_secrets`, retention and GC run from their CronJobs with a tag pushed again between them, a
GC pod deleted inside its window, a backend switch, `destroy`.

After each step, three things hold, or the step's test lists what broke:
- every object of the team is the one the team made (same UID: not deleted, not made again);
- every image a workload references pulls in full (manifest and every blob, by its digest) from
  the registry through the node port, with the lab CA; a tag a workload names still names it;
- the registry takes writes again (a push succeeds) within the time a window needs to reopen.
The steps share one stack, so a step that breaks the registry also fails the steps after it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lab import (
    NAMESPACE,
    REGISTRY,
    Lab,
    dev_project,
    layout_image,
    node_images,
    pull_secret_namespaces,
)
from node import NodeCluster

from components import kube
from components.config import load_config
from components.jobs.gc_window import RECORD
from components.stack_config import read_stack_file
from devkit.stacks import DUMMY_SECRET

# The harshest retention a team could ask for: no tag kept, so only in-use protection keeps any.
TEAM_REPOSITORIES = "team/*"
PINNED = "team/app:1"  # the tag of the image the Deployment is pinned to by digest
PROBE = "lifecycle/probe"  # the pushes that prove the registry takes writes: not the team's
BACK_TO_READ_WRITE = 180  # seconds: reopening a window is a rollout of the registry
# What holds data a switch must not delete: the registry's claim, and namespaces with claims in them.
DATA_TYPES = ("kubernetes:core/v1:PersistentVolumeClaim", "kubernetes:core/v1:Namespace")
DELETING = ("delete", "replace", "delete-replaced", "create-replacement")


@dataclass
class Team:
    """What the team made, and what it expects of the registry."""

    node: NodeCluster
    namespaces: list[str]
    objects: dict[tuple[str, str, str], str] = field(default_factory=dict)
    """(kind, namespace, name) -> UID when the team made it."""
    images: dict[str, str] = field(default_factory=dict)
    """Image reference a workload names -> the digest the team pushed for it."""

    def make(self, manifest: dict[str, Any]) -> None:
        self.node.apply(manifest)
        kind, meta = manifest["kind"].lower(), manifest["metadata"]
        scope = ("-n", meta["namespace"]) if "namespace" in meta else ()
        uid = self.node.get(kind, *scope, meta["name"])["metadata"]["uid"]
        self.objects[(kind, meta.get("namespace", ""), meta["name"])] = uid

    def objects_lost(self) -> list[str]:
        lost = []
        for (kind, namespace, name), uid in self.objects.items():
            scope = ("-n", namespace) if namespace else ()
            found = self.node.kubectl("get", kind, *scope, name, "-o", "json", check=False)
            if not found:
                lost.append(f"{kind} {namespace}/{name}: gone")
            elif json.loads(found)["metadata"]["uid"] != uid:
                lost.append(f"{kind} {namespace}/{name}: deleted and made again")
        return lost

    def referenced(self) -> set[str]:
        """Every image of the registry a Deployment or CronJob of the team's namespaces names."""
        images = set()
        for namespace in self.namespaces:
            for kind in ("deployments", "cronjobs"):
                for item in self.node.get(kind, "-n", namespace)["items"]:
                    spec = item["spec"].get("jobTemplate", {}).get("spec", item["spec"])
                    images |= {c["image"] for c in spec["template"]["spec"]["containers"]}
        return {image for image in images if image.startswith(f"{REGISTRY}/")}


class Lifecycle:
    """The team, the deployed stack, and the checks every step ends with."""

    def __init__(self, lab: Lab, team: Team, layouts: Path):
        self.lab, self.node, self.project, self.team = lab, lab.node, lab.project, team
        self.layouts = layouts
        self.pulls = 0

    def layout_image(self, seed: str, platforms: tuple[str, ...] = ("amd64",)) -> str:
        """A small image of its own blobs (an index of several platforms), as a skopeo source."""
        return layout_image(self.layouts, seed, platforms)

    def push_for_workload(self, image: str, source: str) -> str:
        """Push an image a workload will name by its tag; return that reference."""
        self.team.images[f"{REGISTRY}/{image}"] = self.lab.push_from(image, source)
        return f"{REGISTRY}/{image}"

    def cron_job(self, app: str) -> tuple[str, str]:
        """(namespace, name) of the stack's CronJob of that `app.kubernetes.io/name`, from its
        state."""
        resources = json.loads(self.project.export())["deployment"]["resources"]
        (meta,) = [r["outputs"]["metadata"] for r in resources
                   if r["type"] == "kubernetes:batch/v1:CronJob"
                   and r["outputs"]["metadata"]["labels"].get("app.kubernetes.io/name") == app]  # fmt: skip
        return meta["namespace"], meta["name"]

    def start_job(self, app: str, job: str) -> str:
        """`kubectl create job --from=cronjob/...`, as the runbook does; returns its namespace."""
        namespace, cron_job = self.cron_job(app)
        self.node.kubectl("create", "job", "-n", namespace, job, f"--from=cronjob/{cron_job}")
        return namespace

    def run_job(self, app: str, job: str) -> None:
        namespace = self.start_job(app, job)

        def finished() -> bool:
            status = self.node.get("job", "-n", namespace, job).get("status", {})
            return any(c["type"] in ("Complete", "Failed") and c["status"] == "True"
                       for c in status.get("conditions", []))  # fmt: skip

        self.node.wait_for(f"job {job} to finish", finished, timeout=300)
        succeeded = self.node.get("job", "-n", namespace, job)["status"].get("succeeded")
        logs = self.node.kubectl("logs", "-n", namespace, f"job/{job}", "--all-containers",
                                 check=False)  # fmt: skip
        assert succeeded == 1, f"job {job} failed:\n{logs}"

    def lost(self, step: str) -> list[str]:
        """Everything the team lost or cannot use after `step`, once the registry is back after
        it (a window's reopening restarts its pod); empty when nothing."""
        self.lab.node.wait_for("the registry to be ready", self.lab.registry_ready, timeout=240)
        return self.team.objects_lost() + self.images_lost(step) + self.writes_refused(step)

    def images_lost(self, step: str) -> list[str]:
        lost = []
        if self.team.referenced() != set(self.team.images):
            lost.append(
                f"workloads name {sorted(self.team.referenced())}, not {sorted(self.team.images)}"
            )
        for reference, digest in sorted(self.team.images.items()):
            image = reference.removeprefix(f"{REGISTRY}/")
            repository = re.split("[@:]", image)[0]
            self.pulls += 1
            try:  # by digest, as a node pulls what it runs; and the tag a workload names
                pulled = self.lab.pull(f"{repository}@{digest}", f"{step}-{self.pulls}")
                tagged = self.lab.digest(image) if "@" not in image else digest
            except AssertionError as error:
                lost.append(f"{reference} ({digest}) does not pull: {str(error).strip()}")
                continue
            if (pulled, tagged) != (digest, digest):
                lost.append(f"{reference}: pulled {pulled}, tag names {tagged}, pushed {digest}")
        return lost

    def writes_refused(self, step: str) -> list[str]:
        source = self.layout_image(f"probe-{step}")
        refusals = [""]

        def pushed() -> bool:
            try:
                self.lab.push_from(f"{PROBE}:{step}", source)
                return True
            except AssertionError as error:
                refusals.append(str(error).strip())
                return False

        try:
            self.node.wait_for("a push to succeed", pushed, timeout=BACK_TO_READ_WRITE)
        except AssertionError:
            return [f"no push succeeded in {BACK_TO_READ_WRITE}s, the last said: {refusals[-1]}"]
        return []


@pytest.fixture(scope="module")
def life(
    node_cluster: NodeCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lifecycle]:
    tmp = tmp_path_factory.mktemp("lifecycle")
    project = dev_project(node_cluster, tmp)
    for key, value in (("enabled", "true"), ("apply", "true"),
                       ("rules[0].repositories[0]", TEAM_REPOSITORIES), ("rules[0].keep_last", "0")):  # fmt: skip
        project.set_path(f"regstack:retention.{key}", value)
    team = Team(node_cluster, pull_secret_namespaces(project))
    _before_the_first_up(team)
    try:
        first_up = project.up(check=False)
        if first_up.returncode != 0:  # refused: what it says to do for existing namespaces
            print(f"the first up on the team's namespaces:\n{first_up.stdout}{first_up.stderr}")
            assert "pull_secrets.create_namespaces" in first_up.stdout + first_up.stderr
            project.set_path("regstack:pull_secrets.create_namespaces", "false")
            project.up()
        life = Lifecycle(Lab.open(node_cluster, project, tmp), team, tmp / "layouts")
        _the_teams_workloads(life)
        yield life
    finally:
        project.destroy(check=False)
        # What an operator does once done: the namespaces destroy leaves, with the team's claims,
        # so that the next module's stack may make them again and the node's volumes are free.
        for namespace in (NAMESPACE, *team.namespaces):
            project.engine.cluster.delete_namespace(namespace)


def _before_the_first_up(team: Team) -> None:
    """The team's namespaces, each with a claim of its own, exist before regstack does."""
    for namespace in team.namespaces:
        # An earlier test's stack may still be deleting a namespace of the same name.
        phase = ("get", "namespace", namespace, "-o", "jsonpath={.status.phase}")
        team.node.wait_for(f"namespace {namespace} to be gone or active",
                           lambda phase=phase: team.node.kubectl(*phase, check=False) != "Terminating")  # fmt: skip
        team.make({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        team.make({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                   "metadata": {"name": "team-data", "namespace": namespace},
                   "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})  # fmt: skip


def _the_teams_workloads(life: Lifecycle) -> None:
    """Once the registry serves: a pinned Deployment that runs and a CronJob between runs in the
    namespace that stays in `pull_secrets`, a Deployment at 0 replicas in the one that leaves."""
    team = life.team
    stays, leaves = team.namespaces[0], team.namespaces[-1]
    pull_secret = life.project.outputs()["pull_secret_names"][stays]
    digest = life.lab.push(PINNED, node_images(life.node)["busybox"])
    pinned = f"{REGISTRY}/{PINNED.split(':')[0]}@{digest}"
    team.images[pinned] = digest
    nightly = life.push_for_workload("team/nightly:1", life.layout_image("nightly"))
    batch = life.push_for_workload("team/batch:1", life.layout_image("batch", ("amd64", "arm64")))
    team.make(_deployment("app", stays, pinned, 1, pull_secret))
    team.make({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": stays},
               "spec": {"schedule": "0 3 1 1 *", "jobTemplate": {"spec": {"template": {"spec": {
                   "restartPolicy": "Never", "imagePullSecrets": [{"name": pull_secret}],
                   "containers": [{"name": "main", "image": nightly}]}}}}}})  # fmt: skip
    team.make(_deployment("batch", leaves, batch, 0, pull_secret))
    life.node.wait_for("the pinned Deployment to run", lambda: life.node.get(
        "deployment", "-n", stays, "app").get("status", {}).get("readyReplicas") == 1)  # fmt: skip


def _deployment(
    name: str, namespace: str, image: str, replicas: int, pull_secret: str
) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels},
                "spec": {"imagePullSecrets": [{"name": pull_secret}], "containers": [
                    {"name": "main", "image": image, "command": ["sleep", "86400"]}]}}}}  # fmt: skip


def _type_and_name(urn: str) -> tuple[str, str]:
    _, _, types, name = urn.split("::", 3)
    return types.split("$")[-1], name


def changes(up_output: str) -> list[str]:
    """The lines of `pulumi up`'s resource summary other than `N unchanged`."""
    summary = up_output.split("Resources:", 1)[-1].split("Duration:", 1)[0]
    return [line.strip() for line in summary.splitlines()
            if line.strip() and not re.fullmatch(r"\d+ unchanged", line.strip())]  # fmt: skip


def test_the_first_up_adopts_none_of_the_teams_namespaces_and_the_team_keeps_everything(
    life: Lifecycle,
) -> None:
    resources = json.loads(life.project.export())["deployment"]["resources"]
    managed = {r["outputs"]["metadata"]["uid"]: r["urn"] for r in resources
               if r["type"] == "kubernetes:core/v1:Namespace" and "outputs" in r}  # fmt: skip
    team = {uid for (kind, _, _), uid in life.team.objects.items() if kind == "namespace"}
    assert sorted(managed[uid] for uid in team & managed.keys()) == []
    lost = life.lost("first-up")
    assert lost == [], "\n".join(lost)


def test_a_second_up_changes_nothing_and_the_team_keeps_everything(life: Lifecycle) -> None:
    assert changes(life.project.up().stdout) == []
    lost = life.lost("second-up")
    assert lost == [], "\n".join(lost)


def test_a_namespace_removed_from_pull_secrets_keeps_everything_in_it(life: Lifecycle) -> None:
    namespaces = pull_secret_namespaces(life.project)
    life.project.run(
        "config", "rm", "--path", f"regstack:pull_secrets.namespaces[{len(namespaces) - 1}]"
    )
    assert pull_secret_namespaces(life.project) == namespaces[:-1]
    life.project.up()
    lost = life.lost("namespace-removed")
    assert lost == [], "\n".join(lost)


def test_retention_keeps_the_images_of_a_cron_job_between_runs_and_of_a_deployment_at_zero(
    life: Lifecycle,
) -> None:
    life.run_job(kube.RETENTION, "lifecycle-retention")
    lost = life.lost("retention")
    assert lost == [], "\n".join(lost)


def test_gc_after_a_tag_is_pushed_again_keeps_the_digest_a_deployment_is_pinned_to(
    life: Lifecycle,
) -> None:
    (pinned_digest,) = [d for reference, d in life.team.images.items() if "@" in reference]
    assert life.lab.push_from(PINNED, life.layout_image("app-2")) != pinned_digest  # now untagged
    life.run_job(kube.GC, "lifecycle-gc")
    lost = life.lost("gc")
    assert lost == [], "\n".join(lost)


def test_a_gc_pod_deleted_inside_its_window_leaves_the_registry_read_write(life: Lifecycle) -> None:
    job = "lifecycle-gc-deleted"
    namespace = life.start_job(kube.GC, job)
    life.node.wait_for("the window to close", lambda: RECORD in life.node.get(
        "deployment", "-n", NAMESPACE, kube.REGISTRY)["metadata"].get("annotations", {}), timeout=120)  # fmt: skip
    (gc_pod,) = life.node.get("pods", "-n", namespace, "-l", f"job-name={job}")["items"]
    life.node.kubectl("delete", "pod", "-n", namespace, gc_pod["metadata"]["name"], "--wait=false")
    lost = life.lost("gc-pod-deleted")
    assert lost == [], "\n".join(lost)


def test_a_switch_to_the_addon_is_refused_at_preview_or_keeps_every_image(life: Lifecycle) -> None:
    """The README's addon stack in place of the dev stack's distribution config."""
    project = life.project
    for section in ("registry", "tls", "auth", "pull_secrets", "gc", "retention", "monitoring"):
        project.run("config", "rm", f"regstack:{section}")
    project.run("config", "set", "regstack:backend", "microk8s-addon")
    project.set_path("regstack:registry.storage.size", "40Gi")
    project.set_path("regstack:registry.storage.storage_class", "microk8s-hostpath")
    # A valid config: a refusal below is about the switch, not about this config.
    load_config(
        read_stack_file(project.directory / f"Pulumi.{project.stack}.yaml", secret=DUMMY_SECRET)
    )
    preview = project.run("preview", "--json", check=False)
    if preview.returncode == 0:
        steps = json.loads(preview.stdout).get("steps", [])
        deleted = sorted(f"{kind}::{name}" for s in steps for kind, name in [_type_and_name(s["urn"])]
                         if s["op"] in DELETING and kind in DATA_TYPES
                         and not s.get("oldState", {}).get("retainOnDelete"))  # fmt: skip
        assert deleted == [], f"the switch was not refused at preview and deletes {deleted}"
        project.up()
    lost = life.lost("backend-switch")
    assert lost == [], "\n".join(lost)


def test_destroy_leaves_every_object_of_the_team(life: Lifecycle) -> None:
    life.project.destroy()
    lost = life.team.objects_lost()
    assert lost == [], "\n".join(lost)
