"""Real-registry plumbing shared by the tests and the benchmark.

`RegistryServer` runs the 3.x `registry` regstack deploys (scripts/registry-server.sh) on a
free loopback port with filesystem
storage and deletion enabled; `push_image` builds a tiny OCI layout (random layer, config
with a chosen `created`, optionally a multi-arch index) and pushes it with skopeo;
`add_tag` re-PUTs an existing manifest under another tag, which is how a registry gets
tags sharing a digest without pushing again.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import http.server
import io
import json
import os
import shutil
import socket
import ssl
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devkit.registry import free_port, registry_binary

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = ", ".join(
    [
        OCI_INDEX,
        OCI_MANIFEST,
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
TOOLS = ("skopeo",)
Answer = tuple[int, dict[str, str], bytes]


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


@dataclass
class RegistryServer:
    """One `registry serve` process; `extra` merges into its configuration."""

    workdir: Path
    extra: dict[str, Any] = field(default_factory=dict)
    creds: str | None = None  # "user:password" the helpers below use, when auth is on
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    binary: str = field(default_factory=registry_binary)

    @property
    def storage(self) -> Path:
        return self.workdir / "storage"

    @property
    def config(self) -> Path:
        return self.workdir / "config.yml"

    @property
    def scheme(self) -> str:
        return "https" if "tls" in self.extra.get("http", {}) else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def write_config(self) -> None:
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": self.host, "secret": "regstack-tests"},
        }
        for key, value in self.extra.items():
            config[key] = {**config.get(key, {}), **value}
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(json.dumps(config))  # JSON is YAML

    def start(self) -> RegistryServer:
        self.write_config()
        log = (self.workdir / "registry.log").open("ab")
        self.process = subprocess.Popen(
            [self.binary, "serve", str(self.config)],
            stdout=log,
            stderr=log,
            # 3.x exports traces unless told not to; 2.8 ignores the variable.
            env={**os.environ, "OTEL_TRACES_EXPORTER": "none"},
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"registry exited: {(self.workdir / 'registry.log').read_text()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("registry did not start listening within 20 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def garbage_collect(self) -> str:
        """Distribution's offline GC; the server must be stopped while it runs."""
        assert self.process is None, "stop the registry before garbage collection"
        done = subprocess.run(
            [self.binary, "garbage-collect", str(self.config)],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def blobs_on_disk(self) -> set[str]:
        root = self.storage / "docker/registry/v2/blobs/sha256"
        return {"sha256:" + p.name for p in root.glob("*/*") if (p / "data").exists()}


# --- images --------------------------------------------------------------------------


def _add_blob(layout: Path, data: bytes, media_type: str) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs/sha256" / digest).write_bytes(data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def _image(
    layout: Path, created: str | None, arch: str, label_created: str | None
) -> dict[str, Any]:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        payload = os.urandom(64)
        info = tarfile.TarInfo("payload.bin")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    uncompressed = raw.getvalue()
    layer = _add_blob(
        layout, gzip.compress(uncompressed, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"
    )
    config: dict[str, Any] = {
        "architecture": arch,
        "os": "linux",
        "rootfs": {
            "type": "layers",
            "diff_ids": ["sha256:" + hashlib.sha256(uncompressed).hexdigest()],
        },
        "config": {"Labels": {"org.opencontainers.image.created": label_created}}
        if label_created
        else {},
    }
    if created:
        config["created"] = created
    config_descriptor = _add_blob(
        layout, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json"
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_descriptor,
        "layers": [layer],
    }
    descriptor = _add_blob(layout, json.dumps(manifest).encode(), OCI_MANIFEST)
    descriptor["platform"] = {"architecture": arch, "os": "linux"}
    return descriptor


def push_image(
    registry: RegistryServer,
    repository: str,
    tag: str,
    created: str | None,
    *,
    arches: tuple[str, ...] = (),
    label_created: str | None = None,
) -> str:
    """Push a fresh image (an index over `arches` when given); returns its digest."""
    with tempfile.TemporaryDirectory() as tmp:
        layout = Path(tmp)
        (layout / "blobs/sha256").mkdir(parents=True)
        (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        if arches:
            index = {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [_image(layout, created, a, label_created) for a in arches],
            }
            top = _add_blob(layout, json.dumps(index).encode(), OCI_INDEX)
        else:
            top = _image(layout, created, "amd64", label_created)
            top.pop("platform")
        top["annotations"] = {"org.opencontainers.image.ref.name": tag}
        (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
        command = ["skopeo", "copy", "--quiet", "--all", "--preserve-digests"]
        command += ["--dest-tls-verify=false"]
        if registry.creds:
            command += ["--dest-creds", registry.creds]
        command += [f"oci:{layout}:{tag}", f"docker://{registry.host}/{repository}:{tag}"]
        subprocess.run(command, check=True, capture_output=True)
        return str(top["digest"])


def api(
    registry: RegistryServer,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """A raw registry API call for setting up and checking (TLS unverified, tests only)."""
    request = urllib.request.Request(
        registry.url + path, data=body, method=method, headers=headers or {}
    )
    if registry.creds:
        token = base64.b64encode(registry.creds.encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    context = ssl._create_unverified_context()
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), err.read()


def add_tag(registry: RegistryServer, repository: str, source: str, tag: str) -> None:
    status, headers, body = api(
        registry, "GET", f"/v2/{repository}/manifests/{source}", headers={"Accept": ACCEPT}
    )
    assert status == 200, body
    put_manifest_bytes(registry, repository, tag, body, headers["Content-Type"])


def put_manifest_bytes(
    registry: RegistryServer, repository: str, reference: str, body: bytes, media_type: str
) -> str:
    """PUT these exact manifest bytes under a tag (or their digest); returns the digest."""
    status, headers, answer = api(
        registry,
        "PUT",
        f"/v2/{repository}/manifests/{reference}",
        body=body,
        headers={"Content-Type": media_type},
    )
    assert status == 201, answer
    return str(headers["Docker-Content-Digest"])


def tags_of(registry: RegistryServer, repository: str) -> set[str]:
    status, _, body = api(registry, "GET", f"/v2/{repository}/tags/list")
    if status == 404:
        return set()
    return set(json.loads(body).get("tags") or [])


def digest_of(registry: RegistryServer, repository: str, reference: str) -> str | None:
    status, headers, _ = api(
        registry, "HEAD", f"/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT}
    )
    return headers["Docker-Content-Digest"] if status == 200 else None


def pull_verifies(registry: RegistryServer, repository: str, tag: str, into: Path) -> None:
    """skopeo copies the image out in full (every blob fetched and digest-checked)."""
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--quiet",
            "--all",
            "--src-tls-verify=false",
            f"docker://{registry.host}/{repository}:{tag}",
            f"oci:{into}:{tag}",
        ],
        check=True,
        capture_output=True,
    )


def blobs_of(registry: RegistryServer, repository: str, reference: str) -> set[str]:
    """Every blob an image needs: its manifest(s), configs and layers."""
    status, headers, body = api(
        registry, "GET", f"/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT}
    )
    assert status == 200, body
    document = json.loads(body)
    found = {headers["Docker-Content-Digest"]}
    for child in document.get("manifests", []):
        found |= blobs_of(registry, repository, child["digest"])
    if "config" in document:
        found |= {document["config"]["digest"], *(layer["digest"] for layer in document["layers"])}
    return found


# --- stand-ins and faults ------------------------------------------------------------

Route = Callable[[str, str, dict[str, str], bytes], Answer | None]


class StubServer:
    """A threaded stdlib HTTP(S) server answering with `route(method, path, headers, body)`;
    a route returning None drops the connection without an answer."""

    def __init__(self, route: Route, *, cert: tuple[Path, Path] | None = None) -> None:
        self.route = route
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                answer = outer.route(self.command, self.path, dict(self.headers), body)
                if answer is None:
                    self.close_connection = True
                    return
                status, headers, payload = answer
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_HEAD = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*cert)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FaultProxy(StubServer):
    """Forwards to a real registry, except where `fault(method, path, n)` says otherwise:
    "500", "drop" (close without answering), "garbage" (an HTML page), "no-digest",
    "wrong-digest" (a digest header that is not the body's).  `extra_headers(method, path,
    headers)` adds headers to every forwarded answer."""

    def __init__(
        self,
        upstream: RegistryServer,
        fault: Callable[[str, str, int], str],
        *,
        extra_headers: Callable[[str, str, dict[str, str]], dict[str, str]] | None = None,
    ) -> None:
        self.upstream = upstream
        self.fault = fault
        self.extra_headers = extra_headers
        self.seen: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        super().__init__(self._forward)

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> Answer | None:
        with self._lock:
            fault = self.fault(method, path, len(self.seen))
            self.seen.append((method, path, fault))
        if fault == "drop":
            return None
        if fault == "500":
            return 500, {"Content-Type": "text/plain"}, b"injected"
        connection = http.client.HTTPConnection("127.0.0.1", self.upstream.port, timeout=30)
        forwarded = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
        connection.request(method, path, body or None, headers=forwarded)
        response = connection.getresponse()
        payload = response.read()
        answer = {
            k: v
            for k, v in response.getheaders()
            if k.lower() not in ("content-length", "transfer-encoding", "connection")
        }
        connection.close()
        if self.extra_headers is not None:
            answer.update(self.extra_headers(method, path, headers))
        if fault == "garbage":
            return 200, {**answer, "Content-Type": "text/html"}, b"<html>maintenance</html>"
        if fault == "no-digest":
            answer.pop("Docker-Content-Digest", None)
        if fault == "wrong-digest":
            answer["Docker-Content-Digest"] = "sha256:" + "0" * 64
        return response.status, answer, payload


def make_cert(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (it is its own CA); returns (cert, key)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


# --- manifests built by hand: artifacts, referrers, rebuilt indexes --------------------

EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"


def push_blob(
    registry: RegistryServer, repository: str, data: bytes, media_type: str
) -> dict[str, Any]:
    """Upload one blob (POST, then PUT with the digest); returns its descriptor."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    status, headers, body = api(registry, "POST", f"/v2/{repository}/blobs/uploads/")
    assert status == 202, body
    location = headers["Location"]
    path = location.split(registry.host, 1)[-1] if "://" in location else location
    separator = "&" if "?" in path else "?"
    status, _, body = api(
        registry,
        "PUT",
        f"{path}{separator}digest={digest}",
        body=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert status == 201, body
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def put_manifest(
    registry: RegistryServer, repository: str, reference: str, document: dict[str, Any]
) -> str:
    """PUT a manifest or index under a tag (or its digest); returns its digest."""
    body = json.dumps(document).encode()
    return put_manifest_bytes(registry, repository, reference, body, document["mediaType"])


def push_referrer(
    registry: RegistryServer,
    repository: str,
    subject: str | None,
    *,
    tag: str | None = None,
    config: dict[str, Any] | None = None,
) -> str:
    """An artifact manifest (a signature, an SBOM): one small layer, an empty config unless
    `config` is given, a `subject` when given; pushed under `tag` or by digest."""
    if config is None:
        config_descriptor = push_blob(registry, repository, b"{}", EMPTY_CONFIG)
    else:
        config_descriptor = push_blob(
            registry,
            repository,
            json.dumps(config).encode(),
            "application/vnd.oci.image.config.v1+json",
        )
    layer = push_blob(registry, repository, os.urandom(32), "application/vnd.example.sig")
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.sig",
        "config": config_descriptor,
        "layers": [layer],
    }
    if subject is not None:
        document["subject"] = descriptor_of(registry, repository, subject)
    body = json.dumps(document).encode()
    reference = tag or "sha256:" + hashlib.sha256(body).hexdigest()
    return put_manifest(registry, repository, reference, document)


def descriptor_of(registry: RegistryServer, repository: str, digest: str) -> dict[str, Any]:
    """The OCI descriptor (media type, digest, size) of a manifest in the registry."""
    status, headers, _ = api(
        registry, "HEAD", f"/v2/{repository}/manifests/{digest}", headers={"Accept": ACCEPT}
    )
    assert status == 200, digest
    return {
        "mediaType": headers["Content-Type"],
        "digest": digest,
        "size": int(headers["Content-Length"]),
    }


def manifest_document(registry: RegistryServer, repository: str, reference: str) -> dict[str, Any]:
    status, _, body = api(
        registry, "GET", f"/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT}
    )
    assert status == 200, body
    document: dict[str, Any] = json.loads(body)
    return document


def tag_schema(digest: str, suffix: str = "") -> str:
    """The referrers tag schema: `sha256-<hex>` (OCI fallback), `sha256-<hex>.sig` (cosign)."""
    return digest.replace(":", "-") + suffix


def push_with_config(
    registry: RegistryServer,
    repository: str,
    tag: str,
    config: bytes,
    *,
    media_type: str = "application/vnd.oci.image.config.v1+json",
    declared_size: int | None = None,
    annotations: dict[str, str] | None = None,
) -> tuple[str, str]:
    """An image with exactly these config bytes (and what its descriptor claims); returns
    (manifest digest, config digest)."""
    layer = push_blob(
        registry,
        repository,
        gzip.compress(os.urandom(64)),
        "application/vnd.oci.image.layer.v1.tar+gzip",
    )
    descriptor = push_blob(registry, repository, config, media_type)
    if declared_size is not None:
        descriptor["size"] = declared_size
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor,
        "layers": [layer],
    }
    if annotations:
        document["annotations"] = annotations
    return put_manifest(registry, repository, tag, document), str(descriptor["digest"])
