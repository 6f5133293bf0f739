"""The README's library example runs as written, with its password from `require_secret`, and a
secret given as an Output is checked when it resolves (components/config/deferred.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import bcrypt
import pulumi
import pytest

from components.config import ConfigError, load_config
from components.platform import RegistryPlatform
from devkit.pulumi_mocks import ROOT, evaluate, unwrap
from devkit.readme import library_example

HARNESS = ROOT / "tests" / "library" / "example_under_mocks.py"
PASSWORD = "correct-Horse-9-battery"


def run_example(tmp_path: Path, password: str) -> dict[str, Any]:
    program = tmp_path / "__main__.py"
    program.write_text(library_example())
    done = subprocess.run(
        [sys.executable, str(HARNESS), str(program), "ci-password", password],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.splitlines()[-1]))


def test_the_readme_library_example_runs_as_written_with_its_secret_from_stack_config(
    tmp_path: Path,
) -> None:
    report = run_example(tmp_path, PASSWORD)
    assert report["error"] is None
    assert "regstack:index:RegistryPlatform" in report["types"]
    assert "regstack:index:RegistryAuth" in report["types"]
    assert report["plaintext"] is False


def test_a_secret_that_resolves_to_a_bad_value_ends_the_run_with_its_path_and_the_rule(
    tmp_path: Path,
) -> None:
    report = run_example(tmp_path, "x" * 80)
    assert report["error"] == (
        "invalid stack configuration:\nregstack:auth.users[0].password: a password must be "
        "1-72 bytes in UTF-8 (bcrypt ignores the rest), this one is 80"
    )


def test_a_password_given_as_an_output_is_the_one_the_htpasswd_file_accepts() -> None:
    def build() -> None:
        password = pulumi.Output.secret(PASSWORD)
        users = [{"name": "ci", "password": password}]
        RegistryPlatform("rs", load_config({"auth": {"enabled": True, "users": users}}))

    data = unwrap(evaluate(build).named("rs-auth-htpasswd").inputs["stringData"])
    user, _, digest = data["htpasswd"].strip().partition(":")
    assert user == "ci"
    assert bcrypt.checkpw(PASSWORD.encode(), digest.encode())


def test_an_output_where_a_plain_value_is_needed_is_a_problem_at_its_path() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({"gc": {"schedule": pulumi.Output.from_input("0 2 * * 0")}})
    assert [(p.path, p.message) for p in raised.value.problems] == [
        ("gc.schedule", "is a pulumi Output, which only a secret (a password, a key) and the "
         "keys the config reference marks `may be an Output` take: give this value as a plain one"),
    ]  # fmt: skip
