"""A clean copy of the project to install from, as a user's `pip install <path>` would see it.

pip builds a local project in place, and setuptools reuses its `build/` folder: a stale build
(say, from before a package was renamed) would be installed instead of the sources.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from devkit.pulumi_mocks import ROOT

# Not part of the sources: environments, caches and build outputs.
LEFT_OUT = (".git", ".venv", "build", "*.egg-info", ".*_cache", ".regstack", "node_modules")


def copy_source(destination: Path) -> Path:
    """The project's sources copied to `destination`, which is returned."""
    shutil.copytree(ROOT, destination, ignore=shutil.ignore_patterns(*LEFT_OUT), symlinks=True)
    return destination
