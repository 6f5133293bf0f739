"""A real S3 server on loopback: SeaweedFS built by scripts/s3-server.sh, and a SigV4 client.

`start_s3` runs `weed server` (master, volume, filer and S3 gateway in one process group) on
free loopback ports with one access key, creates a bucket with a signed PUT and returns when
the gateway answers. `S3Server.keys` lists the bucket, so a test can see what the registry left
in it. The signer is the standard-library minimum for path-style requests to one endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from components.distribution_config import ENV_S3_ACCESS_KEY, ENV_S3_SECRET_KEY
from devkit.registry import built_binary, free_port

ACCESS_KEY = "regstack-test"
SECRET_KEY = "regstack-test-secret-key"
REGISTRY_KEYS = {ENV_S3_ACCESS_KEY: ACCESS_KEY, ENV_S3_SECRET_KEY: SECRET_KEY}
"""The registry's S3 secrets, by the environment names the pod gets them under."""
REGION = "us-east-1"
_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def weed_binary() -> Path:
    """The pinned SeaweedFS binary; fail (never skip) when it has not been built."""
    return built_binary("s3-server.sh")


def _sign(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signed_request(
    endpoint: str, method: str, path: str, query: dict[str, str] | None = None, body: bytes = b""
) -> urllib.request.Request:
    """An AWS Signature Version 4 request for `path` (already `/bucket/key`) on `endpoint`."""
    query = query or {}
    now = datetime.now(UTC)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    host = urllib.parse.urlsplit(endpoint).netloc
    payload = hashlib.sha256(body).hexdigest()
    headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": stamp}
    signed = ";".join(sorted(headers))
    canonical_query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in sorted(query.items())
    )
    canonical = "\n".join(
        [method, urllib.parse.quote(path, safe="/-_.~"), canonical_query]
        + [f"{name}:{headers[name]}" for name in sorted(headers)]
        + ["", signed, payload]
    )
    scope = f"{day}/{REGION}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + SECRET_KEY).encode()
    for part in (day, REGION, "s3", "aws4_request"):
        key = _sign(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    url = endpoint + urllib.parse.quote(path, safe="/-_.~")
    if canonical_query:
        url += "?" + canonical_query
    request = urllib.request.Request(url, data=body or None, method=method)
    for name, value in headers.items():
        if name != "host":
            request.add_header(name, value)
    request.add_header(
        "Authorization",
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, SignedHeaders={signed}, "
        f"Signature={signature}",
    )
    return request


@dataclass
class S3Server:
    endpoint: str
    bucket: str
    process: subprocess.Popen[bytes]
    log_path: Path
    grpc_ports: list[int]
    https_endpoint: str | None = None
    """The same gateway over TLS, when started with a certificate."""

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key under `prefix` in the bucket (ListObjectsV2, all pages)."""
        found: list[str] = []
        token = ""
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            request = signed_request(self.endpoint, "GET", f"/{self.bucket}", query)
            with urllib.request.urlopen(request, timeout=30) as answer:
                listing = ET.fromstring(answer.read())
            found += [k.text or "" for k in listing.iter(f"{_S3_NS}Key")]
            token = listing.findtext(f"{_S3_NS}NextContinuationToken") or ""
            if not token:
                return found

    def stop(self) -> None:
        # `weed server` runs its servers as goroutines of one process, but signal the whole
        # group anyway: nothing it started may outlive the test session. Its shutdown often
        # stalls once the filer has stopped (the master and gateway keep retrying it), and the
        # data is throwaway, so the grace period is short.
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass
        # Its in-process gRPC shortcuts are Unix sockets at fixed /tmp paths, which it does
        # not always remove.
        for port in self.grpc_ports:
            for service in ("master", "volume", "filer", "s3"):
                Path(f"/tmp/seaweedfs-{service}-grpc-{port}.sock").unlink(missing_ok=True)


def _create_bucket(server: S3Server) -> None:
    try:
        urllib.request.urlopen(
            signed_request(server.endpoint, "PUT", f"/{server.bucket}"), timeout=5
        ).close()
    except urllib.error.HTTPError as err:
        # A retry after a PUT that succeeded but answered late.
        if b"BucketAlreadyOwnedByYou" not in err.read():
            raise


def _warm_up(server: S3Server) -> None:
    """Write, list and delete an object: SeaweedFS grows its first volumes on the first write
    (seconds), which would otherwise land in whatever a test times first."""
    key = f"/{server.bucket}/.regstack-ready"
    urllib.request.urlopen(
        signed_request(server.endpoint, "PUT", key, body=b"ok"), timeout=30
    ).close()
    server.keys()
    urllib.request.urlopen(signed_request(server.endpoint, "DELETE", key), timeout=30).close()


def start_s3(workdir: Path, bucket: str = "registry", tls_dir: Path | None = None) -> S3Server:
    """Start SeaweedFS on loopback with one identity, create `bucket`, wait until it answers.

    With `tls_dir` (tls.crt and tls.key, as `self_signed_tls` writes them) the gateway also
    serves HTTPS on a port of its own: `S3Server.https_endpoint`."""
    weed = weed_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "data").mkdir(exist_ok=True)
    identities = {"identities": [{
        "name": "regstack",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }]}  # fmt: skip
    (workdir / "s3.json").write_text(json.dumps(identities))
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3")}
    grpc = {name: free_port() for name in ports}
    # Every listener gets an explicit loopback port: the defaults (9333, 8888, 8333, gRPC at
    # port + 10000, Iceberg 8181, Lance 9101) collide between sessions or exceed 65535.
    args = [
        str(weed), "server", "-ip=127.0.0.1", f"-dir={workdir / 'data'}",
        "-master.telemetry=false", "-master.volumeSizeLimitMB=64", "-volume.max=0",
        "-volume.preStopSeconds=0",
        f"-master.port={ports['master']}", f"-master.port.grpc={grpc['master']}",
        f"-volume.port={ports['volume']}", f"-volume.port.grpc={grpc['volume']}",
        "-filer", f"-filer.port={ports['filer']}", f"-filer.port.grpc={grpc['filer']}",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        "-s3", f"-s3.port={ports['s3']}", f"-s3.port.grpc={grpc['s3']}",
        "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.localSocket={workdir / 's3.sock'}",
        f"-s3.config={workdir / 's3.json'}",
    ]  # fmt: skip
    https_endpoint = None
    if tls_dir is not None:
        https_port = free_port()
        https_endpoint = f"https://127.0.0.1:{https_port}"
        args += [f"-s3.port.https={https_port}", f"-s3.cert.file={tls_dir / 'tls.crt'}",
                 f"-s3.key.file={tls_dir / 'tls.key'}"]  # fmt: skip
    log_path = workdir / "weed.log"
    process = subprocess.Popen(
        args, stdout=log_path.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    server = S3Server(
        f"http://127.0.0.1:{ports['s3']}", bucket, process, log_path, list(grpc.values()),
        https_endpoint,
    )  # fmt: skip
    # The gateway listens before the filer and volume server are ready; creating the bucket
    # and listing it are the first requests that need all of them, so retry until both work.
    deadline = time.monotonic() + 60
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"weed server exited ({process.returncode}):\n{log_path.read_text()}")
        try:
            _create_bucket(server)
            _warm_up(server)
            return server
        except OSError as err:  # urllib's HTTPError and URLError are OSErrors
            last = str(err)
        time.sleep(0.2)
    server.stop()
    pytest.fail(
        f"SeaweedFS S3 gateway not ready within 60s (last: {last}):\n{log_path.read_text()}"
    )
