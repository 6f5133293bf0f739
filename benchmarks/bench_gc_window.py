"""The GC window: pulls that fail, seconds pushes are refused, GC time; read-only vs stop.

SIMULATED Service switch between REAL registry processes (devkit/gc_window_sim.py):
Debian's `docker-registry` (or whatever `start_registry` runs) on the config regstack renders,
on a filesystem and on SeaweedFS S3 (scripts/s3-server.sh); a loopback forwarder moves the
"Service" the way a rolling update (read-only window) or a scale to zero (stop window) does.
Two pullers pull tagged images without pause (every blob checked against its digest) and a
pusher tries a small push every 0.2 s while the window closes, GC runs and it reopens.

Each run seeds fresh storage: --images repositories pushed twice (the first push becomes
garbage). Medians of --runs runs. It prints figures and asserts nothing; the behaviour is
tested in tests/registry/test_gc_window_real.py. Clients and servers share this machine's CPUs,
and the pod starts of a real rollout are not in these figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.distribution_config import (  # noqa: E402 -- needs the repository root on sys.path
    ENV_HTTP_SECRET,
    ENV_S3_ACCESS_KEY,
    ENV_S3_SECRET_KEY,
    RenderSettings,
    S3Settings,
)
from devkit import gc_window_sim as sim  # noqa: E402
from devkit.registry import start_registry  # noqa: E402
from devkit.s3 import ACCESS_KEY, SECRET_KEY, S3Server, start_s3  # noqa: E402

KiB = 1024


def one_run(
    workdir: Path, storage: str, mode: sim.Mode, args: argparse.Namespace, s3: S3Server | None
) -> sim.WindowFigures:
    if s3 is None:
        registry = sim.start_on_a_volume(workdir / "rw")
    else:
        settings = RenderSettings(
            s3=S3Settings(bucket=s3.bucket, endpoint=s3.endpoint, secure=False,
                          root_directory=f"/{workdir.name}"),
            shared_secret=True,
        )  # fmt: skip
        secrets = {ENV_S3_ACCESS_KEY: ACCESS_KEY, ENV_S3_SECRET_KEY: SECRET_KEY,
                   ENV_HTTP_SECRET: "bench"}  # fmt: skip
        registry = start_registry(workdir / "rw", settings, secrets=secrets)
    try:
        repositories = sim.seed(registry.host, args.images, args.layers, args.layer_kib * KiB)
        figures = sim.run_window(registry, workdir, mode, repositories)
    finally:
        if registry.process.poll() is None:
            registry.stop()
    if figures.gc_exit != 0:
        raise SystemExit(f"garbage-collect failed on {storage} ({mode})")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--layer-kib", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--storage", nargs="+", choices=["filesystem", "s3"],
                        default=["filesystem", "s3"])  # fmt: skip
    args = parser.parse_args()

    results: dict[tuple[str, str], list[sim.WindowFigures]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        s3 = start_s3(workdir / "s3") if "s3" in args.storage else None
        try:
            for run in range(args.runs):
                for storage in args.storage:
                    for mode in ("read-only", "stop"):
                        here = workdir / f"{storage}-{mode}-{run}"
                        figures = one_run(here, storage, mode, args,
                                          s3 if storage == "s3" else None)  # fmt: skip
                        results.setdefault((storage, mode), []).append(figures)
        finally:
            if s3 is not None:
                s3.stop()

    print(f"{args.images} images x {args.layers} layers x {args.layer_kib} KiB, each pushed twice "
          f"(half is garbage); medians of {args.runs} runs; {os.cpu_count()} CPUs shared; "
          "SIMULATED Service switch between real registry processes")  # fmt: skip
    columns = ("pulls", "failed", "pulls in GC", "failed in GC", "push refused s", "GC s",
               "window s")  # fmt: skip
    print(f"  {'':22s}" + "".join(f"{c:>15s}" for c in columns))
    for (storage, mode), runs in results.items():
        row = [
            statistics.median(f.pulls for f in runs),
            statistics.median(f.failed_pulls for f in runs),
            statistics.median(f.pulls_during_gc for f in runs),
            statistics.median(f.failed_pulls_during_gc for f in runs),
            statistics.median(f.push_refused_s for f in runs),
            statistics.median(f.gc_s for f in runs),
            statistics.median(f.window_s for f in runs),
        ]
        print(f"  {storage + ', ' + mode:22s}" + "".join(f"{v:15.2f}" for v in row))
    for (storage, mode), runs in results.items():
        refusals: Counter[str] = Counter()
        failures: Counter[str] = Counter()
        for f in runs:
            refusals.update(f.push_refusals)
            failures.update(f.failures)
        print(f"  {storage}, {mode}: pushes refused as {dict(refusals)}; "
              f"pulls failed as {dict(failures) or 'none'}")  # fmt: skip


if __name__ == "__main__":
    main()
