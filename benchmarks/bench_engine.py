"""Engine benchmark: `pulumi preview` wall time of the dev stack beside an empty program, for this
checkout and for the previous release (devkit/release.py: 0.1.0, from git).

The Real-engine issue's goal: our stacks' preview at most 1.5x the empty Python program's (the
engine's floor); issue 24 asks for the figures before and after. Each side gets a throwaway
control plane of its own (scripts/cluster.sh) and the locally built toolchain (scripts/toolchain.sh,
built if missing: the release pinned the same providers and SDKs, so one toolchain and the
repo's .venv serve both; the CLI is this checkout's), a file:// backend in a temporary directory; the dev stack is first
applied so that its previews diff every object against the API server, as a pull-request preview
does. Prints figures; asserts nothing.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "e2e")]

from engine import Cluster, Engine, ensure_toolchain, pulumi_env, write_program  # noqa: E402
from regstack_project import RegstackProject  # noqa: E402

from devkit.release import RELEASE, RELEASE_COMMIT, release_tree  # noqa: E402

RUNS = 3
ONE_CONFIGMAP = (
    "import pulumi_kubernetes as k8s\n"
    'k8s.core.v1.ConfigMap("bench", metadata={"name": "bench"}, data={"a": "b"})\n'
)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def median_preview(name: str, preview: Callable[[], object]) -> float:
    warm = timed(preview)
    times = [timed(preview) for _ in range(RUNS)]
    median = statistics.median(times)
    print(
        f"  {name}: median of {RUNS} {median:.2f}s "
        f"(min {min(times):.2f}s, max {max(times):.2f}s; warm-up {warm:.2f}s)"
    )
    return median


def previews(bin_dir: Path, root: Path, release: Path | None) -> tuple[float, float]:
    """(empty program, dev stack) preview medians on a control plane of their own; the dev stack
    is this checkout's, or the release's program and stack file in `release`."""
    cluster = Cluster.up(root / "cluster")
    try:
        env = pulumi_env(root / "home", root / "state")
        env["KUBECONFIG"] = str(cluster.kubeconfig)
        engine = Engine(bin_dir=bin_dir, cluster=cluster, env=env, venv=REPO / ".venv")
        print(f"  pulumi {engine.pulumi('version', cwd=root).stdout.strip()}")
        empty = write_program(root / "empty", "bench-empty", "import pulumi\n", engine.venv)
        engine.pulumi("stack", "init", "bench", cwd=empty)
        floor = median_preview("empty Python program", lambda: engine.pulumi("preview", cwd=empty))

        if release is None:  # what any Kubernetes program pays: pulumi_kubernetes and the provider
            one = write_program(root / "one", "bench-one", ONE_CONFIGMAP, engine.venv)
            engine.pulumi("stack", "init", "bench", cwd=one)
            engine.pulumi("up", "--yes", "--skip-preview", cwd=one)
            median_preview("one ConfigMap, applied", lambda: engine.pulumi("preview", cwd=one))

        cluster.create_namespace("observability")  # the dev stack's dashboard goes there
        source = None if release is None else release / "Pulumi.dev.yaml"
        dev = RegstackProject.copy(engine, root, "dev", source=source)
        if release is not None:
            dev.use_program(release / "__main__.py")
        dev.set_secret("regstack:auth.users[0].password", "bench-lab-password")
        dev.up()
        stack = median_preview("dev stack, applied, no changes", lambda: dev.run("preview"))
    finally:
        cluster.down()
    print(f"  ratio dev / empty: {stack / floor:.2f}x (goal <= 1.5x)")
    return floor, stack


def main() -> None:
    bin_dir = ensure_toolchain()
    with tempfile.TemporaryDirectory(prefix="regstack-bench-") as tmp:
        root = Path(tmp)
        print("`pulumi preview` wall time against a local API server; this checkout:")
        after = previews(bin_dir, root / "checkout", None)
        print(f"release {RELEASE} ({RELEASE_COMMIT}):")
        before = previews(bin_dir, root / "release", release_tree(root / "release-tree"))
    print(f"dev stack preview, release {RELEASE} -> this checkout: {before[1]:.2f}s -> "
          f"{after[1]:.2f}s (empty program {before[0]:.2f}s -> {after[0]:.2f}s)")  # fmt: skip


if __name__ == "__main__":
    main()
