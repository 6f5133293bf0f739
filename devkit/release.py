"""regstack's releases, from this clone's git history: what their users have (the program, the
library and the dev stack file each shipped). The upgrade test (tests/node) applies each and
upgrades it; the engine benchmark times the first one's preview beside this checkout's."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from devkit.pulumi_mocks import ROOT

RELEASES = {"0.1.0": "9655da1", "0.2.0": "4dea043"}
"""Each release (CHANGELOG.md's `## 0.1.0 - 2026-12-01`...) -> its commit: a stack a user made
with any of them must upgrade."""
RELEASE, RELEASE_COMMIT = "0.1.0", RELEASES["0.1.0"]
"""The one before issue 24's work: the benchmark's `before`."""
RELEASE_FILES = ("__main__.py", "components", "Pulumi.dev.yaml")


class ReleaseMissing(RuntimeError):
    """The commit is not in this clone (a shallow clone, say)."""


def release_tree(destination: Path, commit: str = RELEASE_COMMIT) -> Path:
    """The release's files (those of another `commit`, if given) extracted into `destination`,
    which is returned."""
    found = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{commit}^{{commit}}"],
                           capture_output=True, text=True)  # fmt: skip
    if found.returncode != 0:
        raise ReleaseMissing(
            f"commit {commit} (releases: {RELEASES}) is not in this clone's history: fetch it "
            "(git fetch --unshallow, or the branch holding it)"
        )
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, *RELEASE_FILES],
                             capture_output=True, check=True).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")
    return destination
