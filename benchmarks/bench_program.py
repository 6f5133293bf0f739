"""Program cost under mocks, against the floor of importing pulumi + pulumi_kubernetes.

Prints medians; asserts nothing. Goal: a full prod evaluation costs at most 1.5x the bare import,
and evaluation time grows linearly with the number of pull-secret namespaces.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.stack_config import read_stack_file  # noqa: E402
from devkit.pulumi_mocks import run_program  # noqa: E402

RUNS = 5


def median_seconds(action: Callable[[], Any], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bare_import() -> None:
    subprocess.run([sys.executable, "-c", "import pulumi, pulumi_kubernetes"], check=True)


def stack_config(stack: str) -> dict[str, Any]:
    # Decrypted secrets stand in as a dummy long enough for harbor.secret_seed.
    return read_stack_file(
        ROOT / f"Pulumi.{stack}.yaml", secret="bench-password-long-enough-for-harbor"
    )


def with_namespaces(count: int) -> dict[str, Any]:
    config = stack_config("dev")
    config["pull_secrets"] = {"namespaces": [f"team-{i}" for i in range(count)]}
    return config


def main() -> None:
    floor = median_seconds(bare_import)
    print(f"import pulumi + pulumi_kubernetes (fresh interpreter): {floor * 1000:8.1f} ms")
    run_program(stack_config("dev"))  # warm imports, so the rows below are evaluation only
    for stack in ("dev", "prod"):
        config = stack_config(stack)
        seconds = median_seconds(partial(run_program, config))
        print(f"evaluate {stack:4} program under mocks:              {seconds * 1000:8.1f} ms"
              f"  ({seconds / floor:.2f}x the import)")  # fmt: skip
    print("pull-secret namespaces -> evaluation time, and marginal cost per added namespace:")
    previous: tuple[int, float] | None = None
    for count in (10, 100, 500):
        config = with_namespaces(count)
        seconds = median_seconds(partial(run_program, config), runs=3)
        slope = ""
        if previous:
            slope = f"  (+{(seconds - previous[1]) * 1000 / (count - previous[0]):.1f} ms each)"
        print(f"  {count:4} namespaces: {seconds * 1000:8.1f} ms{slope}")
        previous = (count, seconds)


if __name__ == "__main__":
    main()
