"""RegistryPlatform: the whole registry a stack asks for, built from its validated config.

It works out the registry's addresses once (addresses.py), has the backend's wiring build the
registry (distribution_backend.py, harbor_backend.py, addon_backend.py), makes the nodes trust
it, and gives the stack its outputs. Every resource is the platform's child.
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi

from .addon_backend import addon_backend
from .addresses import addresses_of
from .backend import Backend, Wiring
from .config import RegstackConfig
from .distribution_backend import distribution_backend
from .harbor_backend import harbor_backend
from .node_trust import NodeTrust, NodeTrustArgs, docker_daemon_json
from .outputs import secret

BACKENDS: dict[str, Callable[[Wiring], Backend]] = {
    "microk8s-addon": addon_backend,
    "distribution": distribution_backend,
    "harbor": harbor_backend,
}
"""Each `backend:`'s wiring: it registers the registry, the platform's children."""


class RegistryPlatform(pulumi.ComponentResource):
    """Registry backend, certificate and authentication, wired together."""

    endpoint: pulumi.Output[str]
    in_cluster_endpoint: pulumi.Output[str]
    pull_secret_names: pulumi.Output[dict[str, str]]
    ca_secret_name: pulumi.Output[str | None]
    tls_secret_name: pulumi.Output[str | None]
    docker_login: pulumi.Output[str]
    docker_daemon_json: pulumi.Output[str | None]
    """The chapter's insecure-registries snippet: only for a dev-profile plain-HTTP registry."""

    def __init__(self, name: str, args: RegstackConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("regstack:index:RegistryPlatform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args
        # Every name the registry is reached by, worked out once for all that name it.
        addresses = addresses_of(cfg)
        backend = BACKENDS[cfg.backend](Wiring(name, cfg, addresses, self, child))
        self.endpoint, self.in_cluster_endpoint = backend.endpoint, backend.in_cluster_endpoint
        self.pull_secret_names = backend.pull_secret_names or pulumi.Output.from_input({})
        certificate = backend.certificate
        none: pulumi.Output[str | None] = pulumi.Output.from_input(None)
        self.tls_secret_name = certificate.tls_secret_name if certificate else none
        self.ca_secret_name = certificate.ca_secret_name if certificate else none
        if cfg.node_trust.nodes:
            NodeTrust(
                f"{name}-node-trust",
                NodeTrustArgs(
                    trust=cfg.node_trust,
                    endpoints=addresses.node_pull_endpoints,
                    ca_pem=certificate.ca_pem if certificate else None,
                    private_key=secret(cfg.node_trust.private_key),
                    mirror_of=cfg.registry.proxy.remote_url if cfg.registry.proxy else None,
                ),
                opts=child,
            )
        insecure = cfg.profile == "dev" and cfg.tls.mode == "none"
        self.docker_daemon_json = (
            pulumi.Output.from_input(addresses.node_pull_endpoints).apply(docker_daemon_json)
            if insecure
            else pulumi.Output.from_input(None)
        )

        first_user = cfg.auth.users[0].name if cfg.auth.enabled else None
        if cfg.backend == "harbor":
            first_user = "admin"  # Harbor's built-in administrator
        self.docker_login = (
            self.endpoint.apply(lambda endpoint: f"docker login {endpoint} -u {first_user}")
            if first_user
            else pulumi.Output.from_input("no login needed")
        )
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "in_cluster_endpoint": self.in_cluster_endpoint,
                "pull_secret_names": self.pull_secret_names,
                "ca_secret_name": self.ca_secret_name,
                "tls_secret_name": self.tls_secret_name,
                "docker_login": self.docker_login,
                "docker_daemon_json": self.docker_daemon_json,
            }
        )
