"""NodeTrust: make each node's container runtime trust the registry, as the chapter does by hand.

A lab registry speaks plain HTTP or TLS from a self-signed CA, and containerd refuses both until
told otherwise. containerd reads that from `certs.d/<host:port>/hosts.toml` (MicroK8s keeps it
under its snap), Docker Engine a CA from `/etc/docker/certs.d/<host:port>/ca.crt`. This
component writes those files on every node over SSH with pulumi-command, restarts the runtime
only when a file changed (or when an earlier restart failed), and on `pulumi destroy` removes them again, putting back any file it
had replaced (MicroK8s ships one for `localhost:32000`).

The scripts are plain POSIX shell built by pure functions, so tests run them against a local
directory instead of a node.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import pulumi
import pulumi_command as command

from .config import NodeTrustConfig, TrustedNode

# Every regstack stack marks its files; each prunes only its own, so stacks that trust
# different registries on the same nodes leave each other's files alone.
MARKER_PREFIX = "# Managed by regstack (node_trust"


def marker(owner: str) -> str:
    """The first line of each file stack `owner` (project/stack) writes."""
    return f"{MARKER_PREFIX} {owner}); `pulumi destroy` removes this file."


BACKUP_SUFFIX = ".regstack-orig"
RUNTIME_DEFAULTS = {
    "microk8s": (
        "/var/snap/microk8s/current/args/certs.d",
        "snap restart microk8s.daemon-containerd",
    ),
    "containerd": ("/etc/containerd/certs.d", "systemctl restart containerd"),
    # Docker Engine reads certs.d on every connection: nothing to restart.
    "docker": ("/etc/docker/certs.d", "true"),
}
# Docker's certs.d has no hosts.toml to carry the marker, so a file of its own does (Docker
# only reads *.crt, *.cert and *.key there).
DOCKER_MARKER_FILE = "regstack-managed"


def certs_dir(trust: NodeTrustConfig) -> str:
    return trust.certs_dir or RUNTIME_DEFAULTS[trust.runtime][0]


def restart_command(trust: NodeTrustConfig) -> str:
    return trust.restart_command or RUNTIME_DEFAULTS[trust.runtime][1]


def hosts_toml(endpoint: str, scheme: str, ca_path: str | None, owner: str) -> str:
    """containerd's hosts.toml for one registry endpoint (`host[:port]`)."""
    url = f"{scheme}://{endpoint}"
    lines = [marker(owner)]
    if scheme == "http":
        lines.append("# Plain HTTP: for a development registry only.")
    lines += [
        f'server = "{url}"',
        "",
        f'[host."{url}"]',
        '  capabilities = ["pull", "resolve", "push"]',
    ]
    if ca_path is not None:
        lines.append(f'  ca = "{ca_path}"')
    return "\n".join(lines) + "\n"


def upstream_namespace(remote_url: str) -> str:
    """The certs.d folder containerd reads for images of `remote_url` (Docker Hub's is docker.io)."""
    host = urlsplit(remote_url).netloc
    return "docker.io" if host == "registry-1.docker.io" else host


def mirror_toml(
    remote_url: str, mirrors: list[str], scheme: str, ca_path: str | None, owner: str
) -> str:
    """containerd's hosts.toml sending pulls of `remote_url`'s images to the mirror first; the
    upstream stays the fallback."""
    lines = [marker(owner), f'server = "{remote_url}"']
    for endpoint in mirrors:
        lines += ["", f'[host."{scheme}://{endpoint}"]', '  capabilities = ["pull", "resolve"]']
        if ca_path is not None:
            lines.append(f'  ca = "{ca_path}"')
    return "\n".join(lines) + "\n"


def trust_files(
    endpoints: list[str],
    directory: str,
    ca_pem: str | None,
    runtime: str,
    owner: str,
    mirror_of: str | None = None,
) -> dict[str, str]:
    """Path -> content of every file a node needs. containerd: hosts.toml, plain HTTP without
    a CA, HTTPS with one, and for a pull-through cache (`mirror_of`, the upstream's URL) the
    upstream's hosts.toml naming the mirror. Docker: the CA only (plain HTTP needs
    daemon.json, and mirrors daemon.json's registry-mirrors, neither in certs.d)."""
    files: dict[str, str] = {}
    for endpoint in endpoints:
        folder = f"{directory}/{endpoint}"
        ca_path = f"{folder}/ca.crt" if ca_pem is not None else None
        if runtime == "docker":
            files[f"{folder}/{DOCKER_MARKER_FILE}"] = marker(owner) + "\n"
        else:
            scheme = "https" if ca_pem is not None else "http"
            files[f"{folder}/hosts.toml"] = hosts_toml(endpoint, scheme, ca_path, owner)
        if ca_path is not None and ca_pem is not None:
            files[ca_path] = ca_pem if ca_pem.endswith("\n") else ca_pem + "\n"
    if mirror_of is not None and runtime != "docker" and endpoints:
        folder = f"{directory}/{upstream_namespace(mirror_of)}"
        scheme = "https" if ca_pem is not None else "http"
        # The CA file of the mirror's first endpoint folder serves every mirror host.
        ca_path = f"{directory}/{endpoints[0]}/ca.crt" if ca_pem is not None else None
        files[f"{folder}/hosts.toml"] = mirror_toml(mirror_of, endpoints, scheme, ca_path, owner)
    return files


# Written before the runtime restarts and removed once it has: a restart that failed (or whose
# connection dropped) leaves it, and the next run restarts although no file changes then. One
# per hosts directory: any stack's restart reloads every stack's files.
PENDING_RESTART = ".regstack-restart-pending"


def _prelude(owner: str, directory: str) -> str:
    """Runs as the SSH user: root directly, anyone else through passwordless sudo."""
    return f"""set -eu
as_root() {{ if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }}
prefix={shlex.quote(MARKER_PREFIX)}
marker={shlex.quote(marker(owner))}
backup={BACKUP_SUFFIX}
managed={DOCKER_MARKER_FILE}
pending={shlex.quote(f"{directory}/{PENDING_RESTART}")}
changed=0
"""


# put PATH CONTENT: a file found before regstack managed its folder (no regstack marker yet in
# the folder's hosts.toml or regstack-managed) is kept aside once, to be put back on removal.
# Root writes only into files mktemp has just created under a random name (it refuses a name
# that exists), then renames them into place: a link planted at a name it could guess would
# otherwise be written through, as root, to wherever it points.
_PUT = """put() {
  if [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; then return 0; fi
  if [ -f "$1" ] && [ ! -f "$1$backup" ] && ! grep -qsF "$prefix" "$(dirname "$1")/hosts.toml" "$(dirname "$1")/$managed"; then
    new="$(as_root mktemp "$1.regstack-new.XXXXXX")"
    as_root cp -p "$1" "$new"
    as_root mv -f "$new" "$1$backup"
  fi
  as_root mkdir -p "$(dirname "$1")"
  new="$(as_root mktemp "$1.regstack-new.XXXXXX")"
  printf '%s\\n' "$2" | as_root tee "$new" >/dev/null
  as_root chmod 644 "$new"
  as_root mv -f "$new" "$1"
  changed=1
}
"""

_REMOVE = """remove() {
  if [ -f "$1$backup" ]; then
    as_root mv "$1$backup" "$1"; changed=1
  elif [ -f "$1" ]; then
    as_root rm -f "$1"; changed=1
  fi
  as_root rmdir "$(dirname "$1")" 2>/dev/null || true
}
"""


# prune DIR KEEP: our files for endpoints no longer listed (KEEP: wanted paths, one a line).
_PRUNE = """prune() {
  for f in "$1"/*/hosts.toml "$1"/*/"$managed"; do
    if [ -f "$f" ] && grep -qF "$marker" "$f" && ! printf '%s\\n' "$2" | grep -qxF "$f"; then
      remove "$(dirname "$f")/ca.crt"; remove "$f"
    fi
  done
}
"""


def _functions(owner: str, directory: str) -> str:
    return _prelude(owner, directory) + _PUT + _REMOVE + _PRUNE


def _restart_if_changed(restart: str) -> str:
    """Restart after a change, or to finish one an earlier run could not; `set -e` makes a
    failed restart fail the run, and its pending record stays for the next."""
    return f"""if [ "$changed" = 1 ] || [ -f "$pending" ]; then
  as_root mkdir -p "$(dirname "$pending")"
  as_root touch "$pending"
  as_root sh -c {shlex.quote(restart)}
  as_root rm -f "$pending"
fi
"""


def apply_script(files: Mapping[str, str], directory: str, restart: str, owner: str) -> str:
    """Writes each file unless it already holds that content, removes our files for endpoints
    no longer listed, and restarts the runtime only after a change."""
    # `$(cat f)` drops trailing newlines, so compare and write without the final one.
    puts = "".join(
        f"put {shlex.quote(path)} {shlex.quote(content.rstrip(chr(10)))}\n"
        for path, content in sorted(files.items())
    )
    keep = "\n".join(sorted(files))
    prune = f"prune {shlex.quote(directory)} {shlex.quote(keep)}\n"
    return _functions(owner, directory) + puts + prune + _restart_if_changed(restart)


def remove_script(files: Mapping[str, str], directory: str, restart: str, owner: str) -> str:
    """Removes the files (restoring any it had replaced); restarts only after a change."""
    removes = "".join(f"remove {shlex.quote(path)}\n" for path in sorted(files, reverse=True))
    return _functions(owner, directory) + removes + _restart_if_changed(restart)


def docker_daemon_json(endpoints: list[str]) -> str:
    """The chapter's `/etc/docker/daemon.json` for a lab workstation (plain-HTTP registries)."""
    return json.dumps({"insecure-registries": endpoints}, indent=2)


@dataclass(frozen=True)
class NodeTrustArgs:
    trust: NodeTrustConfig
    endpoints: pulumi.Input[list[str]]
    """`host[:port]` names the nodes pull the registry by (an Output when a host name is one)."""
    ca_pem: pulumi.Input[str] | None
    """The self-signed CA to trust; None for a plain-HTTP registry."""
    private_key: pulumi.Input[str] | None
    mirror_of: str | None = None
    """The upstream URL when the registry is its pull-through cache (`registry.proxy`)."""


class NodeTrust(pulumi.ComponentResource):
    """One pulumi-command remote Command per node: writes, and on destroy removes, its files."""

    nodes: pulumi.Output[list[str]]

    def __init__(self, name: str, args: NodeTrustArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("regstack:index:NodeTrust", name, None, opts)
        directory, restart = certs_dir(args.trust), restart_command(args.trust)
        owner = f"{pulumi.get_project()}/{pulumi.get_stack()}"
        # The CA certificate is public; unsecret it so previews show what nodes will trust.
        ca = pulumi.Output.unsecret(pulumi.Output.from_input(args.ca_pem))
        runtime = args.trust.runtime
        # The endpoints name the files: an Output when a host name is one (config/deferred.py).
        files = pulumi.Output.all(args.endpoints, ca).apply(
            lambda both: trust_files(both[0], directory, both[1], runtime, owner, args.mirror_of)
        )
        for node in args.trust.nodes:
            self._node(name, node, files, directory, restart, owner, args.private_key)
        self.nodes = pulumi.Output.from_input([n.host for n in args.trust.nodes])
        self.register_outputs({"nodes": self.nodes})

    def _node(
        self,
        name: str,
        node: TrustedNode,
        files: pulumi.Output[dict[str, str]],
        directory: str,
        restart: str,
        owner: str,
        private_key: pulumi.Input[str] | None,
    ) -> None:
        script = files.apply(lambda f: apply_script(f, directory, restart, owner))
        command.remote.Command(
            f"{name}-{node.host}",
            connection=command.remote.ConnectionArgs(
                host=node.host,
                user=node.user,
                port=node.port,
                private_key=private_key,
                host_key=node.host_key,
            ),
            create=script,
            update=script,
            delete=files.apply(lambda f: remove_script(f, directory, restart, owner)),
            # No `triggers`: they replace the Command, and a replacement's delete would remove
            # the files its create had just written. A changed script is an update instead.
            opts=pulumi.ResourceOptions(parent=self),
        )
