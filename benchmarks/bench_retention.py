"""Retention engine on a local Distribution 3.x registry: vs the chapter's script, and at scale.

Default: 50 repositories x 40 tags: per repository four distinct tiny images are pushed
with skopeo (two older than 30 days, two recent) and each gets nine more tags by
re-PUTting its manifest.  Both approaches delete the 20 old tags (2 digests) of every
repository; each run starts from the same storage snapshot on a freshly started registry.
Prints medians of 3 wall times, the ratio, and requests per tag.  It asserts only that both
approaches leave the same tags behind.

`--scale 100x100 1000x100` (repositories x tags): the storage tree is written directly in
the filesystem driver's layout (pushing 100,000 tags through the API takes far longer than
the run it sets up): every repository holds the same `tags` images, one tag each, created an
hour apart (configs, manifests and the one layer are shared blobs, as with a base image
built once and pushed everywhere).  The engine then applies keep_last 5 to all of them;
printed: seeding time, apply wall time, the engine process's peak RSS (from wait4), the
requests per tag from its summary line, and what was left (5 tags per repository expected).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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


KEEP_LAST = 5
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _blob(v2: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    path = v2 / "blobs/sha256" / digest[:2] / digest / "data"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def _link(path: Path, digest: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "link").write_text(f"sha256:{digest}")


def seed_storage(storage: Path, repositories: int, tags: int) -> None:
    """Write `repositories` x `tags` tags in Distribution's filesystem layout: one repository
    tree is written, the others are hard-linked copies of it (`cp -al`: files shared, each
    repository's directories its own, so deleting in one touches no other)."""
    v2 = storage / "docker/registry/v2"
    layer = gzip.compress(os.urandom(64), mtime=0)
    layer_digest = _blob(v2, layer)
    template = storage.parent / "template"
    _link(template / "_layers/sha256" / layer_digest, layer_digest)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for n in range(tags):
        created = (start + timedelta(hours=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        config = json.dumps(
            {"created": created, "architecture": "amd64", "os": "linux", "rootfs": {}}
        ).encode()
        config_digest = _blob(v2, config)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": f"sha256:{config_digest}",
                           "size": len(config)},
                "layers": [{"mediaType": OCI_LAYER, "digest": f"sha256:{layer_digest}",
                            "size": len(layer)}],
            }
        ).encode()  # fmt: skip
        digest = _blob(v2, manifest)
        _link(template / "_layers/sha256" / config_digest, config_digest)
        _link(template / "_manifests/revisions/sha256" / digest, digest)
        tag = template / "_manifests/tags" / f"build-{n:04d}"
        _link(tag / "current", digest)
        _link(tag / "index/sha256" / digest, digest)
    (v2 / "repositories/bench").mkdir(parents=True)
    for r in range(repositories):
        target = v2 / f"repositories/bench/app-{r:04d}"
        subprocess.run(["cp", "-al", str(template), str(target)], check=True)
    shutil.rmtree(template)


@dataclass
class EngineRun:
    seconds: float
    peak_rss_kib: int  # of the engine process alone (wait4), not of the registry
    cpu_seconds: float
    stderr: str


def engine_run(command: list[str]) -> EngineRun:
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return EngineRun(time.perf_counter() - started, usage.ru_maxrss, cpu, stderr)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scale(sizes: list[str]) -> None:
    policy = {"rules": [{"repositories": "**", "keep_last": KEEP_LAST}]}
    for size in sizes:
        repositories, tags = (int(n) for n in size.split("x"))
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            registry = RegistryServer(workdir / "registry")
            started = time.perf_counter()
            seed_storage(registry.storage, repositories, tags)
            seeded = time.perf_counter() - started
            (workdir / "policy.json").write_text(json.dumps(policy))
            registry.start()
            try:
                engine = [sys.executable, "-S", "-m", "components.retention"]
                engine += ["--registry", registry.url, "--policy", str(workdir / "policy.json")]
                engine += ["--plan-file", str(workdir / "plan.json"), "--apply"]
                assert registry.process is not None
                idle = cpu_seconds(registry.process.pid)
                run = engine_run(engine)
                serving = cpu_seconds(registry.process.pid) - idle
                left = [len(tags_of(registry, f"bench/app-{r:04d}")) for r in (0, repositories - 1)]
            finally:
                registry.stop()
        total = repositories * tags
        requests = requests_of(run.stderr, r"(\d+) requests")
        print(f"{repositories} repositories x {tags} tags = {total} tags, keep_last {KEEP_LAST}:")
        print(f"  seeded on disk in {seeded:.1f} s")
        print(
            f"  apply: {run.seconds:.1f} s wall, engine peak RSS {run.peak_rss_kib / 1024:.0f} MiB"
        )
        print(f"  CPU: engine {run.cpu_seconds:.1f} s, registry {serving:.1f} s")
        print(f"  {requests} requests = {requests / total:.2f} per tag")
        print(f"  tags left in the first and last repository: {left}")
        print(f"  summary: {run.stderr.strip().splitlines()[-1]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repositories", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--scale", nargs="+", metavar="RxT", help="instead: keep_last 5 on R repositories x T tags"
    )
    args = parser.parse_args()
    if args.scale:
        scale(args.scale)
        return
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
