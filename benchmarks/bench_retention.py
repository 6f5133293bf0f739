"""Retention engine vs the course chapter's sequential curl loop, on a local registry.

50 repositories x 40 tags: per repository four distinct tiny images are pushed with skopeo
(two older than 30 days, two recent) and each gets nine more tags by re-PUTting its
manifest.  Both approaches delete the 20 old tags (2 digests) of every repository; each
run starts from the same storage snapshot on a freshly started registry.  Prints medians of
3 wall times, the ratio, and requests per tag.  A benchmark: it asserts only that both
approaches leave the same tags behind.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devkit.oci_registry import (  # noqa: E402 -- needs the repository root on sys.path
    RegistryServer,
    add_tag,
    missing_tools,
    push_image,
    tags_of,
)

TAGS_PER_IMAGE = 10
DAYS = 30
POLICY = {"rules": [{"repositories": "*", "max_age_days": DAYS}]}


def dates() -> list[str]:
    now = datetime.now(UTC)
    ages = (900, 400, 5, 1)  # days: two to delete, two to keep
    return [(now - timedelta(days=a)).strftime("%Y-%m-%dT%H:%M:%SZ") for a in ages]


def populate(registry: RegistryServer, count: int) -> dict[str, set[str]]:
    """Push the images (in parallel: skopeo is the slow part) and tag them; return the
    tags each repository should keep."""
    repositories = [f"bench/app-{n:02d}" for n in range(count)]

    def fill(repository: str) -> set[str]:
        kept = set()
        for image, created in enumerate(dates()):
            first = f"build-{image}-0"
            push_image(registry, repository, first, created)
            names = [f"build-{image}-{n}" for n in range(TAGS_PER_IMAGE)]
            for name in names[1:]:
                add_tag(registry, repository, first, name)
            if image >= 2:
                kept.update(names)
        return kept

    with ThreadPoolExecutor(4) as pool:
        return dict(zip(repositories, pool.map(fill, repositories), strict=True))


def timed(registry: RegistryServer, snapshot: Path, command: list[str]) -> tuple[float, str]:
    """Restore the snapshot, start the registry, run `command`; wall time and stderr+out."""
    shutil.rmtree(registry.storage)
    shutil.copytree(snapshot, registry.storage)
    registry.start()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - started
    return elapsed, done.stdout + done.stderr


def requests_of(output: str, pattern: str) -> int:
    match = re.search(pattern, output)
    assert match, output[-2000:]
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repositories", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    missing = missing_tools() + [t for t in ("curl", "jq") if shutil.which(t) is None]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run `make setup` (jq: apt-get install jq)")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        registry = RegistryServer(workdir / "registry").start()
        started = time.perf_counter()
        expected = populate(registry, args.repositories)
        seconds = time.perf_counter() - started
        print(f"populated {args.repositories} x {4 * TAGS_PER_IMAGE} tags in {seconds:.0f} s")
        registry.stop()
        snapshot = workdir / "snapshot"
        shutil.copytree(registry.storage, snapshot)
        (workdir / "policy.json").write_text(json.dumps(POLICY))

        engine = [sys.executable, "-S", "-m", "components.retention", "--registry", registry.url]
        engine += ["--policy", str(workdir / "policy.json"), "--plan-file", str(workdir / "plan")]
        commands = {
            "engine plan (dry run)": engine,
            "engine apply": [*engine, "--apply"],
            "chapter script": ["bash", "benchmarks/chapter_cleanup.sh", registry.url, str(DAYS)],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        requests: dict[str, int] = {}
        for _ in range(args.runs):
            for name, command in commands.items():
                elapsed, output = timed(registry, snapshot, command)
                times[name].append(elapsed)
                pattern = r"(\d+) requests" if name.startswith("engine") else r"requests: (\d+)"
                requests[name] = requests_of(output, pattern)
                if name != "engine plan (dry run)":
                    left = {repo: tags_of(registry, repo) for repo in expected}
                    assert left == expected, f"{name} left the wrong tags"
                registry.stop()

    tags = args.repositories * 4 * TAGS_PER_IMAGE
    print(f"{tags} tags, medians of {args.runs} runs:")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(
            f"  {name:24s} {median:7.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times[name])})"
            f"  {requests[name]} requests = {requests[name] / tags:.2f} per tag"
        )
    ratio = medians["chapter script"] / medians["engine apply"]
    print(f"  chapter / engine apply = {ratio:.1f}x")


if __name__ == "__main__":
    main()
