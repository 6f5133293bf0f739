"""regstack installed into another Pulumi project, one with its own `components` package and the
newest SDKs PyPI serves (newest.txt): nothing is downgraded, both packages import, and the README's
example runs as written. This repository's unit tier on those SDKs is `make test-newest`.

Under Pulumi's mocks only; the engine tests' run on the newest `pulumi` SDK is
`make test-newest-engine` (scripts/newest-env.sh says why its providers stay at the pinned ones). Needs PyPI the first
time; the environment is cached after that.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from devkit.readme import library_example
from devkit.source_tree import copy_source
from tests.library.consumer import copy_environment, installed, newest, pip
from tests.unit.test_packaging import install_requirements

HARNESS = Path(__file__).with_name("example_under_mocks.py")
OWN_PACKAGE = "OWN = 'the consumer project'\n"

pytestmark = pytest.mark.pypi


@pytest.fixture(scope="module")
def consumer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(python of the consumer's environment after `pip install regstack`, `pip list` before)."""
    python = copy_environment(tmp_path_factory.mktemp("consumer") / "venv")
    before = installed(python)
    source = copy_source(tmp_path_factory.mktemp("source") / "regstack")
    pip(python, "install", "-q", str(source))  # as a user would: no constraints
    return python, before


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The consumer's project directory: its own `components` package, the README's example."""
    (tmp_path / "components").mkdir()
    (tmp_path / "components" / "__init__.py").write_text(OWN_PACKAGE)
    (tmp_path / "__main__.py").write_text(library_example())
    return tmp_path


def test_the_newest_versions_tested_are_inside_the_install_ranges() -> None:
    requirements = install_requirements()
    for name, version in newest().items():
        assert Version(version) in Requirement(str(requirements[name])).specifier, name


def test_installing_regstack_downgrades_or_changes_nothing_the_project_had(
    consumer: tuple[Path, dict[str, str]],
) -> None:
    python, before = consumer
    after = installed(python)
    changed = {name: (version, after.get(name)) for name, version in before.items()}
    assert {name: pair for name, pair in changed.items() if pair[0] != pair[1]} == {}
    assert after["pulumi"] == newest()["pulumi"]
    assert after["pulumi-kubernetes"] == newest()["pulumi-kubernetes"]
    assert set(after) - set(before) == {"regstack"}


def test_regstack_and_the_projects_own_components_package_both_import(
    consumer: tuple[Path, dict[str, str]], project: Path
) -> None:
    python, _ = consumer
    check = "import components, regstack.platform; print(components.OWN, regstack.__file__)"
    done = subprocess.run(
        [str(python), "-c", check], cwd=project, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    own, regstack_file = done.stdout.rsplit(" ", 1)
    assert own == "the consumer project"
    assert "site-packages/regstack/" in regstack_file


def test_the_readme_example_runs_as_written_on_the_newest_sdks(
    consumer: tuple[Path, dict[str, str]], project: Path
) -> None:
    python, _ = consumer
    done = subprocess.run(
        [str(python), str(HARNESS), str(project / "__main__.py"), "ci-password", "Newest-Sdk-42x"],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["error"] is None
    assert "regstack:index:RegistryPlatform" in report["types"]
    assert report["plaintext"] is False
