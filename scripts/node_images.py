"""Local stand-ins for the images the stacks pin, for the test node (scripts/node.sh).

No registry is reachable here, so every image a test pod runs is built from what is: Debian's
busybox-static, the Distribution binary built by scripts/registry-server.sh, docker_auth's from
scripts/token-server.sh and the host's own Python. Each is written as an OCI image-layout archive, named with the EXACT reference the stack
pins (the product's manifests stay as they are), and labelled as a local test build; a real
cluster pulls the official images.

    python node_images.py OUT_DIR busybox=PATH registry=PATH token_server=PATH

writes OUT_DIR/<name>.tar for every image in IMAGES and prints `reference<TAB>archive` lines.
Archives are reproducible (fixed times, sorted entries): the same inputs give the same digests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import sysconfig
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

LABEL = "io.regstack.local-test-build"
NOTE = "regstack local test build: a stand-in for the pinned public image; not the official one"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

File = tuple[str, bytes | str, int]  # path in the image, content or host path, mode


@dataclass(frozen=True)
class Image:
    reference: str
    layers: tuple[Callable[[dict[str, Path]], Iterable[File]], ...]
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    # Set only where the mirrored upstream image sets them (scripts/harbor_images.py).
    user: str = ""
    workdir: str = ""
    env: tuple[str, ...] = ()


def _busybox(inputs: dict[str, Path]) -> Iterable[File]:
    busybox = inputs["busybox"]
    yield "bin/busybox", str(busybox), 0o755
    applets = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, check=True)
    for applet in applets.stdout.split():
        if applet != "bin/busybox":
            yield applet, b"->/bin/busybox", 0o777
    yield "tmp/", b"", 0o1777
    yield "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nregistry:x:1000:1000::/:/bin/sh\n", 0o644
    yield "etc/group", b"root:x:0:\nregistry:x:1000:\n", 0o644


DISTRIBUTION_CONFIG = b"""version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
"""


def _registry(inputs: dict[str, Path]) -> Iterable[File]:
    yield "bin/registry", str(inputs["registry"]), 0o755
    yield "etc/distribution/config.yml", DISTRIBUTION_CONFIG, 0o644
    yield "var/lib/registry/", b"", 0o755


def _token_server(inputs: dict[str, Path]) -> Iterable[File]:
    """docker_auth's static binary where upstream's image has it (its ENTRYPOINT)."""
    yield "docker_auth/auth_server", str(inputs["token_server"]), 0o755


def _shared_libraries(binaries: Iterable[str]) -> set[str]:
    libs: set[str] = set()
    for binary in binaries:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0] if parts else ""
            if path.startswith("/"):
                libs.update({path, os.path.realpath(path)})
    return libs


def _python(inputs: dict[str, Path]) -> Iterable[File]:
    """The host's CPython with its standard library: the jobs' scripts use nothing else."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    dynload = Path(sysconfig.get_config_var("DESTSHARED") or stdlib / "lib-dynload")
    interpreter = os.path.realpath(sys.executable)
    yield "usr/local/bin/python", interpreter, 0o755
    yield "usr/local/bin/python3", b"->/usr/local/bin/python", 0o777
    skip = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "__pycache__",
            "site-packages", "dist-packages", "pydoc_data", "config-3"}  # fmt: skip
    extensions = []
    for directory, subdirs, files in os.walk(stdlib):
        subdirs[:] = sorted(d for d in subdirs if not any(d.startswith(s) for s in skip))
        for name in sorted(files):
            path = os.path.join(directory, name)
            if name.endswith(".so"):
                extensions.append(path)
            if name.endswith((".py", ".so")):
                yield path.lstrip("/"), path, 0o644
    if not str(dynload).startswith(str(stdlib)):
        for name in sorted(os.listdir(dynload)):
            extensions.append(str(dynload / name))
            yield str(dynload / name).lstrip("/"), str(dynload / name), 0o644
    for lib in sorted(_shared_libraries([interpreter, *extensions])):
        yield lib.lstrip("/"), lib, 0o755
    # Python finds its prefix from the interpreter's path: point it at the copied stdlib.
    yield "etc/ssl/certs/", b"", 0o755


def _python_env() -> list[str]:
    prefix = str(Path(sysconfig.get_paths()["stdlib"]).parent.parent)
    return [f"PYTHONHOME={prefix}", "PYTHONDONTWRITEBYTECODE=1"]


PAUSE = "registry.k8s.io/pause:3.10"
BUSYBOX = "localhost/regstack-test/busybox:1.35.0"
IMAGES = {
    # containerd's sandbox_image (scripts/node.sh writes the same reference).
    "pause": Image(PAUSE, (_busybox,), entrypoint=("/bin/busybox", "sleep", "2147483647")),
    # A small app for test pods, and what the demo pushes to the registry.
    "busybox": Image(BUSYBOX, (_busybox,), cmd=("sh",)),
    # RegistryConfig.image:version in components/config.py, as Pulumi.dev.yaml pins it.
    "registry": Image(
        "docker.io/library/registry:3.1.2",
        (_busybox, _registry),
        entrypoint=("registry",),
        cmd=("serve", "/etc/distribution/config.yml"),
    ),
    # TokenServerConfig.image:version (auth.mode: token), from scripts/token-server.sh.
    "token-server": Image(
        "docker.io/cesanta/docker_auth:1.14.0",
        (_busybox, _token_server),
        entrypoint=("/docker_auth/auth_server",),
        cmd=("/config/auth_config.yml",),
    ),
    # GcConfig.helper_image and RetentionConfig.image.
    "python": Image(
        "docker.io/library/python:3.13.1-alpine3.21", (_busybox, _python), cmd=("python3",)
    ),
}


def _layer(files: Iterable[File]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        seen: set[str] = set()
        for path, content, mode in sorted(files, key=lambda f: f[0]):
            path = path.rstrip("/") if path.endswith("/") else path
            if path in seen:
                continue
            seen.add(path)
            for parent in Path(path).parents:  # directories before what they hold
                name = str(parent)
                if name != "." and name not in seen:
                    seen.add(name)
                    tar.addfile(_info(name, tarfile.DIRTYPE, 0o755))
            if content == b"":
                tar.addfile(_info(path, tarfile.DIRTYPE, mode))
            elif isinstance(content, bytes) and content.startswith(b"->"):
                info = _info(path, tarfile.SYMTYPE, mode)
                info.linkname = content[2:].decode()
                tar.addfile(info)
            else:
                data = content if isinstance(content, bytes) else Path(content).read_bytes()
                info = _info(path, tarfile.REGTYPE, mode)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def _info(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.uid, info.gid = kind, mode, 0, 0, 0
    return info


def _blob(blobs: dict[str, bytes], data: bytes, media_type: str) -> dict[str, object]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def build(image: Image, inputs: dict[str, Path], out: Path) -> None:
    blobs: dict[str, bytes] = {}
    layers, diff_ids = [], []
    for make in image.layers:
        tar = _layer(make(inputs))
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        gz = gzip.compress(tar, mtime=0)
        layers.append(_blob(blobs, gz, "application/vnd.oci.image.layer.v1.tar+gzip"))
    env = [PATH_ENV, *(_python_env() if _python in image.layers else []), *image.env]
    extra = {"User": image.user, "WorkingDir": image.workdir}
    config = {
        "architecture": "amd64",
        "os": "linux",
        # Fixed, for reproducible digests, and not the epoch: tag retention keeps images whose
        # creation time is unknown or before 1981.
        "created": "2026-01-01T00:00:00Z",
        "config": {
            "Env": env,
            "Entrypoint": list(image.entrypoint) or None,
            "Cmd": list(image.cmd) or None,
            "Labels": {LABEL: "true", "org.opencontainers.image.description": NOTE},
            **{key: value for key, value in extra.items() if value},
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": _blob(blobs, _json(config), "application/vnd.oci.image.config.v1+json"),
        "layers": layers,
        "annotations": {LABEL: "true", "org.opencontainers.image.description": NOTE},
    }
    descriptor = _blob(blobs, _json(manifest), "application/vnd.oci.image.manifest.v1+json")
    descriptor["annotations"] = {
        "io.containerd.image.name": image.reference,
        "org.opencontainers.image.ref.name": image.reference.rsplit(":", 1)[1],
    }
    index = {"schemaVersion": 2, "manifests": [descriptor]}
    tmp = out.with_suffix(".tmp")
    with tarfile.open(tmp, "w") as archive:
        entries = {"oci-layout": _json({"imageLayoutVersion": "1.0.0"}), "index.json": _json(index)}
        entries |= {f"blobs/sha256/{d.split(':')[1]}": data for d, data in blobs.items()}
        for name in ("blobs", "blobs/sha256"):
            archive.addfile(_info(name, tarfile.DIRTYPE, 0o755))
        for name, data in sorted(entries.items()):
            info = _info(name, tarfile.REGTYPE, 0o644)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    tmp.rename(out)


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def write_images(images: dict[str, Image], out: Path, arguments: list[str]) -> None:
    """OUT/<name>.tar for each image not yet there, from `key=PATH` inputs; prints
    `reference<TAB>archive` lines."""
    inputs = {key: Path(value) for key, value in (arg.split("=", 1) for arg in arguments)}
    out.mkdir(parents=True, exist_ok=True)
    for name, image in images.items():
        archive = out / f"{name}.tar"
        if not archive.exists():
            build(image, inputs, archive)
        print(f"{image.reference}\t{archive}")


def main(argv: list[str]) -> None:
    write_images(IMAGES, Path(argv[0]), argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
