"""Bytes the GC CronJob's own command reclaims from the GC test matrix, per Distribution line.

The matrix (devkit/gc_matrix.py): a multi-arch index, a buildx index with an attestation,
a cosign signature, OCI referrers, an image in two repositories, and a `latest` moved off a
2 MiB image. Each line runs the script regstack renders for it: 3.1.2 with --delete-untagged,
Debian's 2.8.2 without. Prints blob bytes on disk before and after, the bytes reclaimed and the
GC wall time; asserts nothing.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devkit.gc_matrix import collect, gc_script  # noqa: E402 -- needs the root on sys.path

LINES = {
    "3.1.2 (--delete-untagged)": (3, {}),
    "2.8.2 (no flag)": (2, {"registry": {"version": "2.8.3"}, "gc": {"delete_untagged": False}}),
}


def main() -> None:
    print(f"{'line':28} {'before':>12} {'after':>12} {'reclaimed':>12} {'GC s':>6}")
    for label, (line, raw) in LINES.items():
        with tempfile.TemporaryDirectory(prefix="regstack-gc-bench-") as workdir:
            done = collect(Path(workdir), line, gc_script(raw))
            done.registry.stop()
            print(f"{label:28} {done.before:>12,} {done.after:>12,} "
                  f"{done.before - done.after:>12,} {done.seconds:>6.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
