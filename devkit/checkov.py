"""checkov's Kubernetes checks over a directory of manifests, through scripts/checkov.sh (offline)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "checkov.sh"
VERSION = next(
    line.split("=", 1)[1] for line in SCRIPT.read_text().splitlines() if line.startswith("VERSION=")
)
VENV = Path.home() / ".cache" / "regstack" / f"checkov-{VERSION}"


@dataclass(frozen=True)
class Finding:
    check: str
    resource: str
    name: str
    reason: str | None = None
    """Why it is skipped: the text after `=` in its checkov.io/skip annotation."""


@dataclass(frozen=True)
class Report:
    passed: int
    failed: list[Finding]
    skipped: list[Finding]


def installed() -> bool:
    return (VENV / ".installed").exists()


def scan(directory: Path) -> Report:
    """`checkov -d directory --framework kubernetes`; exits 1 on failed checks, so not checked."""
    result = subprocess.run(
        ["bash", str(SCRIPT), "-d", str(directory), "--framework", "kubernetes", "--compact",
         "--output", "json"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if result.returncode not in (0, 1):
        raise RuntimeError(f"checkov failed ({result.returncode}):\n{result.stderr}")
    document = json.loads(result.stdout)
    # With nothing to check, checkov prints an empty summary instead of a report.
    results = document.get("results", {}) if isinstance(document, dict) else {}

    def findings(key: str) -> list[Finding]:
        return [
            Finding(c["check_id"], c["resource"], c["check_name"],
                    (c.get("check_result") or {}).get("suppress_comment"))
            for c in results.get(key, [])
        ]  # fmt: skip

    return Report(len(results.get("passed_checks", [])), findings("failed_checks"),
                  findings("skipped_checks"))  # fmt: skip
