"""Local stand-ins for the images the goharbor chart pins, for the Harbor node test.

No registry serving goharbor's images is reachable here, so each is built from what is, laid out
as its Dockerfile and entrypoint under make/photon/ lay it out (users, paths, entrypoint and its
arguments), and named with the EXACT reference the chart pins (see `references`), as
scripts/node_images.py does for the Distribution stacks:

- core, jobservice, registryctl, exporter: Harbor's own Go programs, built from the vendored
  Harbor source by scripts/harbor-build.sh (static binaries), with core's views and migrations;
- registry-photon: Harbor's Distribution fork (same script), as `registry_DO_NOT_USE_GC`;
- harbor-db: Debian's PostgreSQL 15 (not Photon's 18) with make/photon/db's scripts unchanged;
- redis-photon / valkey-photon: Debian's redis-server 7.0 (bookworm has no valkey; valkey-server
  is a link to it) with make/photon/valkey/redis.conf;
- nginx-photon: Debian's nginx; harbor-portal: the same nginx serving a static stand-in page
  (the Angular build needs the npm registry's whole dependency tree and more memory and time than
  this machine gives a test);
- Trivy is left out: it needs a vulnerability database, which cannot be downloaded here.

Debian's binaries carry their shared libraries (ldd), as node_images.py packs Python.

    python harbor_images.py OUT_DIR TAG CACHE_IMAGE busybox=PATH bin=DIR source=DIR nginx=PATH

writes OUT_DIR/<name>.tar for each image and prints `reference<TAB>archive` lines.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from node_images import File, Image, _busybox, _shared_libraries, write_images

PG = "/usr/lib/postgresql/15"
HARBOR_USER = b"harbor:x:10000:10000::/home/harbor:/bin/sh\n"
Layer = Callable[[dict[str, Path]], Iterable[File]]


def _users(*lines: bytes) -> Layer:
    """/etc/passwd and /etc/group with the users the upstream Dockerfile adds (UIDs as there)."""

    def layer(_: dict[str, Path]) -> Iterable[File]:
        passwd = b"root:x:0:0:root:/root:/bin/sh\n" + b"".join(lines)
        groups = b"root:x:0:\n" + b"".join(
            b"%s:x:%s:\n" % (line.split(b":")[0], line.split(b":")[3]) for line in lines
        )
        yield "etc/passwd", passwd, 0o644
        yield "etc/group", groups, 0o644

    return layer


def _host_files(*paths: str) -> Iterable[File]:
    """Host binaries (and what they link) at the same paths; directories copied whole."""
    binaries = []
    for path in paths:
        if os.path.isdir(path):
            for directory, _, files in os.walk(path):
                for name in sorted(files):
                    full = os.path.join(directory, name)
                    if os.path.islink(full):
                        yield full.lstrip("/"), b"->" + os.readlink(full).encode(), 0o777
                        continue
                    executable = os.access(full, os.X_OK)
                    if executable or name.endswith(".so"):
                        binaries.append(full)
                    yield full.lstrip("/"), full, 0o755 if executable else 0o644
        else:
            binaries.append(path)
            yield path.lstrip("/"), os.path.realpath(path), 0o755
    for lib in sorted(_shared_libraries(binaries)):
        yield lib.lstrip("/"), lib, 0o755


def _bash(_: dict[str, Path]) -> Iterable[File]:
    """Debian's bash: Harbor's entrypoints are bash scripts."""
    yield from _host_files("/bin/bash")
    yield "usr/bin/bash", b"->/bin/bash", 0o777


def _photon_scripts(*pairs: tuple[str, str]) -> Layer:
    """make/photon files at their image paths, executable as the Dockerfile makes them."""

    def layer(inputs: dict[str, Path]) -> Iterable[File]:
        for source, target in pairs:
            yield target, str(inputs["source"] / "make" / "photon" / source), 0o755

    return layer


def _binary(name: str, target: str) -> Layer:
    def layer(inputs: dict[str, Path]) -> Iterable[File]:
        yield target, str(inputs["bin"] / name), 0o755

    return layer


def _photon(install_dir: str) -> Layer:
    """What install_cert.sh (run by each Go image's entrypoint) looks for: the Photon release
    marker, without which it does nothing, and the trust bundle it rewrites (the host's here).
    Last layer of the image: its directories are writable by the harbor user, whom upstream's
    Dockerfiles give them (`chown -R harbor:harbor`; this builder writes every file as root)."""

    def layer(_: dict[str, Path]) -> Iterable[File]:
        yield "etc/lsb-release", b'DISTRIB_ID="VMware Photon OS"\nDISTRIB_RELEASE="5.0"\n', 0o644
        yield "etc/pki/tls/certs/", b"", 0o777
        yield "etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs/ca-certificates.crt", 0o666
        yield f"{install_dir}/", b"", 0o777

    return layer


def _tree(source: str, target: str) -> Iterable[File]:
    for directory, _, files in os.walk(source):
        for name in sorted(files):
            path = os.path.join(directory, name)
            yield os.path.join(target, os.path.relpath(path, source)), path, 0o644


def _core_files(inputs: dict[str, Path]) -> Iterable[File]:
    """core/Dockerfile: views and migrations beside the binary (WORKDIR /harbor). `icons` (the
    artifact-type icons the UI asks for) is not in the vendored source: left out."""
    yield from _tree(str(inputs["source"] / "src" / "core" / "views"), "harbor/views")
    yield from _tree(str(inputs["source"] / "make" / "migrations"), "harbor/migrations")


def _zoneinfo(_: dict[str, Path]) -> Iterable[File]:
    """tzdata, which core's and the database's base images install."""
    yield from _tree("/usr/share/zoneinfo", "usr/share/zoneinfo")


def _postgres(inputs: dict[str, Path]) -> Iterable[File]:
    """Debian's PostgreSQL 15 server and client where its relocatable layout expects them,
    linked from /usr/bin (the entrypoint calls initdb, pg_ctl, psql and postgres by name)."""
    # First, as of two files at one path a layer keeps the first: db/Dockerfile.base's two edits
    # of the sample initdb copies (listen on every address, the socket in /run/postgresql).
    sample = Path("/usr/share/postgresql/15/postgresql.conf.sample").read_text()
    sample = re.sub(r"(?m)^#listen_addresses = 'localhost'", "listen_addresses = '*'", sample)
    sample = re.sub(
        r"(?m)^#?unix_socket_directories = '[^']*'",
        "unix_socket_directories = '/run/postgresql'",
        sample,
    )
    yield "usr/share/postgresql/15/postgresql.conf.sample", sample.encode(), 0o644
    yield from _host_files(f"{PG}/bin", f"{PG}/lib", "/usr/share/postgresql/15")
    for program in ("postgres", "initdb", "pg_ctl", "psql"):
        yield f"usr/bin/{program}", f"->{PG}/bin/{program}".encode(), 0o777
    # initdb.sh asks for en_US.UTF-8, which the host has only as locale sources.
    for directory, _, files in os.walk(inputs["locale"]):
        for name in sorted(files):
            path = os.path.join(directory, name)
            target = os.path.join(
                "usr/lib/locale/en_US.utf8", os.path.relpath(path, inputs["locale"])
            )
            yield target, path, 0o644
    yield "run/postgresql/", b"", 0o2777
    # Debian's clients look for the socket in /var/run/postgresql: /var/run is /run, as there.
    yield "var/run", b"->/run", 0o777
    yield "var/lib/postgresql/data/", b"", 0o777
    yield (
        "docker-entrypoint-initdb.d/initial-registry.sql",
        str(inputs["source"] / "make/photon/db/initial-registry.sql"),
        0o644,
    )


def _redis(inputs: dict[str, Path]) -> Iterable[File]:
    yield from _host_files("/usr/bin/redis-server")
    yield "usr/bin/valkey-server", b"->/usr/bin/redis-server", 0o777
    yield "etc/redis.conf", str(inputs["source"] / "make/photon/valkey/redis.conf"), 0o644
    yield "var/lib/redis/", b"", 0o777


def _nginx(inputs: dict[str, Path]) -> Iterable[File]:
    """Debian's nginx; logs to the container's output as nginx/Dockerfile.base links them."""
    yield "usr/sbin/nginx", str(inputs["nginx"]), 0o755
    for lib in sorted(_shared_libraries([str(inputs["nginx"])])):
        yield lib.lstrip("/"), lib, 0o755
    yield "var/log/nginx/access.log", b"->/dev/stdout", 0o777
    yield "var/log/nginx/error.log", b"->/dev/stderr", 0o777
    yield "var/cache/nginx/", b"", 0o777
    yield "var/lib/nginx/", b"", 0o777
    yield "etc/nginx/mime.types", MIME_TYPES, 0o644


MIME_TYPES = b"""types {
    text/html html;
    text/css css;
    application/javascript js;
    application/json json;
    image/png png;
    image/svg+xml svg;
}
"""

PORTAL_PAGE = b"""<!doctype html>
<html><head><title>Harbor</title></head>
<body><p>regstack test stand-in for Harbor's portal: the Angular UI is not built here.</p></body>
</html>
"""


def _portal_page(_: dict[str, Path]) -> Iterable[File]:
    yield "usr/share/nginx/html/index.html", PORTAL_PAGE, 0o644


HARBOR_BASE = (_busybox, _bash, _users(HARBOR_USER))
NGINX_USER = b"nginx:x:10000:10000::/home/nginx:/bin/bash\n"
NGINX = ("nginx", "-g", "daemon off;")


REGISTRY_BINARY = "usr/bin/registry_DO_NOT_USE_GC"


def _go_image(
    reference: str,
    entrypoint: str,
    directory: str,
    binaries: tuple[tuple[str, str], ...],
    extra: tuple[Layer, ...] = (),
    workdir: str = "",
) -> Image:
    """One of Harbor's Go images: its entrypoint script and install_cert.sh in `directory`
    (upstream's /harbor or /home/harbor), its binaries (built name, path in the image), run as
    the harbor user."""
    script = f"{directory}/{entrypoint.rsplit('/', 1)[1]}"
    layers = (
        *HARBOR_BASE, *extra,
        _photon_scripts((entrypoint, script), ("common/install_cert.sh", f"{directory}/install_cert.sh")),
        *(_binary(name, target) for name, target in binaries),
        _photon(directory),
    )  # fmt: skip
    return Image(reference, layers, entrypoint=(f"/{script}",), user="harbor", workdir=workdir)


def images(tag: str, cache_image: str) -> dict[str, Image]:
    """The chart's images at `tag`; `cache_image` is redis-photon (1.19.1) or valkey-photon."""
    hub = "docker.io/goharbor"
    cache_program = "valkey-server" if "valkey" in cache_image else "redis-server"
    cache_user = b"valkey" if "valkey" in cache_image else b"redis"
    return {
        "harbor-core": _go_image(
            f"{hub}/harbor-core:{tag}", "core/entrypoint.sh", "harbor",
            (("core", "harbor/harbor_core"),), extra=(_zoneinfo, _core_files), workdir="/harbor/",
        ),
        "harbor-jobservice": _go_image(
            f"{hub}/harbor-jobservice:{tag}", "jobservice/entrypoint.sh", "harbor",
            (("jobservice", "harbor/harbor_jobservice"),), workdir="/harbor/",
        ),
        "registry-photon": _go_image(
            f"{hub}/registry-photon:{tag}", "registry/entrypoint.sh", "home/harbor",
            (("registry", REGISTRY_BINARY),),
        ),
        "harbor-registryctl": _go_image(
            f"{hub}/harbor-registryctl:{tag}", "registryctl/start.sh", "home/harbor",
            (("registry", REGISTRY_BINARY), ("registryctl", "home/harbor/harbor_registryctl")),
        ),
        "harbor-exporter": _go_image(
            f"{hub}/harbor-exporter:{tag}", "exporter/entrypoint.sh", "harbor",
            (("exporter", "harbor/harbor_exporter"),), workdir="/harbor",
        ),
        "harbor-db": Image(
            f"{hub}/harbor-db:{tag}",
            (_busybox, _bash, _users(b"postgres:x:999:999::/home/postgres:/bin/bash\n"),
             _zoneinfo, _postgres,
             _photon_scripts(("db/docker-entrypoint.sh", "docker-entrypoint.sh"),
                             ("db/initdb.sh", "initdb.sh"), ("db/upgrade.sh", "upgrade.sh"),
                             ("db/docker-healthcheck.sh", "docker-healthcheck.sh"))),
            # Upstream passes "15" "18" (upgrade from PostgreSQL 15, run 18); this stand-in runs
            # Debian's 15, so there is nothing to upgrade from.
            entrypoint=("/docker-entrypoint.sh", "", "15"), user="postgres", workdir="/",
            env=("PGDATA=/var/lib/postgresql/data",),
        ),
        "cache": Image(
            f"{hub}/{cache_image}:{tag}",
            (_busybox, _users(cache_user + b":x:999:999::/var/lib/redis:/sbin/nologin\n"),
             _redis,
             _photon_scripts(("valkey/docker-healthcheck", "usr/bin/docker-healthcheck"))),
            cmd=(cache_program, "/etc/redis.conf"), user=cache_user.decode(),
            workdir="/var/lib/redis",
        ),
        "nginx-photon": Image(
            f"{hub}/nginx-photon:{tag}", (_busybox, _users(NGINX_USER), _nginx), cmd=NGINX,
            user="nginx",
        ),
        "harbor-portal": Image(
            f"{hub}/harbor-portal:{tag}",
            (_busybox, _users(NGINX_USER), _nginx, _portal_page), cmd=NGINX, user="nginx",
        ),
    }  # fmt: skip


def main(argv: list[str]) -> None:
    out, tag, cache_image = Path(argv[0]), argv[1], argv[2]
    write_images(images(tag, cache_image), out, argv[3:])


if __name__ == "__main__":
    main(sys.argv[1:])
