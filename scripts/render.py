"""Write a stack's Kubernetes manifests to build/manifests/<stack>/ for reviewers and scanners.

    python scripts/render.py STACK [--kubeconfig FILE]

Offline, as `make scan`: a harbor stack's chart is the pinned one from the vendor directory, and
its `lookup` calls go to an API server (`make cluster-up`'s by default; nothing is applied). See `devkit/render.py` for how (the provider's render mode, in a throwaway copy of the project).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # devkit lives in the checkout, not in the installed package

from devkit.render import offline_overrides, render, renders_a_chart  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stack", help="reads Pulumi.<stack>.yaml (or examples/Pulumi.<stack>.yaml)")
    parser.add_argument(
        "--kubeconfig", type=Path, default=ROOT / ".regstack" / "kubeconfig",
        help="a harbor stack's API server for the chart's lookup calls (default: make cluster-up's)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    # Offline as `make scan`: a harbor stack's chart comes from the vendor directory.
    kubeconfig = args.kubeconfig if renders_a_chart(args.stack) else None
    out = render(
        args.stack,
        ROOT / "build" / "manifests" / args.stack,
        offline_overrides(args.stack),
        kubeconfig,
    )
    files = sorted(out.rglob("*.yaml"))
    print(f"{len(files)} manifests in {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
