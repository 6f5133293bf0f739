"""Several registry replicas, configured as regstack renders them, can share one S3 bucket.

Real servers on loopback: SeaweedFS (built by scripts/s3-server.sh) serves the bucket,
Debian's redis-server the blob-descriptor cache, and two Distribution 3.1.2 `registry` processes
run the `config.yml` from `registry_config` with their keys, Redis password and shared
`http.secret` passed only through the environment names of `secret_env_names`.

Each test gets its own root directory in the bucket and its own Redis database, so tests
never see each other's images.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.distribution_backend import derived_http_secret
from components.distribution_config import (
    ENV_HTTP_SECRET,
    ENV_REDIS_PASSWORD,
    ENV_S3_ACCESS_KEY,
    ENV_S3_SECRET_KEY,
    RedisSettings,
    RenderSettings,
    S3Settings,
)
from components.jobs import gc_window
from devkit.redis import RedisServer, start_redis
from devkit.registry import (
    RunningRegistry,
    oci_image,
    pull,
    push,
    require,
    start_registry,
)
from devkit.s3 import ACCESS_KEY, SECRET_KEY, S3Server, start_s3

pytestmark = pytest.mark.servers

REPO_ROOT = Path(__file__).resolve().parents[2]
# What the platform gives the replicas when registry.http_secret is unset.
HTTP_SECRET = derived_http_secret(SECRET_KEY)
REDIS_PASSWORD = "redis-password-for-tests"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MiB = 1 << 20
_scenarios = itertools.count(1)  # Redis databases 1..15, one per scenario


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = start_s3(tmp_path_factory.mktemp("s3"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"), password=REDIS_PASSWORD)
    yield server
    server.stop()


@dataclass
class Scenario:
    """A root directory in the bucket and a Redis database that only one test uses."""

    s3: S3Server
    redis: RedisServer
    workdir: Path
    name: str
    db: int
    started: list[RunningRegistry]

    @property
    def settings(self) -> RenderSettings:
        return RenderSettings(
            s3=S3Settings(
                bucket=self.s3.bucket, endpoint=self.s3.endpoint, secure=False,
                root_directory=f"/{self.name}",
            ),
            redis=RedisSettings(address=self.redis.address, db=self.db, password=True),
            shared_secret=True,
        )  # fmt: skip

    def replica(self, label: str, http_secret: str = HTTP_SECRET) -> RunningRegistry:
        secrets = {
            ENV_S3_ACCESS_KEY: ACCESS_KEY,
            ENV_S3_SECRET_KEY: SECRET_KEY,
            ENV_HTTP_SECRET: http_secret,
            ENV_REDIS_PASSWORD: REDIS_PASSWORD,
        }
        registry = start_registry(self.workdir / label, self.settings, secrets=secrets)
        self.started.append(registry)
        return registry

    def flush_cache(self) -> None:
        """What the GC Job's restore container does before the replicas come back."""
        gc_window.flush_cache(self.redis.address, self.db, self.redis.password)

    def blob_keys(self) -> set[str]:
        """Digests whose data the bucket holds under this scenario's root directory."""
        prefix = f"{self.name}/docker/registry/v2/blobs/"
        return {"sha256:" + k.split("/")[-2] for k in self.s3.keys(prefix) if k.endswith("/data")}


@contextlib.contextmanager
def new_scenario(s3: S3Server, redis: RedisServer, workdir: Path) -> Iterator[Scenario]:
    require("skopeo")
    n = next(_scenarios)
    assert n < 16, "more scenarios than Redis databases: give the module a second Redis"
    current = Scenario(s3, redis, workdir, f"scenario-{n}", n, [])
    try:
        yield current
    finally:
        for registry in current.started:
            registry.stop()


@pytest.fixture
def scenario(s3: S3Server, redis: RedisServer, tmp_path: Path) -> Iterator[Scenario]:
    with new_scenario(s3, redis, tmp_path) as current:
        yield current


# --- registry API helpers --------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def call(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request, redirects not followed: a 307 is an answer, not a detour."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _opener.open(request, timeout=60) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def image(layout: Path, tag: str, created: str = "2026-11-01T00:00:00Z", size: int = 1000) -> str:
    """An OCI layout with one random (incompressible) layer; returns the manifest digest."""
    return oci_image(layout, tag, created=created, content=os.urandom(size))


def blobs_of(layout: Path) -> set[str]:
    return {"sha256:" + p.name for p in (layout / "blobs" / "sha256").iterdir()}


def manifest_status(registry: RunningRegistry, repository: str, reference: str) -> int:
    url = f"{registry.url}/v2/{repository}/manifests/{reference}"
    return call("GET", url, headers={"Accept": OCI_MANIFEST})[0]


def layer_of(layout: Path, manifest_digest: str) -> str:
    manifest = json.loads((layout / "blobs/sha256" / manifest_digest.split(":")[1]).read_text())
    return str(manifest["layers"][0]["digest"])


def upload_path(location: str) -> str:
    """The path and query of an upload Location: the replica's own address is not needed."""
    return location[location.index("/v2/") :]


def patch_chunk(registry: RunningRegistry, path: str, chunk: bytes, offset: int) -> tuple[int, str, bytes]:  # fmt: skip
    status, headers, body = call(
        "PATCH", registry.url + path, chunk,
        {"Content-Type": "application/octet-stream",
         "Content-Range": f"{offset}-{offset + len(chunk) - 1}"},
    )  # fmt: skip
    return status, upload_path(headers["Location"]) if status == 202 else path, body


def retention(registry: RunningRegistry, policy: dict[str, object], workdir: Path) -> None:
    """regstack's retention engine, applied, as the retention Job runs it."""
    policy_file = workdir / "policy.json"
    policy_file.write_text(json.dumps(policy))
    done = subprocess.run(
        [sys.executable, "-m", "components.retention", "--registry", registry.url,
         "--policy", str(policy_file), "--apply"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


# --- one bucket, two replicas ----------------------------------------------------------


def test_an_image_pushed_through_one_replica_pulls_in_full_through_the_other(
    scenario: Scenario, tmp_path: Path
) -> None:
    a, b = scenario.replica("a"), scenario.replica("b")
    # 12 MiB: more than the s3 driver's 10 MiB chunk, so the layer is a multipart upload.
    pushed = image(tmp_path / "image", "v1", size=12 * MiB)
    push(tmp_path / "image", "v1", a, "team/app:v1")
    assert pull(b, "team/app:v1", tmp_path / "pulled") == pushed
    assert blobs_of(tmp_path / "pulled") >= blobs_of(tmp_path / "image")


def test_a_replica_serves_blob_bytes_itself_instead_of_redirecting_to_the_s3_endpoint(
    scenario: Scenario, tmp_path: Path
) -> None:
    # Clients outside the cluster cannot reach an in-cluster S3 endpoint, which is where
    # Distribution's default redirect would send them.
    a = scenario.replica("a")
    digest = image(tmp_path / "image", "v1")
    push(tmp_path / "image", "v1", a, "team/app:v1")
    layer = layer_of(tmp_path / "image", digest)
    status, _, body = call("GET", f"{a.url}/v2/team/app/blobs/{layer}")
    assert (status, "sha256:" + hashlib.sha256(body).hexdigest()) == (200, layer)


# The first chunk is above S3's 5 MiB minimum part size, as a client's chunks would be. The
# second is small enough to be sent whole even when a replica refuses it without reading it.
FIRST_CHUNK, SECOND_CHUNK = 6 * MiB, 64 * 1024


def upload_first_chunk(registry: RunningRegistry, first: bytes) -> str:
    """Start a chunked upload and send its first chunk; returns the upload's next path."""
    status, headers, body = call("POST", f"{registry.url}/v2/team/chunked/blobs/uploads/")
    assert status == 202, body
    status, path, body = patch_chunk(registry, upload_path(headers["Location"]), first, 0)
    assert status == 202, body
    return path


def test_a_chunked_upload_started_on_one_replica_is_finished_on_the_other(
    scenario: Scenario,
) -> None:
    a, b = scenario.replica("a"), scenario.replica("b")
    first, second = os.urandom(FIRST_CHUNK), os.urandom(SECOND_CHUNK)
    digest = "sha256:" + hashlib.sha256(first + second).hexdigest()
    path = upload_first_chunk(a, first)
    status, path, body = patch_chunk(b, path, second, len(first))
    assert status == 202, body
    status, _, body = call("PUT", f"{b.url}{path}&digest={digest}")
    assert status == 201, body
    assert call("GET", f"{a.url}/v2/team/chunked/blobs/{digest}")[2] == first + second


def test_without_a_shared_http_secret_the_other_replica_refuses_the_upload(
    scenario: Scenario,
) -> None:
    a, b = scenario.replica("a"), scenario.replica("b", http_secret="another-secret")
    path = upload_first_chunk(a, os.urandom(FIRST_CHUNK))
    # The upload state in the Location is signed with A's http.secret; B cannot verify it.
    status, _, body = patch_chunk(b, path, os.urandom(SECOND_CHUNK), FIRST_CHUNK)
    assert (status, json.loads(body)["errors"][0]["code"]) == (404, "BLOB_UPLOAD_INVALID")


def test_an_image_deleted_by_retention_through_one_replica_is_gone_through_the_other(
    scenario: Scenario, tmp_path: Path
) -> None:
    a, b = scenario.replica("a"), scenario.replica("b")
    old = image(tmp_path / "old", "build-1", created="2020-01-01T00:00:00Z")
    new = image(tmp_path / "new", "build-2", created="2026-11-01T00:00:00Z")
    push(tmp_path / "old", "build-1", a, "team/app:build-1")
    push(tmp_path / "new", "build-2", a, "team/app:build-2")
    # B serves the old image first, so the shared cache knows it before the deletion.
    assert manifest_status(b, "team/app", old) == 200
    retention(a, {"rules": [{"repositories": "team/*", "keep_last": 1}]}, tmp_path)
    # Not the tag list: SeaweedFS removes emptied "directories" up to minutes later, and
    # Distribution lists tags from them.
    assert [manifest_status(b, "team/app", ref) for ref in (old, "build-1", new)] == [404, 404, 200]


# --- garbage collection ----------------------------------------------------------------


@dataclass
class Collected:
    scenario: Scenario
    replicas: tuple[RunningRegistry, RunningRegistry]
    kept: dict[str, str]
    """reference -> manifest digest of every image retention kept"""
    kept_blobs: set[str]
    dropped: set[str]
    """blobs only the deleted image used"""


def report(request: pytest.FixtureRequest, line: str) -> None:
    """Print past pytest's output capture: figures to read, never assertions."""
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(line)


@pytest.fixture(scope="module")
def collected(
    s3: S3Server,
    redis: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[Collected]:
    """Two replicas after regstack's GC window: retention deleted one image, both replicas
    stopped (the Deployment scaled to 0), `garbage-collect --delete-untagged`, the Redis
    database flushed, both started again. Tests only read from them."""
    tmp_path = tmp_path_factory.mktemp("gc")
    with new_scenario(s3, redis, tmp_path) as scenario:
        yield _collect(scenario, tmp_path, request)


def _collect(scenario: Scenario, tmp_path: Path, request: pytest.FixtureRequest) -> Collected:
    a, b = scenario.replica("a"), scenario.replica("b")
    images = {"team/app:build-1": ("2020-01-01T00:00:00Z", "drop"),
              "team/app:build-2": ("2026-11-01T00:00:00Z", "keep"),
              "team/other:v1.0.0": ("2020-01-01T00:00:00Z", "keep")}  # fmt: skip
    kept: dict[str, str] = {}
    kept_blobs: set[str] = set()
    dropped: set[str] = set()
    for n, (reference, (created, fate)) in enumerate(images.items()):
        layout = tmp_path / f"image-{n}"
        digest = image(layout, "t", created=created, size=2 * MiB)
        push(layout, "t", a, reference)
        pull(b, reference, tmp_path / f"warm-{n}")  # B's reads fill the shared cache
        if fate == "keep":
            kept[reference] = digest
            kept_blobs |= blobs_of(layout)
        else:
            dropped = blobs_of(layout)
    retention(a, {"rules": [{"repositories": "team/app", "keep_last": 1}]}, tmp_path)

    started = time.monotonic()
    for replica in (a, b):
        replica.stop()
    stopped = time.monotonic()
    gc = a.garbage_collect("--delete-untagged")
    assert gc.returncode == 0, gc.stderr
    collected_at = time.monotonic()
    scenario.flush_cache()
    flushed = time.monotonic()
    for replica in (a, b):
        replica.start()
    ready = time.monotonic()
    report(request, f"\nGC window on S3 ({len(images)} images): stop {stopped - started:.2f}s, "
           f"garbage-collect {collected_at - stopped:.2f}s, FLUSHDB {flushed - collected_at:.3f}s, "
           f"start {ready - flushed:.2f}s, downtime {ready - started:.2f}s")  # fmt: skip
    return Collected(scenario, (a, b), kept, kept_blobs, dropped)


def test_after_gc_every_kept_image_pulls_in_full_through_both_replicas(
    collected: Collected, tmp_path: Path
) -> None:
    pulled = {
        (replica.host, reference): pull(replica, reference, tmp_path / f"{n}-{m}")
        for n, replica in enumerate(collected.replicas)
        for m, reference in enumerate(collected.kept)
    }
    expected = {
        (replica.host, reference): digest
        for replica in collected.replicas
        for reference, digest in collected.kept.items()
    }
    assert pulled == expected


def test_after_gc_the_bucket_holds_the_blobs_of_the_kept_images_and_no_others(
    collected: Collected,
) -> None:
    assert collected.dropped  # what must be gone was there: the deleted image's own blobs
    assert collected.scenario.blob_keys() == collected.kept_blobs


def test_after_gc_the_deleted_image_blobs_answer_404_through_both_replicas(
    collected: Collected,
) -> None:
    statuses = {
        call("HEAD", f"{replica.url}/v2/team/app/blobs/{digest}")[0]
        for replica in collected.replicas
        for digest in collected.dropped
    }
    assert statuses == {404}


def test_without_the_redis_flush_a_collected_layer_still_answers_as_present(
    scenario: Scenario, tmp_path: Path
) -> None:
    """Why the GC window flushes the cache: the descriptors of collected blobs outlive them."""
    a = scenario.replica("a")
    digest = image(tmp_path / "image", "build-1")
    push(tmp_path / "image", "build-1", a, "team/app:build-1")
    layer = layer_of(tmp_path / "image", digest)
    assert call("DELETE", f"{a.url}/v2/team/app/manifests/{digest}")[0] == 202
    a.stop()
    assert a.garbage_collect("--delete-untagged").returncode == 0
    a.start()
    stale = call("HEAD", f"{a.url}/v2/team/app/blobs/{layer}")[0]
    a.stop()
    scenario.flush_cache()
    a.start()
    assert (stale, call("HEAD", f"{a.url}/v2/team/app/blobs/{layer}")[0]) == (200, 404)
