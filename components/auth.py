"""RegistryAuth: the htpasswd Secret the registry reads, and pull secrets for workloads.

With the token server (components/token_server.py) there is no htpasswd file: each pull
secret carries its namespace's own pull-only identity instead of a shared user."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from . import htpasswd
from .config import DnsLabel
from .outputs import as_secret
from .ownership import create_only_provider, created_here
from .stack_key import rollout_checksum


@dataclass(frozen=True)
class RegistryUser:
    """A login; the password is a Pulumi secret all the way."""

    name: str
    password: pulumi.Output[str]


@dataclass(frozen=True)
class RegistryAuthArgs:
    namespace: pulumi.Input[str]
    """Namespace of the registry, where the htpasswd Secret goes."""
    users: list[RegistryUser]
    realm: str
    bcrypt_cost: int
    registry_hosts: pulumi.Input[list[str]]
    """Every host:port clients use; each pull secret authenticates all of them."""
    stack_key: pulumi.Input[str]
    """The stack's random key (components/stack_key.py): it salts the hashes and keys the digest."""
    pull_secret_namespaces: list[DnsLabel] = field(default_factory=list)
    pull_secret_name: str = "regstack-pull"
    pull_user: str | None = None
    """Whose credentials go into pull secrets; the first user when unset."""
    pull_identities: dict[str, RegistryUser] = field(default_factory=dict)
    """Token mode: each namespace's own pull-only identity; no htpasswd Secret then."""
    create_namespaces: bool = False
    create_only_provider: pulumi.ProviderResource | None = None
    """The provider for pull secrets and namespaces (components/ownership.py); None: its own."""


_NAMESPACE_EXISTS = (
    "Set pull_secrets.create_namespaces: false: the pull secret then goes into the namespace as it "
    "is, and regstack leaves the namespace alone (create any new ones yourself). That is also the "
    "way back after `pulumi destroy`, which leaves the namespaces regstack created."
)
_SECRET_EXISTS = (
    "Choose another pull_secrets.secret_name, or delete that Secret yourself if nothing uses it."
)


def docker_config(hosts: list[str], user: str, password: str) -> str:
    """`.dockerconfigjson` content authenticating `user` on every host."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    auths = {host: {"username": user, "password": password, "auth": token} for host in hosts}
    return json.dumps({"auths": auths}, sort_keys=True)


def _pull_user(args: RegistryAuthArgs) -> RegistryUser | None:
    if not args.users:
        return None
    wanted = args.pull_user or args.users[0].name
    return next(u for u in args.users if u.name == wanted)


class RegistryAuth(pulumi.ComponentResource):
    """htpasswd Secret for the registry and a dockerconfigjson pull secret per namespace."""

    htpasswd_secret_name: pulumi.Output[str] | None
    htpasswd_checksum: pulumi.Output[str] | None
    pull_secret_names: pulumi.Output[dict[str, str]]

    def __init__(
        self, name: str, args: RegistryAuthArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("regstack:index:RegistryAuth", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.htpasswd_secret_name = self.htpasswd_checksum = None
        if not args.pull_identities:
            self._htpasswd(name, args, child)

        names: dict[str, pulumi.Output[str]] = {}
        pull_user = _pull_user(args)
        provider: pulumi.ProviderResource | None = None
        for namespace in args.pull_secret_namespaces:
            user = args.pull_identities.get(namespace, pull_user)
            if user is None:
                continue
            provider = provider or args.create_only_provider or create_only_provider(name, self)
            names[namespace] = self._pull_secret(name, namespace, user, args, child, provider)
        self.pull_secret_names = (
            pulumi.Output.all(**names) if names else pulumi.Output.from_input({})
        )

        self.register_outputs(
            {
                "htpasswd_secret_name": self.htpasswd_secret_name,
                "htpasswd_checksum": self.htpasswd_checksum,
                "pull_secret_names": self.pull_secret_names,
            }
        )

    def _htpasswd(self, name: str, args: RegistryAuthArgs, child: pulumi.ResourceOptions) -> None:
        pairs = [pulumi.Output.all(u.name, u.password) for u in args.users]
        # bcrypt takes about 0.3 s per user at cost 12 and releases the GIL: hashing in a thread
        # lets the event loop register every other resource meanwhile.
        file: pulumi.Output[str] = as_secret(
            pulumi.Output.all(args.stack_key, *pairs).apply(
                lambda found: asyncio.to_thread(
                    htpasswd.htpasswd, [(u, p) for u, p in found[1:]], args.bcrypt_cost, found[0]
                )
            )
        )
        secret = k8s.core.v1.Secret(
            f"{name}-htpasswd",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-htpasswd", namespace=args.namespace),
            type="Opaque",
            string_data={"htpasswd": file},
            opts=child,
        )
        self.htpasswd_secret_name = secret.metadata.name
        # Lets the registry roll its pods when users change (Distribution 2.8 reads the file once).
        # Keyed by the stack key, it is no function of the file anyone can search; left secret it
        # would make Pulumi encrypt and hide the registry's whole pod template in every preview.
        self.htpasswd_checksum = rollout_checksum(args.stack_key, "htpasswd", file)

    def _pull_secret(
        self,
        name: str,
        namespace: str,
        user: RegistryUser,
        args: RegistryAuthArgs,
        child: pulumi.ResourceOptions,
        provider: pulumi.ProviderResource | None,
    ) -> pulumi.Output[str]:
        # Both go through the create-only provider (components/ownership.py): a team's namespace or
        # Secret of the same name is refused, not taken over. The namespace is never deleted.
        opts = created_here(f"{name}-pull-{namespace}", child, provider, _SECRET_EXISTS, keep=False)
        if args.create_namespaces:
            created = k8s.core.v1.Namespace(
                f"{name}-ns-{namespace}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=namespace),
                opts=created_here(
                    f"{name}-ns-{namespace}", child, provider, _NAMESPACE_EXISTS, keep=True
                ),
            )
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[created]))
        # The hosts may be an Output (of a namespace made in the same program).
        hosts_and_password = pulumi.Output.all(args.registry_hosts, user.password)
        content: pulumi.Output[str] = as_secret(
            hosts_and_password.apply(lambda both: docker_config(both[0], user.name, both[1]))
        )
        secret = k8s.core.v1.Secret(
            f"{name}-pull-{namespace}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.pull_secret_name, namespace=namespace),
            type="kubernetes.io/dockerconfigjson",
            string_data={".dockerconfigjson": content},
            opts=opts,
        )
        return secret.metadata.name
