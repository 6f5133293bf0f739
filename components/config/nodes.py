"""`regstack:microk8s` and `regstack:node_trust`: the nodes regstack reaches over SSH."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr

from .registry import is_clean_path
from .types import Endpoint, HostOrAddress, Section, SshUser, grammar

_HOST_KEY = re.compile(
    r"^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/]+={0,2}( .*)?$"
)


def _check_host_key(text: str) -> str:
    if not _HOST_KEY.match(text.strip()):
        raise ValueError(
            "must be an SSH public host key line such as `ssh-ed25519 AAAA...` (a line of "
            "`ssh-keyscan -t ed25519 HOST` without the host name, or the node's "
            "/etc/ssh/ssh_host_ed25519_key.pub)"
        )
    return text.strip()


HostKey = Annotated[str, AfterValidator(_check_host_key)]


_HOST_KEY_HELP = (
    "The node's SSH host public key (`ssh-ed25519 AAAA...`); the connection is refused if the "
    "node shows another. Unset, any host key is accepted (refused in the prod profile)."
)


class MicroK8sConfig(Section):
    """Where `microk8s enable registry` runs for the microk8s-addon backend."""

    host: HostOrAddress | None = Field(None, description="SSH host; run locally when unset.")
    user: SshUser = Field("ubuntu", description="SSH user.")
    private_key: SecretStr | None = Field(None, description="SSH private key (secret config).")
    port: int = Field(22, ge=1, le=65535, description="SSH port.")
    host_key: HostKey | None = Field(None, description=_HOST_KEY_HELP)


def _check_absolute_path(text: str) -> str:
    # Quoted into shell lines and into hosts.toml strings: names only, no '.' or '..' segments.
    if not is_clean_path(text, r"/(?:[A-Za-z0-9._@+-]+/?)*", 1024):
        raise ValueError(
            f"must be an absolute path of letters, digits, '.', '_', '@', '+', '-' without '.' "
            f"or '..' segments, got {text!r}"
        )
    return text.rstrip("/") or "/"


class TrustedNode(Section):
    """A node whose container runtime must trust the registry, reached over SSH."""

    host: HostOrAddress = Field(description="SSH host name or address.")
    user: SshUser = Field("ubuntu", description="SSH user (root, or passwordless sudo).")
    port: int = Field(22, ge=1, le=65535, description="SSH port.")
    host_key: HostKey | None = Field(None, description=_HOST_KEY_HELP)


class NodeTrustConfig(Section):
    """containerd `certs.d/<host:port>/hosts.toml` on each node (plain HTTP, or the lab CA)."""

    nodes: list[TrustedNode] = Field(
        default_factory=list, description="Nodes to configure; none turns this off."
    )
    runtime: Literal["microk8s", "containerd", "docker"] = Field(
        "microk8s",
        description="Sets the default `certs_dir` and `restart_command`; `docker` (Docker "
        "Engine's certs.d) trusts a self-signed CA only.",
    )
    certs_dir: Annotated[str, AfterValidator(_check_absolute_path)] | None = Field(
        None,
        description="Hosts directory (microk8s: /var/snap/microk8s/current/args/certs.d, "
        "containerd: /etc/containerd/certs.d, docker: /etc/docker/certs.d).",
    )
    restart_command: (
        Annotated[str, AfterValidator(grammar(r"[ -~]+", 1024, "one line of printable ASCII"))]
        | None
    ) = Field(
        None,
        description="Run after a file changed (microk8s: snap restart microk8s.daemon-containerd, "
        "containerd: systemctl restart containerd).",
    )
    endpoints: list[Endpoint] = Field(
        default_factory=list,
        description="Extra `host:port` names nodes pull by (e.g. a node IP); the node port on "
        "localhost and each registry host name are always included.",
    )
    private_key: SecretStr | None = Field(None, description="SSH private key (secret config).")
