"""Engine benchmark: wall time of `pulumi preview` on an empty Python program.

Uses the locally built toolchain (scripts/toolchain.sh, built if missing), a
file:// backend and PULUMI_HOME in a temporary directory, and the repo's
.venv. Prints figures; asserts nothing.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from engine import ensure_toolchain, pulumi_env, write_program  # noqa: E402

RUNS = 5


def main() -> None:
    bin_dir = ensure_toolchain()
    with tempfile.TemporaryDirectory(prefix="regstack-bench-") as tmp:
        root = Path(tmp)
        env = pulumi_env(root / "home", root / "state")
        project = write_program(root / "empty", "bench-empty", "import pulumi\n", REPO / ".venv")
        pulumi = str(bin_dir / "pulumi")

        def run(*args: str) -> float:
            start = time.perf_counter()
            subprocess.run(
                [pulumi, *args, "--non-interactive"],
                cwd=project,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            return time.perf_counter() - start

        run("stack", "init", "bench")
        warm = run("preview")
        times = [run("preview") for _ in range(RUNS)]
        version = subprocess.run(
            [pulumi, "version"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()

    print(f"pulumi {version}: empty Python program, `pulumi preview` wall time")
    print(f"  first (warm-up) run: {warm:.2f}s")
    print(
        f"  median of {RUNS}: {statistics.median(times):.2f}s "
        f"(min {min(times):.2f}s, max {max(times):.2f}s)"
    )


if __name__ == "__main__":
    main()
