"""One registry on a filesystem vs two replicas sharing an S3 bucket and a Redis cache.

Both set-ups run the `config.yml` regstack renders, on loopback: Distribution 3.1.2's `registry`,
SeaweedFS from scripts/s3-server.sh as the S3 server, Debian's redis-server. A Python client
speaks the registry API v2 directly (monolithic blob uploads, keep-alive connections), so the
figures are the registry's and its storage's, not a client tool's start-up.

- push and pull throughput of N images x 3 layers of random (incompressible) bytes, a few
  images at a time; with two replicas, image i is pushed through one and pulled through the
  other;
- blob GET latency (to the last byte) under a fixed number of concurrent requests;
- `garbage-collect --delete-untagged` time once half the images are deleted.

Medians of --runs runs (each on fresh storage; the S3 replicas on a new root directory of
the bucket and an empty Redis database). A benchmark: it prints figures and ratios and
asserts only that every pulled blob matches its digest. Everything runs on one machine, so
the servers and the client share its CPUs.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.distribution_config import (  # noqa: E402 -- needs the repository root on sys.path
    ENV_HTTP_SECRET,
    ENV_REDIS_PASSWORD,
    ENV_S3_ACCESS_KEY,
    ENV_S3_SECRET_KEY,
    RedisSettings,
    RenderSettings,
    S3Settings,
)
from devkit.redis import RedisServer, start_redis  # noqa: E402
from devkit.registry import RunningRegistry, start_registry  # noqa: E402
from devkit.s3 import ACCESS_KEY, SECRET_KEY, S3Server, start_s3  # noqa: E402

MiB = 1 << 20
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
REDIS_PASSWORD = "bench"


class Client:
    """Registry API v2 over one keep-alive connection per thread and registry."""

    def __init__(self) -> None:
        self._local = threading.local()

    def request(
        self, registry: RunningRegistry, method: str, path: str, body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:  # fmt: skip
        connections = self._local.__dict__.setdefault("connections", {})
        for attempt in (1, 2):
            connection = connections.get(registry.host)
            if connection is None:
                connection = http.client.HTTPConnection(registry.host, timeout=120)
                connections[registry.host] = connection
            try:
                connection.request(method, path, body=body, headers=headers or {})
                answer = connection.getresponse()
                return answer.status, answer.headers, answer.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()  # an idle keep-alive connection the server closed
                del connections[registry.host]
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def push_blob(self, registry: RunningRegistry, repository: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        status, headers, body = self.request(registry, "POST", f"/v2/{repository}/blobs/uploads/")
        assert status == 202, (status, body)
        location = headers["Location"]
        path = location[location.index("/v2/") :]
        status, _, body = self.request(
            registry, "PUT", f"{path}&digest={digest}", data,
            {"Content-Type": "application/octet-stream"},
        )  # fmt: skip
        assert status == 201, (status, body)
        return digest

    def get_blob(self, registry: RunningRegistry, repository: str, digest: str) -> int:
        status, _, body = self.request(registry, "GET", f"/v2/{repository}/blobs/{digest}")
        assert status == 200, (status, body[:300])
        assert "sha256:" + hashlib.sha256(body).hexdigest() == digest, "corrupt blob"
        return len(body)


@dataclass
class Image:
    repository: str
    layers: list[str]
    config: str
    manifest: str  # digest


def push_image(client: Client, registry: RunningRegistry, n: int, layers: int, size: int) -> Image:
    repository = f"bench/app-{n:03d}"
    digests = [client.push_blob(registry, repository, os.urandom(size)) for _ in range(layers)]
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": f"n{n}",
                         "rootfs": {"type": "layers", "diff_ids": digests}}).encode()  # fmt: skip
    config_digest = client.push_blob(registry, repository, config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": LAYER, "digest": d, "size": size} for d in digests],
    }).encode()  # fmt: skip
    status, _, body = client.request(
        registry, "PUT", f"/v2/{repository}/manifests/v1", manifest,
        {"Content-Type": OCI_MANIFEST},
    )  # fmt: skip
    assert status == 201, (status, body)
    return Image(
        repository, digests, config_digest, "sha256:" + hashlib.sha256(manifest).hexdigest()
    )


def pull_image(client: Client, registry: RunningRegistry, image: Image) -> int:
    status, _, body = client.request(
        registry, "GET", f"/v2/{image.repository}/manifests/v1", headers={"Accept": OCI_MANIFEST}
    )
    assert status == 200, (status, body)
    manifest = json.loads(body)
    blobs = [manifest["config"]["digest"]] + [layer["digest"] for layer in manifest["layers"]]
    return sum(client.get_blob(registry, image.repository, digest) for digest in blobs)


@dataclass
class Figures:
    push_mib_s: float
    pull_mib_s: float
    p50_ms: float
    p99_ms: float
    gc_s: float


def measure(
    replicas: Sequence[RunningRegistry], args: argparse.Namespace, stop_all: Callable[[], None]
) -> Figures:
    client = Client()
    size = args.layer_mib * MiB
    total_mib = args.images * args.layers * args.layer_mib

    def through(n: int, shift: int) -> RunningRegistry:
        return replicas[(n + shift) % len(replicas)]

    started = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        images = list(pool.map(
            lambda n: push_image(client, through(n, 0), n, args.layers, size), range(args.images)
        ))  # fmt: skip
    push_s = time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        pulled = sum(pool.map(lambda n: pull_image(client, through(n, 1), images[n]),
                              range(args.images)))  # fmt: skip
    pull_s = time.perf_counter() - started
    assert pulled >= total_mib * MiB

    layers = [(image.repository, d) for image in images for d in image.layers]

    def timed_get(n: int) -> float:
        repository, digest = layers[n % len(layers)]
        begun = time.perf_counter()
        client.get_blob(through(n, 0), repository, digest)
        return time.perf_counter() - begun

    with ThreadPoolExecutor(args.parallel_gets) as pool:
        latencies = sorted(pool.map(timed_get, range(args.gets)))
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")

    # Half the images go, as retention would delete them; then the GC window's collection.
    for image in images[::2]:
        status, _, body = client.request(
            replicas[0], "DELETE", f"/v2/{image.repository}/manifests/{image.manifest}"
        )
        assert status == 202, (status, body)
    stop_all()
    started = time.perf_counter()
    gc = replicas[0].garbage_collect("--delete-untagged")
    gc_s = time.perf_counter() - started
    assert gc.returncode == 0, gc.stderr
    return Figures(
        total_mib / push_s, total_mib / pull_s, quantiles[49] * 1000, quantiles[98] * 1000, gc_s
    )


def filesystem_run(workdir: Path, args: argparse.Namespace) -> Figures:
    alone = start_registry(workdir, RenderSettings())
    try:
        return measure([alone], args, alone.stop)
    finally:
        alone.stop()


def shared_run(
    workdir: Path, s3: S3Server, redis: RedisServer, run: int, args: argparse.Namespace
) -> Figures:
    """Two replicas on a root directory of the bucket of their own, with an empty cache."""
    redis.command("FLUSHDB")
    settings = RenderSettings(
        s3=S3Settings(bucket=s3.bucket, endpoint=s3.endpoint, secure=False,
                      root_directory=f"/run-{run}"),
        redis=RedisSettings(address=redis.address, password=True),
        shared_secret=True,
    )  # fmt: skip
    secrets = {ENV_S3_ACCESS_KEY: ACCESS_KEY, ENV_S3_SECRET_KEY: SECRET_KEY,
               ENV_HTTP_SECRET: "bench", ENV_REDIS_PASSWORD: REDIS_PASSWORD}  # fmt: skip
    replicas: list[RunningRegistry] = []

    def stop_replicas() -> None:
        for replica in replicas:
            replica.stop()

    try:
        for label in ("a", "b"):
            replicas.append(start_registry(workdir / label, settings, secrets=secrets))
        return measure(replicas, args, stop_replicas)
    finally:
        stop_replicas()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--layer-mib", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4, help="images pushed/pulled at once")
    parser.add_argument("--gets", type=int, default=400, help="blob GETs for the latency figures")
    parser.add_argument("--parallel-gets", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3, help="medians of this many runs")
    args = parser.parse_args()

    runs: dict[str, list[Figures]] = {"1 registry, filesystem": [], "2 replicas, S3 + Redis": []}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        s3 = start_s3(workdir / "s3")
        redis = start_redis(workdir / "redis", password=REDIS_PASSWORD)
        try:
            for run in range(args.runs):
                runs["1 registry, filesystem"].append(
                    filesystem_run(workdir / f"filesystem-{run}", args)
                )
                runs["2 replicas, S3 + Redis"].append(
                    shared_run(workdir / f"shared-{run}", s3, redis, run, args)
                )
        finally:
            redis.stop()
            s3.stop()

    total = args.images * args.layers * args.layer_mib
    print(f"{args.images} images x {args.layers} layers x {args.layer_mib} MiB = {total} MiB, "
          f"{args.concurrency} images at a time; {args.gets} blob GETs, {args.parallel_gets} "
          f"concurrent; medians of {args.runs} runs; {os.cpu_count()} CPUs shared by the "
          f"client and every server")  # fmt: skip
    columns = {"push MiB/s": "push_mib_s", "pull MiB/s": "pull_mib_s", "GET p50 ms": "p50_ms",
               "GET p99 ms": "p99_ms", "GC s": "gc_s"}  # fmt: skip
    medians = {
        name: {c: statistics.median(getattr(f, field) for f in figures)
               for c, field in columns.items()}
        for name, figures in runs.items()
    }  # fmt: skip
    print(f"  {'':24s}" + "".join(f"{c:>12s}" for c in columns))
    for name, row in medians.items():
        print(f"  {name:24s}" + "".join(f"{row[c]:12.2f}" for c in columns))
    filesystem, shared = medians.values()
    print(
        f"  {'S3 / filesystem':24s}"
        + "".join(f"{shared[c] / filesystem[c]:11.2f}x" for c in columns)
    )
    for name, figures in runs.items():
        print(f"  runs, {name}: " + "; ".join(
            " ".join(f"{getattr(f, field):.2f}" for field in columns.values()) for f in figures
        ))  # fmt: skip


if __name__ == "__main__":
    main()
