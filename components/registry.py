"""`Registry`: the whole registry as one component, from the keys of a stack's `regstack:` config.

This is the component other Pulumi languages use (provider/, the component package): its args
are the config model as TypedDicts (config/args.py), from which Pulumi infers the schema. In
Python it takes the same mapping `load_config` does, with secrets as plain strings or Outputs.

No `from __future__ import annotations` here: the component provider reads the annotations.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pulumi

from .config import ConfigError, load_config
from .platform import RegistryPlatform

if TYPE_CHECKING:
    # The TypedDict is made at import time, which mypy cannot follow: it checks a mapping.
    RegistryArgs = Mapping[str, Any]
else:
    from .config.args import RegistryArgs


class Registry(pulumi.ComponentResource):
    """A private container registry on Kubernetes (Distribution, Harbor or the MicroK8s addon),
    with its certificate, logins, pull secrets, maintenance jobs and monitoring."""

    backend: pulumi.Output[str]
    """Which registry runs: microk8s-addon, distribution or harbor."""
    endpoint: pulumi.Output[str]
    """`host:port` clients push to and pull from."""
    in_cluster_endpoint: pulumi.Output[str]
    """`host:port` of the registry's Service inside the cluster."""
    pull_secret_names: pulumi.Output[dict[str, str]]
    """Each pull-secret namespace's dockerconfigjson Secret."""
    ca_secret_name: pulumi.Output[str | None]
    """The Secret holding the lab CA (`ca.crt`), with `tls.mode: self-signed`."""
    tls_secret_name: pulumi.Output[str | None]
    """The registry's serving certificate's Secret, with TLS."""
    docker_login: pulumi.Output[str]
    """The `docker login` command for the first user."""
    docker_daemon_json: pulumi.Output[str | None]
    """The insecure-registries snippet: only for a dev-profile plain-HTTP registry."""

    def __init__(
        self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        try:
            config = load_config(dict(args))
        except ConfigError as error:
            # Before super().__init__: a config with a problem registers no resource at all.
            raise pulumi.RunError(f"invalid Registry args:\n{error}") from None
        super().__init__("regstack:index:Registry", name, None, opts)
        platform = RegistryPlatform(name, config, pulumi.ResourceOptions(parent=self))
        self.backend = pulumi.Output.from_input(config.backend)
        self.endpoint = platform.endpoint
        self.in_cluster_endpoint = platform.in_cluster_endpoint
        self.pull_secret_names = platform.pull_secret_names
        self.ca_secret_name = platform.ca_secret_name
        self.tls_secret_name = platform.tls_secret_name
        self.docker_login = platform.docker_login
        self.docker_daemon_json = platform.docker_daemon_json
        self.register_outputs(
            {
                "backend": self.backend,
                "endpoint": self.endpoint,
                "in_cluster_endpoint": self.in_cluster_endpoint,
                "pull_secret_names": self.pull_secret_names,
                "ca_secret_name": self.ca_secret_name,
                "tls_secret_name": self.tls_secret_name,
                "docker_login": self.docker_login,
                "docker_daemon_json": self.docker_daemon_json,
            }
        )
