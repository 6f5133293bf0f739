"""`Registry`: the whole registry as one component, from the keys of a stack's `regstack:` config.

This is the component other Pulumi languages use (provider/, the component package): its args
are the config model as TypedDicts (config/args.py), from which Pulumi infers the schema. In
Python it takes the same mapping `load_config` does, with secrets and the values that may come
from another resource (config/deferred.py) as plain strings or Outputs, or the RegstackConfig
that `load_config` returned: the stack program (`__main__.py`) validates its stack's config
itself, knowing which sections the engine holds encrypted, and builds this component from it.

No `from __future__ import annotations` here: the component provider reads the annotations.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pulumi

from .config import ConfigError, Problem, RegstackConfig, load_config
from .platform import RegistryPlatform

if TYPE_CHECKING:
    # The TypedDict is made at import time, which mypy cannot follow: it checks a mapping, or
    # a config already validated (Pulumi's schema reads the runtime annotation, the TypedDict).
    RegistryArgs = Mapping[str, Any] | RegstackConfig
else:
    from .config.args import RegistryArgs


PLATFORM_OUTPUTS = (
    "endpoint",
    "in_cluster_endpoint",
    "pull_secret_names",
    "ca_secret_name",
    "tls_secret_name",
    "docker_login",
    "docker_daemon_json",
)


class RegistryArgsError(pulumi.RunError):
    """Registry's args break the config's rules: Pulumi prints the lines, with no traceback."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"invalid Registry args:\n{ConfigError(problems)}")
        self.problems = problems


def validated(args: Mapping[str, Any]) -> RegstackConfig:
    """The config of `args`, checked before Registry registers anything: a config with a
    problem registers no resource at all."""
    try:
        return load_config(dict(args))
    except ConfigError as error:
        raise RegistryArgsError(error.problems) from None


class Registry(pulumi.ComponentResource):
    """A private container registry on Kubernetes (Distribution, Harbor or the MicroK8s addon),
    with its certificate, logins, pull secrets, maintenance jobs and monitoring."""

    # Annotated here, not inherited: Pulumi's schema is inferred from this class's annotations.
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
        config = args if isinstance(args, RegstackConfig) else validated(args)
        super().__init__("regstack:index:Registry", name, None, opts)
        # The stack program built the platform at the stack's root until it became a client of
        # Registry: the alias keeps its stacks' resources (their URNs follow the platform's),
        # where a new URN would create each anew and delete the old. For a stack that never had
        # one there, it matches nothing.
        moved = pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)
        platform = RegistryPlatform(
            name, config, pulumi.ResourceOptions(parent=self, aliases=[moved])
        )
        self.backend = pulumi.Output.from_input(config.backend)
        # The rest are the platform's own outputs, under the same names.
        for output in PLATFORM_OUTPUTS:
            setattr(self, output, getattr(platform, output))
        self.register_outputs(
            {name: getattr(self, name) for name in ("backend", *PLATFORM_OUTPUTS)}
        )
