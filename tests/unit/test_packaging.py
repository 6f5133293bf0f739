"""`components` installs as a package and another Pulumi program can build a registry with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devkit.pulumi_mocks import ROOT

CONSUMER = """
import json, sys
import pulumi
import components
from components.config import load_config
from components.platform import RegistryPlatform

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
print(json.dumps({"file": components.__file__, "types": sorted(set(registered))}))
"""


def test_an_installed_copy_builds_a_registry_in_another_program(tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    program = tmp_path / "consumer" / "main.py"
    program.parent.mkdir()
    program.write_text(CONSUMER)
    result = subprocess.run(
        [sys.executable, str(program)], capture_output=True, text=True, check=False,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}, cwd=program.parent,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = __import__("json").loads(result.stdout.splitlines()[-1])
    assert report["file"].startswith(str(target))
    assert "regstack:index:DistributionRegistry" in report["types"]
