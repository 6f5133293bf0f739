"""A dev stack made by each earlier release of regstack is upgraded to this checkout's (issue 24),
as pulumi-eks' and pulumi-awsx' upgrade tests do.

The release is checked out from git (its program and `components/`, and the dev stack file its
user has), run with its own pinned SDKs and providers (the same versions as constraints.txt and
scripts/versions.env, which the test checks) under this checkout's Pulumi CLI, which may be
newer than the release's (the engine reads an older one's state), and applied on the real node; images are pushed to the registry. The same
stack (same state, name, passphrase and stack file) then gets this checkout's program: its
preview must neither replace nor delete anything that holds the registry's data or identity,
and after `up` every image pushed before pulls whole with the digest it was pushed under, and a
pod runs one.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
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
from node import REPO, NodeCluster, pod
from regstack_project import RegstackProject

from components import kube
from devkit.release import RELEASES, ReleaseMissing, release_tree

# The SDKs and provider plugins the release's stack was made with: a release pinning others
# cannot share this toolchain. The CLI may be newer than the release's, as a user's may be.
SDKS = ("pulumi", "pulumi-kubernetes", "pulumi-command")
VERSIONS = "scripts/versions.env"
PROVIDERS = (
    "COMMAND_PROVIDER_VERSION",
    "KUBERNETES_PROVIDER_MODULE",
    "KUBERNETES_PROVIDER_VERSION",
)
# What holds the registry's data, its logins and its identity: an upgrade may change them in
# place, never delete them or make them again.
KEPT_TYPES = (
    "apps/v1:Deployment",
    "core/v1:PersistentVolumeClaim",
    "core/v1:Secret",
    "Certificate",
)
DELETING = ("delete", "replace", "delete-replaced", "create-replacement", "discard")


# What only this checkout's program registers (the program became a client of it after 0.2.0):
# it tells which program ran.
TODAYS_COMPONENT = "regstack:index:Registry::regstack"


@dataclass
class Upgrade:
    """The stack as the release left it, and what was pushed to its registry."""

    release: str
    lab: Lab
    pushed: dict[str, str]
    """Image reference in the registry -> the digest it was pushed under."""
    claim_uid: str
    """The UID of the claim the release made for the registry's data."""


def data_claim(node: NodeCluster) -> tuple[str, str | None]:
    """(UID, deletion time) of the registry's data claim."""
    meta = node.get("pvc", "-n", NAMESPACE, kube.DATA_CLAIM)["metadata"]
    return meta["uid"], meta.get("deletionTimestamp")


def _pins(text: str) -> dict[str, str]:
    """name -> version of the SDKs the engine runs, as `name==version` pins them in `text`."""
    return dict(re.findall(rf'"?({"|".join(SDKS)})==([^"\s]+)', text))


def release_pins(commit: str) -> dict[str, str]:
    """The SDK pins of the release at `commit`: its constraints.txt (0.2.0 on; its install
    requirements are ranges), else its pyproject.toml (0.1.0 pinned there)."""

    def show(path: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(REPO), "show", f"{commit}:{path}"],
                              capture_output=True, text=True)  # fmt: skip

    constraints = show("constraints.txt")
    pins = constraints.stdout if constraints.returncode == 0 else show("pyproject.toml").stdout
    return _pins(pins)


def _providers(versions_env: str) -> dict[str, str]:
    """The provider plugins' versions in a `scripts/versions.env`."""
    pairs = (line.split("=", 1) for line in versions_env.splitlines() if "=" in line)
    return {key: value for key, value in pairs if key in PROVIDERS}


def release_providers(commit: str) -> dict[str, str]:
    shown = subprocess.run(["git", "-C", str(REPO), "show", f"{commit}:{VERSIONS}"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    return _providers(shown.stdout)


def runs_todays_program(project: RegstackProject) -> bool:
    return TODAYS_COMPONENT in project.export()


@pytest.fixture(scope="module", params=sorted(RELEASES))
def upgrade(
    request: pytest.FixtureRequest,
    node_cluster: NodeCluster,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Upgrade]:
    release_name, commit = request.param, RELEASES[request.param]
    tmp = tmp_path_factory.mktemp(f"upgrade-{release_name}")
    try:  # fails, never skips, without the release
        release = release_tree(tmp / f"release-{release_name}", commit)
    except ReleaseMissing as missing:
        pytest.fail(f"{missing} to run the upgrade test")
    # One toolchain for both sides: the release pinned the versions the engine runs today.
    assert release_pins(commit) == _pins((REPO / "constraints.txt").read_text()), (
        f"release {release_name} pins other SDKs than constraints.txt"
    )
    assert release_providers(commit) == _providers((REPO / VERSIONS).read_text()), (
        f"the providers moved since {release_name}: its stack needs its own built"
    )
    project = dev_project(node_cluster, tmp, source=release / "Pulumi.dev.yaml")
    # The release's `components/` beside its program comes first on the program's path: the
    # checkout's, also on the venv's path, is not imported.
    project.use_program(release / "__main__.py")
    try:
        project.up()
        assert not runs_todays_program(project), "the checkout's program ran, not the release's"
        lab = Lab.open(node_cluster, project, tmp)
        pushed = {
            "upgrade/busybox:1": lab.push("upgrade/busybox:1", node_images(node_cluster)["busybox"]),
            "upgrade/multi:1": lab.push_from("upgrade/multi:1", layout_image(tmp / "layouts", "multi", ("amd64", "arm64"))),
        }  # fmt: skip
        claim_uid, _ = data_claim(node_cluster)
        project.use_program(REPO / "__main__.py")
        yield Upgrade(release_name, lab, pushed, claim_uid)
    finally:
        project.destroy(check=False)
        # regstack never deletes a namespace it made: as an operator would once done with them,
        # so that the next module's stack may make them again.
        for namespace in (NAMESPACE, *pull_secret_namespaces(project)):
            project.engine.cluster.delete_namespace(namespace)


def why(step: dict[str, Any]) -> str:
    """The properties a preview step changes, those that force a replacement marked so."""
    if step["op"] == "delete":
        return "not in the new program (a resource renamed or moved without an alias?)"
    diff = step.get("detailedDiff") or {}
    return ", ".join(f"{path} ({change.get('kind', '')})" for path, change in sorted(diff.items()))


def test_the_upgrade_preview_replaces_and_deletes_nothing_holding_the_registrys_data(
    upgrade: Upgrade,
) -> None:
    project = upgrade.lab.project
    steps = json.loads(project.run("preview", "--json", "--diff").stdout).get("steps", [])
    changed = [s for s in steps if s["op"] not in ("same", "read")]
    print(f"the upgrade's preview from {upgrade.release}:",
          *(f"{s['op']} {s['urn'].split('::', 2)[-1]}: {why(s)}" for s in changed), sep="\n  ")  # fmt: skip
    lost = [f"{s['op']} {s['urn'].split('::', 2)[-1]}: {why(s)}" for s in changed
            if s["op"] in DELETING and any(kind in s["urn"].split("::")[2] for kind in KEPT_TYPES)]  # fmt: skip
    assert lost == [], "\n".join(lost)


def test_after_the_upgrade_the_registry_keeps_its_claim_and_serves_every_image_pushed_before(
    upgrade: Upgrade,
) -> None:
    lab = upgrade.lab
    lab.project.up()
    assert runs_todays_program(lab.project), "the release's program ran again, not the checkout's"
    # The images would still pull from a claim being deleted, until the registry's pod restarts.
    assert data_claim(lab.node) == (upgrade.claim_uid, None)
    lab.node.wait_for("the registry to serve", lambda: lab.registry_ready() and lab.get("/v2/") == 200,
                      timeout=240)  # fmt: skip
    pulled = {image: lab.pull(f"{image.split(':')[0]}@{digest}", image.replace("/", "-"))
              for image, digest in upgrade.pushed.items()}  # fmt: skip
    tagged = {image: lab.digest(image) for image in upgrade.pushed}
    assert (pulled, tagged) == (upgrade.pushed, upgrade.pushed)
    image = f"{REGISTRY}/upgrade/busybox@{upgrade.pushed['upgrade/busybox:1']}"
    lab.node.apply(pod("after-upgrade", "dev", "echo ran after the upgrade", image=image,
                       imagePullSecrets=[{"name": "regstack-pull"}]))  # fmt: skip
    phase = lab.node.wait_for("the pod to finish", lambda: lab.node.pod_phase("dev", "after-upgrade")
                              in ("Succeeded", "Failed") and lab.node.pod_phase("dev", "after-upgrade"))  # fmt: skip
    assert phase == "Succeeded", lab.node.kubectl("logs", "-n", "dev", "after-upgrade", check=False)
