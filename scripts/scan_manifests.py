"""Scan a stack's Kubernetes manifests with checkov, offline.

    python scripts/scan_manifests.py STACK [--out DIR]

Renders the objects the stack registers (STACK: one of devkit/stacks.py's STACKS, dev, prod or
an example; under the mock harness, secrets redacted) to `<DIR>/<STACK>/` (default DIR:
build/scan, apart from `make render`'s build/manifests so that neither counts the other's files)
and runs checkov's Kubernetes checks over them. Exit 1 if a check failed.

The mock harness never sees a Helm chart's objects (the provider renders them), so for a harbor
stack the chart's objects come from the provider's render mode (`scripts/render.py`, needs the
toolchain) over the pinned chart from the vendor directory, Secrets redacted. The chart calls
Helm's `lookup`, which needs an API server even when rendering: `make cluster-up`'s by default.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # devkit lives in the checkout, not in the installed package

from devkit.checkov import scan  # noqa: E402
from devkit.manifests import chart_objects, write_manifests, write_objects  # noqa: E402
from devkit.stacks import STACKS, stack_program  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stack", choices=STACKS, help="a stack of devkit/stacks.py")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "scan")
    parser.add_argument(
        "--kubeconfig", type=Path, default=ROOT / ".regstack" / "kubeconfig",
        help="an API server for the Harbor chart's lookup calls (default: make cluster-up's)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    directory = args.out / args.stack
    for old in directory.glob("*.yaml"):
        old.unlink()
    write_manifests(stack_program(args.stack), directory)
    write_objects(chart_objects(args.stack, args.kubeconfig), directory)
    report = scan(directory)
    print(f"{args.stack}: {report.passed} passed, {len(report.failed)} failed, "
          f"{len(report.skipped)} skipped ({directory})")  # fmt: skip
    for finding in report.skipped:
        print(f"  skipped {finding.check} {finding.resource}: {finding.reason}")
    for finding in report.failed:
        print(f"  FAILED  {finding.check} {finding.resource}: {finding.name}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
