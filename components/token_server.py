"""TokenServer: cesanta/docker_auth, which gives each identity only its rights on the registry.

Distribution with `auth.token` sends every client here for a token; docker_auth checks the
password against its bcrypt hash and signs a token carrying only the actions the identity's ACL
grants (components/token_server_config.py). The registry trusts the signing certificate,
nothing else. Objects: a Secret with the config (bcrypt hashes), a Secret with the signing key,
a Secret with the certificate alone for the registry, the Deployment (hardened as the
registry's), a Service, a NetworkPolicy and, behind an Ingress, the `/auth` path on the
registry's hosts.

The signing key is RSA (Harbor's derivation, components/harbor_secrets.py), not EC: docker_auth
1.14.0 computes an EC key's `kid` from the curve's generator point instead of the key
(server/config.go, getRFC7638Thumbprint), so Distribution 3.x, which looks keys up by their true
thumbprint, refuses every EC-signed token ("token signed by untrusted key"). Its RSA `kid` is
right.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
import yaml

from . import htpasswd, kube, scan_skips
from . import token_server_config as render
from .harbor_secrets import token_key_pair
from .outputs import as_secret
from .scan_skips import checkov_skips
from .stack_key import StackKey, rollout_checksum

TOKEN_SERVER = "registry-token-server"
UID = 65532
"""It owns no data, so not the registry's UID 1000: a UID no host account has."""
SELECTOR = {"app.kubernetes.io/name": TOKEN_SERVER, "app.kubernetes.io/instance": TOKEN_SERVER}


@dataclass(frozen=True)
class TokenIdentity:
    """A login with its role; the password stays a Pulumi secret all the way."""

    name: str
    password: pulumi.Output[str]
    role: render.Role
    repositories: tuple[str, ...] = ()


@dataclass(frozen=True)
class TokenServerArgs:
    namespace: pulumi.Input[str]
    identities: list[TokenIdentity]
    issuer: str
    image: str
    """`repository:tag`."""
    tls_secret_name: pulumi.Input[str]
    """The registry's serving certificate: clients reach both on the same names."""
    stack_key: pulumi.Input[str]
    """Salts the bcrypt hashes (components/htpasswd.py) and keys the rollout checksum."""
    bcrypt_cost: int = 12
    expiration_seconds: int = 300
    service_type: str = "ClusterIP"
    node_port: int | None = None
    ingress_hosts: list[pulumi.Input[str]] = field(default_factory=list)
    """Registry hosts whose `/auth` path the Ingress routes here; none: no Ingress."""
    ingress_class_name: str | None = None
    skip_await: bool = False


def rendered_config(args: TokenServerArgs, hashes: list[str]) -> str:
    """docker_auth's config.yml for the identities, whose bcrypt hashes come in the same order."""
    identities = [
        render.Identity(i.name, hashed, i.role, i.repositories)
        for i, hashed in zip(args.identities, hashes, strict=True)
    ]
    settings = render.TokenServerSettings(
        issuer=args.issuer, expiration_seconds=args.expiration_seconds
    )
    return yaml.safe_dump(render.token_server_config(settings, identities), sort_keys=False)


class TokenServer(pulumi.ComponentResource):
    """docker_auth for the registry's `auth.token`, and the certificate the registry trusts."""

    ca_secret_name: pulumi.Output[str]
    """The Secret with the signing certificate alone (`tls.crt`), for the registry to mount."""
    checksum: pulumi.Output[str]
    """Changes with the signing certificate: the registry rolls with it."""
    service_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: TokenServerArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("regstack:index:TokenServer", name, None, opts)
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        # The signing key pair is derived from a random seed of its own, drawn once and kept in
        # state as a secret (as the stack key is), the way Harbor's token key is derived from its
        # seed: the same pair on every run, so no diff. `pulumi up --replace` of the seed rotates
        # it; both pods then roll, their checksums covering the certificate.
        seed = StackKey(f"{name}-signing-seed", opts=self._child).secret
        pair = seed.apply(token_key_pair)
        key, certificate = pair.apply(lambda p: p[0]), pair.apply(lambda p: p[1])
        config = self._config()
        key_secret = self._secret(
            f"{name}-key", "signing-key", {"tls.key": key, "tls.crt": certificate}
        )
        config_secret = self._secret(f"{name}-config", "config", {"config.yml": config})
        ca_secret = self._secret(f"{name}-ca", "ca", {"tls.crt": certificate})
        self.ca_secret_name = ca_secret.metadata.name
        self.checksum = rollout_checksum(args.stack_key, "token-signer", certificate)
        deployment = self._deployment(
            name, config_secret, key_secret, rollout_checksum(args.stack_key, config, key)
        )
        service = self._service(name, deployment)
        self._network_policy(name)
        self.service_name = service.metadata.name
        if args.ingress_hosts:
            self._ingress(name, service)
        self.register_outputs(
            {
                "ca_secret_name": self.ca_secret_name,
                "checksum": self.checksum,
                "service_name": self.service_name,
            }
        )

    def _config(self) -> pulumi.Output[str]:
        args = self._args

        def config(values: list[str]) -> str:
            key, passwords = values[0], values[1:]
            hashes = [
                htpasswd.hashed(i.name, password, args.bcrypt_cost, key)
                for i, password in zip(args.identities, passwords, strict=True)
            ]
            return rendered_config(args, hashes)

        found = pulumi.Output.all(args.stack_key, *[i.password for i in args.identities])
        # bcrypt at cost 12 takes about 0.3 s per identity and releases the GIL (see auth.py).
        return as_secret(found.apply(lambda values: asyncio.to_thread(config, values)))

    def _metadata(
        self, name: str, needs_nodes: bool = False, annotations: dict[str, str] | None = None
    ) -> k8s.meta.v1.ObjectMetaArgs:
        """`needs_nodes`: an object Pulumi would wait for (pods, endpoints, a load balancer),
        which `skip_await` marks as the registry's own are marked."""
        annotations = dict(annotations or {})
        if self._args.skip_await and needs_nodes:
            annotations.update(kube.SKIP_AWAIT)
        return k8s.meta.v1.ObjectMetaArgs(
            name=name,
            namespace=self._args.namespace,
            labels={**kube.app_labels(TOKEN_SERVER), "app.kubernetes.io/instance": TOKEN_SERVER},
            annotations=annotations or None,
        )

    def _secret(
        self, name: str, suffix: str, data: dict[str, pulumi.Input[str]]
    ) -> k8s.core.v1.Secret:
        return k8s.core.v1.Secret(
            name,
            metadata=self._metadata(f"{TOKEN_SERVER}-{suffix}"),
            type="Opaque",
            string_data={
                key: as_secret(pulumi.Output.from_input(value)) for key, value in data.items()
            },
            opts=self._child,
        )

    def _deployment(
        self,
        name: str,
        config: k8s.core.v1.Secret,
        key: k8s.core.v1.Secret,
        checksum: pulumi.Output[str],
    ) -> k8s.apps.v1.Deployment:
        args = self._args
        mounted = (
            ("config", config.metadata.name, render.CONFIG_DIR),
            ("signing-key", key.metadata.name, render.TOKEN_DIR),
            ("tls", args.tls_secret_name, render.TLS_DIR),
        )
        volumes = [
            k8s.core.v1.VolumeArgs(
                name=volume, secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=secret)
            )
            for volume, secret, _ in mounted
        ]
        mounts = [
            k8s.core.v1.VolumeMountArgs(name=volume, mount_path=path, read_only=True)
            for volume, _, path in mounted
        ]
        # Its HTTPS port answers any TCP connection; an HTTP probe would need a login.
        probe = k8s.core.v1.TCPSocketActionArgs(port="https")
        container = k8s.core.v1.ContainerArgs(
            name=TOKEN_SERVER,
            image=args.image,
            image_pull_policy="IfNotPresent",
            args=["--logtostderr", f"{render.CONFIG_DIR}/config.yml"],
            ports=[k8s.core.v1.ContainerPortArgs(name="https", container_port=render.PORT)],
            volume_mounts=mounts,
            readiness_probe=k8s.core.v1.ProbeArgs(tcp_socket=probe, period_seconds=10),
            liveness_probe=k8s.core.v1.ProbeArgs(
                tcp_socket=probe, initial_delay_seconds=10, period_seconds=20
            ),
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": "10m", "memory": "32Mi"},
                limits={"cpu": "500m", "memory": "128Mi"},
            ),
            security_context=kube.restricted_container(UID),
        )
        metadata = self._metadata(
            TOKEN_SERVER, needs_nodes=True, annotations=checkov_skips(scan_skips.TOKEN_SERVER)
        )
        return k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata,
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=SELECTOR),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=SELECTOR,
                        # Users, keys and certificates are read once, at start.
                        annotations={"regstack.io/config-checksum": checksum},
                    ),
                    spec=k8s.core.v1.PodSpecArgs(
                        automount_service_account_token=False,
                        security_context=kube.restricted_pod(UID),
                        containers=[container],
                        volumes=volumes,
                    ),
                ),
            ),
            opts=self._child,
        )

    def _service(self, name: str, deployment: k8s.apps.v1.Deployment) -> k8s.core.v1.Service:
        args = self._args
        return k8s.core.v1.Service(
            f"{name}-service",
            metadata=self._metadata(TOKEN_SERVER, needs_nodes=True),
            spec=k8s.core.v1.ServiceSpecArgs(
                type=args.service_type,
                selector=SELECTOR,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="https",
                        port=render.PORT,
                        target_port="https",
                        node_port=args.node_port if args.service_type == "NodePort" else None,
                    )
                ],
            ),
            opts=pulumi.ResourceOptions.merge(
                self._child, pulumi.ResourceOptions(depends_on=[deployment])
            ),
        )

    def _network_policy(self, name: str) -> k8s.networking.v1.NetworkPolicy:
        """Its one port admits any source: every client that pulls or pushes fetches tokens
        here, from inside the cluster or (through a NodePort or the Ingress) from outside."""
        return k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata=self._metadata(TOKEN_SERVER),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=SELECTOR),
                policy_types=["Ingress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        ports=[
                            k8s.networking.v1.NetworkPolicyPortArgs(
                                protocol="TCP", port=render.PORT
                            )
                        ]
                    )
                ],
            ),
            opts=self._child,
        )

    def _ingress(self, name: str, service: k8s.core.v1.Service) -> k8s.networking.v1.Ingress:
        """`/auth` on the registry's hosts; the registry's own Ingress keeps `/`."""
        args = self._args
        return kube.ingress(
            f"{name}-ingress",
            self._metadata(TOKEN_SERVER, needs_nodes=True),
            {"nginx.ingress.kubernetes.io/backend-protocol": "HTTPS"},
            args.ingress_class_name,
            args.ingress_hosts,
            args.tls_secret_name,
            (render.REALM_PATH, "Exact"),
            (service.metadata.name, render.PORT),
            self._child,
        )
