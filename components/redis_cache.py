"""RedisCache: a small Redis owned by the stack, as the registry's blob-descriptor cache.

A cache only: no persistence (`--save ''`, no append-only file), bounded memory with LRU
eviction, reachable from the registry and its GC Job only. Losing it costs lookups, never data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from . import kube
from .config import CacheConfig, PlacementConfig
from .outputs import as_secret, joined_text
from .placement import pod_placement
from .scan_skips import REDIS_CACHE, checkov_skips
from .stack_key import rollout_checksum

SERVICE = kube.CACHE
PORT = 6379
# Not the image's redis user (999): nothing of the image is written, and /data is an emptyDir.
UID = 10001
LABELS = kube.app_labels(SERVICE)
AUTH_DIR = "/etc/redis"
AUTH_FILE = "auth.conf"


def server_arguments(auth_file: str | None) -> list[str]:
    """redis-server's arguments: a cache (nothing saved, LRU within bounded memory), and the
    password from `auth_file` (a config file, read before the options) when there is one."""
    options = [
        "--save",
        "",
        "--appendonly",
        "no",
        "--maxmemory",
        "200mb",
        "--maxmemory-policy",
        "allkeys-lru",
    ]
    return [auth_file, *options] if auth_file else options


def auth_config(password: str) -> str:
    """The config file that sets the password."""
    return f"requirepass {password}\n"


def cache_address(namespace: str) -> str:
    """The Service's address; one given as an Output when the namespace was (`joined_text`)."""
    return joined_text(SERVICE, ".", namespace, f".svc.cluster.local:{PORT}")


@dataclass(frozen=True)
class RedisCacheArgs:
    namespace: pulumi.Input[str]
    cache: CacheConfig
    password: pulumi.Input[str] | None
    clients: list[dict[str, str]]
    """Pod labels of those allowed to connect (the registry, its GC Job)."""
    skip_await: bool = False
    placement: PlacementConfig = field(default_factory=PlacementConfig)
    stack_key: pulumi.Input[str] | None = None
    """The stack's random key, which keys the password's rollout checksum (needed with one)."""


class RedisCache(pulumi.ComponentResource):
    """Deployment, Service and NetworkPolicy of a cache-only Redis."""

    service_name: pulumi.Output[str]

    def __init__(self, name: str, args: RedisCacheArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("regstack:index:RedisCache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def meta(annotations: dict[str, str] | None = None) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(
                name=SERVICE, namespace=args.namespace, labels=LABELS, annotations=annotations
            )

        server_args = server_arguments(None)
        pod_annotations: dict[str, pulumi.Input[str]] = {}
        mounts = [k8s.core.v1.VolumeMountArgs(name="data", mount_path="/data")]
        volumes = [
            k8s.core.v1.VolumeArgs(name="data", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs())
        ]
        if args.password is not None:
            # A config file from a Secret: the password is in neither the spec nor the
            # process arguments, and redis-server reads its file before the options.
            secret = k8s.core.v1.Secret(
                f"{name}-password",
                metadata=meta(),
                type="Opaque",
                string_data={
                    AUTH_FILE: as_secret(pulumi.Output.from_input(args.password).apply(auth_config))
                },
                opts=child,
            )
            server_args = server_arguments(f"{AUTH_DIR}/{AUTH_FILE}")
            # Redis reads the file once: a new password must restart the pod. Only a digest
            # keyed by the stack key shows: a plain one would confirm a guess at once.
            if args.stack_key is None:
                raise ValueError("a Redis password needs the stack key for its rollout checksum")
            pod_annotations["regstack.io/auth-checksum"] = rollout_checksum(
                args.stack_key, "redis", args.password
            )
            mounts.append(
                k8s.core.v1.VolumeMountArgs(name="auth", mount_path=AUTH_DIR, read_only=True)
            )
            volumes.append(
                k8s.core.v1.VolumeArgs(
                    name="auth",
                    secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=secret.metadata.name),
                )
            )
        probe = k8s.core.v1.ProbeArgs(
            tcp_socket=k8s.core.v1.TCPSocketActionArgs(port=PORT), period_seconds=10
        )
        container = k8s.core.v1.ContainerArgs(
            name="redis",
            image=f"{args.cache.image}:{args.cache.version}",
            image_pull_policy="IfNotPresent",
            args=server_args,
            ports=[k8s.core.v1.ContainerPortArgs(name="redis", container_port=PORT)],
            readiness_probe=probe,
            liveness_probe=probe,
            volume_mounts=mounts,
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": "25m", "memory": "64Mi"}, limits={"cpu": "500m", "memory": "256Mi"}
            ),
            security_context=kube.restricted_container(UID),
        )
        skip = kube.SKIP_AWAIT if args.skip_await else None
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta({**(skip or {}), **checkov_skips(REDIS_CACHE)}),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=LABELS),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=LABELS, annotations=pod_annotations or None
                    ),
                    spec=k8s.core.v1.PodSpecArgs(
                        automount_service_account_token=False,
                        security_context=kube.restricted_pod(uid=None, fs_group=UID),
                        containers=[container],
                        **pod_placement(args.placement),
                        volumes=volumes,
                    ),
                ),
            ),
            opts=child,
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(skip),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=LABELS,
                ports=[k8s.core.v1.ServicePortArgs(name="redis", port=PORT, target_port="redis")],
            ),
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata=meta(),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=LABELS),
                policy_types=["Ingress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels)
                            )
                            for labels in args.clients
                        ],
                        ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=PORT)],
                    )
                ],
            ),
            opts=child,
        )
        self.service_name = service.metadata.name
        self.register_outputs({"service_name": self.service_name})
