"""The stack catalogue: which stack files the project ships, and each one under the mock harness.

Tests, `scripts/` and `benchmarks/` all read stacks through here, so a new stack file is added
in one place.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from components.stack_config import read_stack_file
from devkit.pulumi_mocks import Recorder, run_program

ROOT = Path(__file__).resolve().parents[1]
STACKS = ("dev", "prod", "prod-distribution", "prod-s3")
"""The committed stacks: two at the top, the documented variants under examples/."""
# Long enough for harbor.secret_seed (32+) and short enough for bcrypt (72 bytes at most).
DUMMY_SECRET = "policy-test-dummy-secret-0123456789abcdef"


def stack_file(stack: str) -> Path:
    """`Pulumi.<stack>.yaml` at the top, else the documented variant under examples/."""
    top = ROOT / f"Pulumi.{stack}.yaml"
    return top if top.exists() else ROOT / "examples" / top.name


STACK_FILES = {stack: stack_file(stack) for stack in STACKS}


@cache
def stack_program(stack: str) -> Recorder:
    """The stack's program evaluated once under mocks (evaluation costs about a second)."""
    return run_program(read_stack_file(STACK_FILES[stack], secret=DUMMY_SECRET))
