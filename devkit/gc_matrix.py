"""The GC test matrix: the images people push, and the GC CronJob's own command line run on them.

`gc_script` renders the stack under Pulumi mocks and reads the `gc` container's `sh -c` script
from the CronJob; `run_gc` runs it after replacing only its in-pod paths (`IN_POD_PATHS`: the
registry volume, the config mount, the shared emptyDir) with the test's directories, with the
registry's environment, and with `registry` on PATH being the binary of the line under test. The
program name, flags and every other character stay as rendered. Shared by
tests/registry/test_gc_matrix_real.py and benchmarks/bench_gc_matrix.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components import distribution_config as render
from components import garbage_collection
from components.distribution_config import RenderSettings
from devkit.oci import Descriptor, Layout, cosign_tag, digest_of
from devkit.pulumi_mocks import Recorder, evaluate, platform
from devkit.registry import RunningRegistry, require, skopeo, start_registry

IN_POD_PATHS = (render.DATA_DIR, render.CONFIG_DIR, garbage_collection.SHARED)
"""What `run_gc` replaces in the rendered script, and nothing else."""

MiB = 1024 * 1024


def gc_container(rec: Recorder) -> dict[str, Any]:
    spec = rec.named("rs-gc-cronjob").inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (gc,) = [c for c in spec["containers"] if c["name"] == "gc"]
    return dict(gc)


def gc_script(raw: dict[str, Any], validated: bool = True) -> str:
    """The `gc` container's script for the `regstack:` config `raw`. `validated=False` renders
    without the cross-field checks, to show what a refused combination would do."""
    if validated:
        rec = platform(raw)
    else:
        from components.config import RegstackConfig
        from components.platform import RegistryPlatform

        cfg = RegstackConfig.model_validate(raw)
        rec = evaluate(lambda: RegistryPlatform("rs", cfg))
    command = gc_container(rec)["command"]
    assert command[:2] == ["sh", "-c"], command
    return str(command[2])


def run_gc(
    script: str, registry: RunningRegistry, workdir: Path
) -> subprocess.CompletedProcess[str]:
    """Run the rendered script against the stopped `registry`'s storage and config."""
    assert registry.process.poll() is not None, "GC runs while the registry is stopped"
    shared, bin_dir = workdir / "gc-exchange", workdir / "gc-bin"
    shared.mkdir(parents=True, exist_ok=True)
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / "registry").unlink(missing_ok=True)
    (bin_dir / "registry").symlink_to(shutil.which(registry.binary) or registry.binary)
    local = {render.DATA_DIR: str(registry.config_path.parent / "data"),
             render.CONFIG_DIR: str(registry.config_path.parent),
             garbage_collection.SHARED: str(shared)}  # fmt: skip
    pattern = re.compile(
        "|".join(re.escape(p) for p in sorted(IN_POD_PATHS, key=len, reverse=True))
    )
    local_script = pattern.sub(lambda m: local[m.group(0)], script)
    env = {**registry.env, "PATH": f"{bin_dir}{os.pathsep}{registry.env.get('PATH', os.defpath)}"}
    done = subprocess.run(["sh", "-c", local_script], capture_output=True, text=True, env=env,
                          timeout=600)  # fmt: skip
    exit_file = shared / "gc-exit"
    assert exit_file.read_text().strip() == "0", f"{local_script}\n{done.stdout}\n{done.stderr}"
    return done


@dataclass
class Pushed:
    """What the matrix pushed: tags that must pull in full after GC, and what must go."""

    tagged: list[str] = field(default_factory=list)
    """`repo:tag` references."""
    superseded: list[tuple[str, Descriptor]] = field(default_factory=list)
    """(repo, manifest) that lost their tag and that no other repository tags:
    --delete-untagged removes them."""
    superseded_but_tagged_elsewhere: list[tuple[str, Descriptor]] = field(default_factory=list)
    """(repo, manifest) that lost their tag here but that another repository tags."""
    unique_blobs: list[Descriptor] = field(default_factory=list)
    """Blobs only the superseded manifests referenced."""
    digest_only_referrers: list[tuple[str, Descriptor]] = field(default_factory=list)
    """(repo, artifact) pushed by digest with a `subject`, never tagged."""
    shared_blobs: list[Descriptor] = field(default_factory=list)
    """Blobs of a superseded manifest that a tagged image in another repository still uses."""


def _copy(layout: Layout, ref: str, registry: RunningRegistry, destination: str) -> None:
    skopeo("copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
           f"oci:{layout.directory}:{ref}", f"docker://{registry.host}/{destination}")  # fmt: skip


def push_matrix(registry: RunningRegistry, layout: Layout) -> Pushed:
    """Push every case of the matrix to `registry`."""
    pushed = Pushed()

    def tag(ref: str, descriptor: Descriptor, destination: str) -> None:
        layout.name(ref, descriptor)
        _copy(layout, ref, registry, destination)
        pushed.tagged.append(destination)

    # A tagged multi-arch index: its platform manifests are untagged.
    amd64, arm64 = layout.image("multi-amd64", MiB), layout.image("multi-arm64", MiB, "arm64")
    tag("multi", layout.index([amd64, arm64]), "multi:1.0")
    # docker buildx (docker-container driver): one platform plus an unknown/unknown attestation.
    built = layout.image("buildx-amd64", MiB)
    tag("buildx", layout.index([built, layout.attestation(built, "buildx")]), "buildx:latest")
    # cosign: the signature is a manifest under the tag sha256-<digest>.sig in the same repository.
    signed = layout.image("signed", MiB)
    tag("signed", signed, "signed:1.0")
    tag("signed-sig", layout.signature(signed), f"signed:{cosign_tag(signed)}")
    # OCI 1.1 referrers (subject): one pushed with a tag, one only by digest.
    subject = layout.image("sbom-subject", MiB)
    tag("sbom-subject", subject, "sbom:1.0")
    tag("sbom-tagged", layout.referrer(subject, "tagged"), "sbom:sbom-1.0")
    untagged_referrer = layout.referrer(subject, "by-digest")
    layout.name("sbom-by-digest", untagged_referrer)
    _copy(layout, "sbom-by-digest", registry, f"sbom@{digest_of(untagged_referrer)}")
    pushed.digest_only_referrers.append(("sbom", untagged_referrer))
    # Blobs shared across repositories, and a tag moved off one of them.
    common = layout.image("shared", MiB)
    tag("shared", common, "shared-b:1.0")
    layout.name("shared-a-old", common)
    _copy(layout, "shared-a-old", registry, "shared-a:1.0")
    tag("shared-a-new", layout.image("shared-a-v2", MiB), "shared-a:1.0")
    pushed.superseded_but_tagged_elsewhere.append(("shared-a", common))
    pushed.shared_blobs += _blobs(layout, common)
    # Superseded untagged manifests: `latest` moved from v1 to v2.
    old = layout.image("app-v1", 2 * MiB)
    layout.name("app-v1", old)
    _copy(layout, "app-v1", registry, "app:latest")
    tag("app-v2", layout.image("app-v2", 2 * MiB), "app:latest")
    pushed.superseded.append(("app", old))
    pushed.unique_blobs += _blobs(layout, old)
    return pushed


def _blobs(layout: Layout, manifest: Descriptor) -> list[Descriptor]:
    """The config and layers a manifest references, read back from the layout."""
    document = json.loads(blob_path_in_layout(layout, manifest).read_text())
    return [document["config"], *document["layers"]]


def blob_path_in_layout(layout: Layout, descriptor: Descriptor) -> Path:
    return layout.directory / "blobs" / "sha256" / digest_of(descriptor).split(":")[1]


def blob_on_disk(registry: RunningRegistry, descriptor: Descriptor) -> Path:
    """Where the filesystem driver keeps a blob's bytes."""
    hexdigest = digest_of(descriptor).split(":")[1]
    data = registry.config_path.parent / "data"
    return data / "docker/registry/v2/blobs/sha256" / hexdigest[:2] / hexdigest / "data"


def blob_bytes(registry: RunningRegistry) -> int:
    """Bytes of every blob file on disk (the storage GC reclaims)."""
    root = registry.config_path.parent / "data" / "docker/registry/v2/blobs"
    return sum(p.stat().st_size for p in root.rglob("data") if p.is_file())


def pulls_in_full(registry: RunningRegistry, reference: str, destination: Path) -> str:
    """'' when `skopeo copy --all` fetches the image and all it references, else skopeo's error."""
    done = skopeo("copy", "--all", "--preserve-digests", "--src-tls-verify=false",
                  f"docker://{registry.host}/{reference}", f"oci:{destination}:pulled", check=False)  # fmt: skip
    return "" if done.returncode == 0 else done.stderr


def manifest_status(registry: RunningRegistry, repository: str, descriptor: Descriptor) -> int:
    """HTTP status of GET /v2/<repository>/manifests/<digest>."""
    request = urllib.request.Request(
        f"{registry.url}/v2/{repository}/manifests/{digest_of(descriptor)}",
        headers={"Accept": descriptor["mediaType"]},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


@dataclass
class Collected:
    registry: RunningRegistry
    """Serving again after GC."""
    pushed: Pushed
    before: int
    """Blob bytes on disk before GC."""
    after: int
    seconds: float
    """Wall time of the GC script."""


def collect(workdir: Path, line: int, script: str) -> Collected:
    """Push the matrix to a registry of `line`, stop it, run the rendered GC script, serve again."""
    require("skopeo")
    registry = start_registry(workdir / "registry", RenderSettings(line=line))
    pushed = push_matrix(registry, Layout(workdir / "layout"))
    registry.stop()
    before, started = blob_bytes(registry), time.monotonic()
    run_gc(script, registry, workdir)
    seconds = time.monotonic() - started
    registry.start()
    return Collected(registry, pushed, before, blob_bytes(registry), seconds)
