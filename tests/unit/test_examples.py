"""Every example stack is listed in examples/README.md, is valid once its secrets are set, and
runs under the mocks (issue 25: examples validated in CI, so they cannot drift)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from components.stack_config import read_stack_file
from devkit.pulumi_mocks import ROOT, run_program
from devkit.stacks import DUMMY_SECRET, EXAMPLES, LAB_CA_ISSUED, stack_file

INDEX = (ROOT / "examples" / "README.md").read_text()
COMPONENT = {
    "microk8s-addon": "MicroK8sRegistryAddon",
    "distribution": "DistributionRegistry",
    "harbor": "HarborRegistry",
}


def test_the_examples_index_lists_every_example_stack_file() -> None:
    files = {path.name for path in (ROOT / "examples").glob("Pulumi.*.yaml")}
    listed = set(re.findall(r"^\| \[`(Pulumi\.[a-z0-9-]+\.yaml)`\]\(\1\)", INDEX, re.MULTILINE))
    assert listed == files


def test_the_stack_catalogue_holds_every_example() -> None:
    files = {path.name for path in (ROOT / "examples").glob("Pulumi.*.yaml")}
    assert {f"Pulumi.{name}.yaml" for name in EXAMPLES} == files


@pytest.mark.parametrize("example", EXAMPLES)
def test_an_example_is_refused_only_for_the_secrets_it_asks_you_to_set(example: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "components", "validate", str(stack_file(example))],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    problems = result.stderr.splitlines()
    assert problems, "an example with no secret to set would hold one in clear"
    header = stack_file(example).read_text().split("\nconfig:", 1)[0]
    for line in problems:
        path = re.fullmatch(r"regstack:(\S+): is a placeholder, not an encrypted value: .*", line)
        assert path is not None, line
        assert f"--path '{path[1]}'" in header or f"--path {path[1]} " in header, line


@pytest.mark.parametrize("example", EXAMPLES)
def test_an_example_with_its_secrets_set_registers_the_registry_of_its_backend(
    example: str,
) -> None:
    raw = read_stack_file(stack_file(example), secret=DUMMY_SECRET)
    rec = run_program(raw, existing=LAB_CA_ISSUED)
    assert len(rec.of_type(f"regstack:index:{COMPONENT[raw['backend']]}")) == 1
