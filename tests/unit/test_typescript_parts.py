"""The TypeScript programs' npm parts: each committed program pins `@pulumi/pulumi` no newer than
the CLI (an SDK may call engine RPCs an older CLI does not serve), and scripts/npm-parts.sh
caches the packages of every one of them, so that the engine tests install them offline."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from packaging.version import Version

from devkit.pulumi_mocks import ROOT

NPM_PARTS = (ROOT / "scripts" / "npm-parts.sh").read_text()
CACHED = re.search(r"^PROGRAMS=\(([^)]*)\)$", NPM_PARTS, re.M)
assert CACHED, "scripts/npm-parts.sh names its programs in PROGRAMS=(...)"
PROGRAMS = [ROOT / program for program in CACHED[1].split()]
CLI = re.search(r"^PULUMI_VERSION=(\S+)$", (ROOT / "scripts" / "versions.env").read_text(), re.M)


def nodejs_programs() -> set[Path]:
    """Every committed Pulumi program of the nodejs runtime (not an app image's package, nor what
    `pulumi install` leaves beside a program)."""
    return {
        project.parent
        for project in ROOT.glob("**/Pulumi.yaml")
        if not {"node_modules", "sdks", ".venv", "build"} & set(project.relative_to(ROOT).parts)
        and re.search(r"^runtime: nodejs$", project.read_text(), re.M)
    }


def test_npm_parts_caches_the_packages_of_every_nodejs_program() -> None:
    assert set(PROGRAMS) == nodejs_programs()


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_program_pins_the_pulumi_sdk_no_newer_than_the_cli(program: Path) -> None:
    assert CLI
    declared = json.loads((program / "package.json").read_text())["dependencies"]
    locked = json.loads((program / "package-lock.json").read_text())["packages"]
    assert declared["@pulumi/pulumi"] == locked["node_modules/@pulumi/pulumi"]["version"]
    assert Version(declared["@pulumi/pulumi"]) <= Version(CLI[1])
