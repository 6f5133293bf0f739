"""The published lab passphrase may encrypt a lab's secrets, never a prod profile's.

`regstack-local` is in the README and in scripts/pulumi-env.sh so the committed dev stack runs with
no manual step. A stack whose secrets provider is that passphrase is as good as plaintext to anyone
who has read the README; the engine can only decrypt such a stack when it was handed that
passphrase, so the passphrase the engine holds is what tells.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from .config import Problem
from .strict_yaml import strict_load

PUBLISHED_PASSPHRASE = "regstack-local"


def engine_passphrase(environ: Mapping[str, str]) -> str | None:
    """The passphrase the Pulumi CLI reads, as it does: the variable, else the file it names."""
    if "PULUMI_CONFIG_PASSPHRASE" in environ:
        return environ["PULUMI_CONFIG_PASSPHRASE"]
    path = environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError:
        return None


def uses_passphrase_provider(stack_file: Path) -> bool:
    """Whether the stack's secrets are passphrase-encrypted: its file then holds the salt."""
    try:
        document = strict_load(stack_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):  # no file, or one the engine would refuse first
        return False
    return isinstance(document, dict) and bool(document.get("encryptionsalt"))


def published_passphrase_problem(
    profile: str, stack_file: Path, environ: Mapping[str, str]
) -> Problem | None:
    """A Problem if a prod-profile stack's secrets are under the published passphrase."""
    if profile != "prod" or not uses_passphrase_provider(stack_file):
        return None
    if engine_passphrase(environ) != PUBLISHED_PASSPHRASE:
        return None
    return Problem(
        "profile",
        f"the prod profile's secrets are encrypted with the published lab passphrase "
        f"`{PUBLISHED_PASSPHRASE}` (scripts/pulumi-env.sh's, for the dev stack): anyone can "
        f"decrypt them. Re-encrypt them under your own secrets provider "
        f"(`pulumi stack change-secrets-provider`, e.g. a new passphrase or a KMS key) and set "
        f"PULUMI_CONFIG_PASSPHRASE to yours",
    )
