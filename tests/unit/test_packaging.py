"""`components/` installs as the package `regstack`, and another Pulumi program, one with its own
`components` package, can build a registry with it."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from devkit.pulumi_mocks import ROOT
from devkit.source_tree import copy_source

CONSUMER = """
import json, sys
import pulumi
import components
import regstack
from regstack.config import load_config
from regstack.platform import RegistryPlatform

class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        registered.append(args.typ)
        return args.name + "-id", args.inputs
    def call(self, args):
        return {}

registered = []
pulumi.runtime.set_mocks(Mocks(), project="consumer", stack="test", preview=False)

@pulumi.runtime.test
def build():
    RegistryPlatform("shared", load_config({"registry": {"namespace": "images"}}))

build()
print(json.dumps({"file": regstack.__file__, "own": components.OWN, "types": sorted(set(registered))}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project installed as another program would install it."""
    target = tmp_path_factory.mktemp("site")
    source = copy_source(tmp_path_factory.mktemp("source") / "regstack")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    return target


def test_an_installed_copy_builds_a_registry_in_another_program(
    installed: Path, tmp_path: Path
) -> None:
    target = installed
    program = tmp_path / "consumer" / "main.py"
    program.parent.mkdir()
    program.write_text(CONSUMER)
    # The consumer's own package of the same name as our folder (a layout Pulumi's guides use).
    (program.parent / "components").mkdir()
    (program.parent / "components" / "__init__.py").write_text("OWN = 'consumer'\n")
    result = subprocess.run(
        [sys.executable, str(program)], capture_output=True, text=True, check=False,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}, cwd=program.parent,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = __import__("json").loads(result.stdout.splitlines()[-1])
    assert report["file"].startswith(str(target / "regstack"))
    assert report["own"] == "consumer"
    assert "regstack:index:DistributionRegistry" in report["types"]


def test_an_installed_copy_is_regstack_only_and_its_command_line_runs(installed: Path) -> None:
    assert not (installed / "components").exists()
    result = subprocess.run(
        [sys.executable, "-m", "regstack", "validate", str(ROOT / "Pulumi.dev.yaml")],
        capture_output=True, text=True, check=False,
        env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"}, cwd=installed,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "valid (dev profile" in result.stdout


def test_every_subpackage_of_the_folder_is_installed() -> None:
    """pyproject.toml lists them (the folder is mapped to another name, so no `find`)."""
    listed = re.search(r"^packages = \[(.*)\]$", (ROOT / "pyproject.toml").read_text(), re.M)
    assert listed is not None
    folders = {
        ".".join(("regstack", *init.parent.relative_to(ROOT / "components").parts))
        for init in (ROOT / "components").rglob("__init__.py")
    }
    assert set(re.findall(r'"([^"]+)"', listed[1])) == folders


def test_the_package_imports_itself_only_relatively() -> None:
    """An absolute `components` import would load a consumer's package of that name once installed."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "relative_imports.py"), "--check", "components"],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout


def test_an_installed_copy_declares_and_carries_the_apache_2_license(installed: Path) -> None:
    (info,) = installed.glob("regstack-*.dist-info")
    assert "License-Expression: Apache-2.0" in (info / "METADATA").read_text().splitlines()
    license_text = (info / "licenses" / "LICENSE").read_text()
    assert license_text == (ROOT / "LICENSE").read_text()
    for part in (
        "Apache License\n                           Version 2.0, January 2004",
        "END OF TERMS AND CONDITIONS",
        "APPENDIX: How to apply the Apache License",
    ):
        assert part in license_text  # the whole text, not a summary of it


def test_the_changelogs_newest_release_is_the_packaged_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## (\S+)", changelog, re.MULTILINE)
    version = re.search(
        r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE
    )
    assert version is not None
    assert releases[:2] == ["Unreleased", version[1]]


def install_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {(req := Requirement(line)).name: req for line in project["dependencies"]}


def exact_pins(path: Path) -> dict[str, str]:
    """`name==version` lines of a pip requirements file such as constraints.txt."""
    lines = path.read_text().splitlines()
    return dict(line.split("==") for line in lines if line and not line.startswith("#"))


def constraints() -> dict[str, str]:
    return exact_pins(ROOT / "constraints.txt")


def test_each_install_requirement_is_a_range_from_the_tested_pin_to_the_next_major() -> None:
    """A consumer keeps its newer SDKs; the oldest version allowed is the one tested here."""
    pins = constraints()
    for name, requirement in install_requirements().items():
        oldest = Version(pins[name])
        assert str(requirement.specifier) == f"<{oldest.major + 1},>={oldest}", name


def toolchain_versions() -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in (ROOT / "scripts/versions.env").read_text().splitlines()
        if line and not line.startswith("#")
    )


def test_the_provider_pins_are_the_versions_the_toolchain_builds() -> None:
    """A provider SDK asks the engine for its plugin at the SDK's own version."""
    built = toolchain_versions()
    pins = constraints()
    assert pins["pulumi-kubernetes"] == built["KUBERNETES_PROVIDER_VERSION"]
    assert pins["pulumi-command"] == built["COMMAND_PROVIDER_VERSION"]


def test_the_cli_is_not_older_than_either_end_of_the_pulumi_sdk_range() -> None:
    """Both ends (constraints.txt, tests/library/newest.txt) run under the toolchain's CLI, and a
    newer SDK may call engine RPCs an older CLI does not serve. The SDK needs no plugin of the
    CLI's version, so the two need not be equal (the module proxy serves CLI releases PyPI lacks)."""
    cli = Version(toolchain_versions()["PULUMI_VERSION"])
    assert Version(constraints()["pulumi"]) <= cli
    assert Version(exact_pins(ROOT / "tests/library/newest.txt")["pulumi"]) <= cli


def test_this_environment_runs_the_pinned_versions() -> None:
    """`make setup` installs with the constraints: a range alone would pull the newest SDKs."""
    for name, version in constraints().items():
        assert importlib.metadata.version(name) == version, name


def test_this_checkouts_environment_imports_components_from_any_directory(tmp_path: Path) -> None:
    """The engine tests, the render and the benchmarks run copies of the program elsewhere."""
    done = subprocess.run(
        [sys.executable, "-c", "import components; print(components.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(ROOT / "components" / "__init__.py")
