"""Engine benchmark: `pulumi preview` wall time of the dev stack beside an empty program.

The Real-engine issue's goal: our stacks' preview at most 1.5x the empty Python program's
(the engine's floor). Both run with the locally built toolchain (scripts/toolchain.sh, built
if missing), a file:// backend in a temporary directory and the repo's .venv; the dev stack
is first applied to a throwaway control plane (scripts/cluster.sh) so that its previews diff
every object against the API server, as a pull-request preview does. Prints figures; asserts
nothing.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from engine import Cluster, Engine, ensure_toolchain, pulumi_env, write_program  # noqa: E402
from regstack_project import RegstackProject  # noqa: E402

RUNS = 5
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


def main() -> None:
    bin_dir = ensure_toolchain()
    with tempfile.TemporaryDirectory(prefix="regstack-bench-") as tmp:
        root = Path(tmp)
        cluster = Cluster.up(root / "cluster")
        try:
            env = pulumi_env(root / "home", root / "state")
            env["KUBECONFIG"] = str(cluster.kubeconfig)
            engine = Engine(bin_dir=bin_dir, cluster=cluster, env=env, venv=REPO / ".venv")
            version = engine.pulumi("version", cwd=root).stdout.strip()
            print(f"pulumi {version}: `pulumi preview` wall time against a local API server")

            empty = write_program(root / "empty", "bench-empty", "import pulumi\n", engine.venv)
            engine.pulumi("stack", "init", "bench", cwd=empty)
            floor = median_preview(
                "empty Python program", lambda: engine.pulumi("preview", cwd=empty)
            )

            # What any Kubernetes program pays: pulumi_kubernetes' imports and the provider.
            one = write_program(root / "one", "bench-one", ONE_CONFIGMAP, engine.venv)
            engine.pulumi("stack", "init", "bench", cwd=one)
            engine.pulumi("up", "--yes", "--skip-preview", cwd=one)
            kubernetes = median_preview(
                "one ConfigMap, applied", lambda: engine.pulumi("preview", cwd=one)
            )

            cluster.create_namespace("observability")  # the dev stack's dashboard goes there
            dev = RegstackProject.copy(engine, root, "dev")
            dev.set_secret("regstack:auth.users[0].password", "bench-lab-password")
            dev.up()
            stack = median_preview("dev stack, applied, no changes", lambda: dev.run("preview"))
        finally:
            cluster.down()
    print(f"  ratio dev / empty: {stack / floor:.2f}x (goal <= 1.5x)")
    print(f"  ratio dev / one ConfigMap: {stack / kubernetes:.2f}x")


if __name__ == "__main__":
    main()
