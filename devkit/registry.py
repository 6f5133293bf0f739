"""The real registry (CNCF Distribution) on loopback, and tiny OCI images for it.

Which binary runs follows the line the config is rendered for (`RenderSettings.line`): 3.x is the
`registry` that scripts/registry-server.sh builds from the Go module proxy at the version regstack
deploys by default; 2.x is Debian's `docker-registry` (2.8.2), kept for the tests about that line.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import socket
import ssl
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.distribution_config import (
    RenderSettings,
    plain_env,
    registry_config,
    secret_env_names,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEBIAN_REGISTRY = "docker-registry"


def built_binary(script: str) -> Path:
    """The program a scripts/<script> build caches; fail (never skip) when it is not built."""
    path = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / script), "--bin"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} missing: run `bash scripts/{script}` (`make test` does)")
    return Path(path)


def registry_binary(line: int = 3) -> str:
    """The registry program for a Distribution major line; fails when it is not there."""
    if line == 2:
        require(DEBIAN_REGISTRY)
        return DEBIAN_REGISTRY
    return str(built_binary("registry-server.sh"))


def require(*binaries: str) -> None:
    """Fail, never skip: `make setup` installs these, so a missing one is a broken set-up."""
    missing = [b for b in binaries if shutil.which(b) is None]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `make setup` (scripts/system-deps.sh)")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate, and kill if it has not gone within ten seconds."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


_handed_out: set[int] = set()


def _ephemeral_range_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A loopback port that is free now and was not handed out before in this session.

    It lies below the kernel's ephemeral range: the servers the tests start open outgoing
    connections whose local ports the kernel takes from that range, and SeaweedFS once lost a
    listener port that way between our check and its bind ("address already in use").
    """
    while True:
        port = random.randrange(10000, max(_ephemeral_range_start(), 20000))
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port


def write_blob(directory: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (directory / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (directory / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def oci_image(
    directory: Path, tag: str, created: str = "2026-01-01T00:00:00Z", content: bytes = b"hello"
) -> str:
    """Write a one-layer image into an OCI layout and return its manifest digest."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as archive:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    compressed = gzip.compress(layer.getvalue(), mtime=0)
    diff_id = "sha256:" + hashlib.sha256(layer.getvalue()).hexdigest()
    config = {"created": created, "architecture": "amd64", "os": "linux",
              "rootfs": {"type": "layers", "diff_ids": [diff_id]}, "config": {}}  # fmt: skip
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   **write_blob(directory, json.dumps(config).encode())},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    **write_blob(directory, compressed)}],
    }  # fmt: skip
    entry = {"mediaType": manifest["mediaType"], **write_blob(directory, json.dumps(manifest).encode()),
             "annotations": {"org.opencontainers.image.ref.name": tag}}  # fmt: skip
    index_path = directory / "index.json"
    index: dict[str, Any] = (
        json.loads(index_path.read_text())
        if index_path.exists()
        else {"schemaVersion": 2, "manifests": []}
    )
    index["manifests"].append(entry)
    index_path.write_text(json.dumps(index))
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return str(entry["digest"])


def skopeo(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["skopeo", *args], capture_output=True, text=True, check=check, timeout=120
    )


@dataclass
class RunningRegistry:
    url: str
    host: str
    metrics_url: str
    process: subprocess.Popen[bytes]
    config_path: Path
    log_path: Path
    binary: str
    """The registry program: 3.x built here, or Debian's 2.8.2 (`registry_binary`)."""
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    """The process environment: the caller's, minus AWS_*/REGISTRY_*, plus the secrets."""
    ca_file: Path | None = None
    user: int | None = None
    """The uid (and gid) it runs as; None: this process's."""

    def stop(self) -> None:
        stop_process(self.process)

    def start(self) -> None:
        """Start it again, stopped, on the same config, port and environment."""
        assert self.process.poll() is not None, "the registry is still running"
        self.process = _launch(self.binary, self.config_path, self.log_path, self.env, self.user)
        _wait_until_ready(self)

    def garbage_collect(self, *flags: str) -> subprocess.CompletedProcess[str]:
        """`registry garbage-collect FLAGS config.yml`, as the GC Job runs it: with the same
        binary, config and secrets, while no registry serves the storage."""
        assert self.process.poll() is not None, "stop the registry before garbage collection"
        return subprocess.run(
            [self.binary, "garbage-collect", *flags, str(self.config_path)],
            capture_output=True, text=True, env=self.env, timeout=300,
        )  # fmt: skip


def registry_env(secrets: Mapping[str, str]) -> dict[str, str]:
    """The registry's environment: secrets by their REGISTRY_* names, nothing else of ours.

    AWS_* variables go: the S3 driver reads them too, and a machine-wide AWS_CA_BUNDLE makes it
    panic at start ("unable to load custom CA bundle"). Stray REGISTRY_* ones would override
    the rendered config.
    """
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "REGISTRY_"))}
    return {**inherited, **secrets}


def _launch(
    binary: str, config_path: Path, log_path: Path, env: dict[str, str], user: int | None
) -> subprocess.Popen[bytes]:
    as_user = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] if user else []
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [*as_user, binary, "serve", str(config_path)], stdout=log,
            stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip


def _wait_until_ready(registry: RunningRegistry) -> None:
    context = ssl.create_default_context(cafile=str(registry.ca_file)) if registry.ca_file else None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if registry.process.poll() is not None:
            pytest.fail(f"{registry.binary} exited:\n{registry.log_path.read_text()}")
        try:
            urllib.request.urlopen(f"{registry.url}/", timeout=1, context=context)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    registry.stop()
    pytest.fail(f"{registry.binary} did not answer within 20s:\n{registry.log_path.read_text()}")


def start_registry(
    workdir: Path,
    settings: RenderSettings,
    ca_file: Path | None = None,
    secrets: Mapping[str, str] | None = None,
    user: int | None = None,
) -> RunningRegistry:
    """Start `registry serve` with the config regstack renders, and wait for it: the binary of
    the line it is rendered for (`settings.line`).

    TLS files are read from `workdir/tls/tls.{crt,key}`, htpasswd from `workdir/auth/htpasswd`,
    the token signing certificate from `workdir/token-ca/tls.crt` and an S3 endpoint's CA from
    `workdir/s3-ca/`: the same file names the component mounts.
    `secrets` are the values of exactly the environment variables the pod gets from Secrets
    (`secret_env_names`); the others (`plain_env`) are set as the pod spec sets them.
    """
    secrets = dict(secrets or {})
    assert set(secrets) == set(secret_env_names(settings)), (
        f"the pod gets {sorted(secret_env_names(settings))} from Secrets, not {sorted(secrets)}"
    )
    port, metrics = free_port(), free_port()
    local = dataclasses.replace(
        settings, data_dir=str(workdir / "data"), tls_dir=str(workdir / "tls"),
        auth_dir=str(workdir / "auth"), s3_ca_dir=str(workdir / "s3-ca"),
        token_ca_dir=str(workdir / "token-ca"),
        http_addr=f"127.0.0.1:{port}", metrics_addr=f"127.0.0.1:{metrics}",
    )  # fmt: skip
    env = {**registry_env(secrets), **plain_env(local)}
    return serve(workdir, registry_config(local), env, ca_file, user, settings.line)


def serve(
    workdir: Path,
    config: dict[str, Any],
    env: dict[str, str],
    ca_file: Path | None = None,
    user: int | None = None,
    line: int = 3,
) -> RunningRegistry:
    """`registry serve` of that line on any config (written to workdir/config.yml), as `user`
    if set.

    Its addresses come from the config: `http.addr`, TLS when `http.tls` is set, and the
    metrics of `http.debug.addr` if there is one."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "config.yml"
    config_path.write_text(yaml.safe_dump(config))
    log_path = workdir / "registry.log"
    http = config["http"]
    scheme = "https" if http.get("tls") else "http"
    debug = http.get("debug", {}).get("addr")
    binary = registry_binary(line)
    registry = RunningRegistry(
        f"{scheme}://{http['addr']}", http["addr"], f"http://{debug}/metrics" if debug else "",
        _launch(binary, config_path, log_path, env, user), config_path, log_path, binary, env,
        ca_file, user,
    )  # fmt: skip
    _wait_until_ready(registry)
    return registry


def self_signed_tls(directory: Path) -> Path:
    """A CA and a serving certificate for 127.0.0.1/localhost; returns the CA certificate."""
    directory.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=regstack test CA",
    )
    openssl(
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "tls.key",
        "-out",
        "tls.csr",
        "-subj",
        "/CN=localhost",
    )
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "tls.crt", "-days", "2", "-extfile", "san.ext")  # fmt: skip
    return directory / "ca.crt"


def push(layout: Path, tag: str, registry: RunningRegistry, reference: str) -> None:
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:{tag}",
           f"docker://{registry.host}/{reference}")  # fmt: skip


def pull(registry: RunningRegistry, reference: str, layout: Path) -> str:
    """Copy an image out of the registry into an OCI layout; returns its manifest digest.
    skopeo fetches every blob and checks it against its digest, so a success is a full pull."""
    skopeo("copy", "--src-tls-verify=false", f"docker://{registry.host}/{reference}",
           f"oci:{layout}:pulled")  # fmt: skip
    return str(json.loads((layout / "index.json").read_text())["manifests"][0]["digest"])
