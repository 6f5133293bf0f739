"""Write a stack's Kubernetes manifests to build/manifests/<stack>/ for reviewers and scanners.

    python scripts/render.py STACK

See `devkit/render.py` for how (the provider's render mode, in a throwaway copy of the project).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # devkit lives in the checkout, not in the installed package

from devkit.render import render  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stack", help="reads Pulumi.<stack>.yaml (or examples/Pulumi.<stack>.yaml)")
    args = parser.parse_args(argv)
    out = render(args.stack, ROOT / "build" / "manifests" / args.stack)
    files = sorted(out.rglob("*.yaml"))
    print(f"{len(files)} manifests in {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
