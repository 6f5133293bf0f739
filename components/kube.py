"""Kubernetes object names, labels and pod hardening that every component shares.

Object names are fixed words, not derived from the Pulumi logical name: they follow the MicroK8s
addon (`registry` in `container-registry`) so that a stack replaces the addon in place, and the
alerts, the dashboard and the GC window find the objects by them. So one platform per namespace;
two would collide on the registry's first object, not half-way. Names that depend on the config
(the data claim) are computed here and handed to the components that need them.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from . import distribution_config as render
from .config import StorageConfig
from .retention.inuse import WORKLOADS

MANAGED_BY = {"app.kubernetes.io/managed-by": "regstack"}
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}
"""For objects that only become ready on nodes: API servers without nodes (tests), never a real
cluster."""

REGISTRY = "registry"
REGISTRY_SELECTOR = {"app.kubernetes.io/name": REGISTRY, "app.kubernetes.io/instance": REGISTRY}
METRICS_SERVICE = f"{REGISTRY}-metrics"
"""The Prometheus Operator names the scrape job after this Service: the alerts select it."""
DATA_CLAIM = f"{REGISTRY}-data"
"""The claim regstack creates for the blobs (see `data_claim` for the one actually mounted)."""
GC = f"{REGISTRY}-gc"
RETENTION = f"{REGISTRY}-retention"
CACHE = f"{REGISTRY}-cache"
IN_USE = f"{REGISTRY}-in-use"
"""Optional ConfigMap in the registry's namespace: one key per other cluster, each a list of
the image references it runs; GC and retention keep them as they keep this cluster's."""

UID = 1000
"""The non-root user the twuni chart also runs Distribution as; GC shares it so that it can read
what the registry wrote."""


def app_labels(app: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": app, **MANAGED_BY}


def in_use_files() -> k8s.core.v1.VolumeArgs:
    """The optional IN_USE ConfigMap as the volume `in-use`: empty when nobody created it."""
    return k8s.core.v1.VolumeArgs(
        name="in-use",
        config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=IN_USE, optional=True),
    )


def in_use_reader(
    name: str,
    app: str,
    account: k8s.core.v1.ServiceAccount,
    namespace: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> k8s.rbac.v1.ClusterRoleBinding:
    """`list`, cluster-wide and nothing else, on the kinds the in-use inventory reads (Pods and
    every kind with a pod template): all GC and retention need to see what is in use. Named
    `<app>-in-use-reader-<namespace>`: cluster-wide names, one platform per namespace."""
    labels = app_labels(app)
    object_name = pulumi.Output.concat(app, "-in-use-reader-", namespace)
    groups: dict[str, list[str]] = {}
    for group, _, resource, _ in WORKLOADS:
        groups.setdefault(group, []).append(resource)
    role = k8s.rbac.v1.ClusterRole(
        f"{name}-in-use-reader",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=object_name, labels=labels),
        rules=[
            k8s.rbac.v1.PolicyRuleArgs(api_groups=[group], resources=resources, verbs=["list"])
            for group, resources in groups.items()
        ],
        opts=opts,
    )
    return k8s.rbac.v1.ClusterRoleBinding(
        f"{name}-in-use-reader",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=object_name, labels=labels),
        role_ref=k8s.rbac.v1.RoleRefArgs(
            api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role.metadata.name
        ),
        subjects=[
            k8s.rbac.v1.SubjectArgs(
                kind="ServiceAccount", name=account.metadata.name, namespace=namespace
            )
        ],
        opts=opts,
    )


def data_claim(storage: StorageConfig) -> str | None:
    """The claim holding the registry's blobs: one lent by `existing_claim`, the one regstack
    creates, or none with object storage."""
    if storage.type == "s3":
        return None
    return storage.existing_claim or DATA_CLAIM


def maintenance_schedule(
    schedule: str,
    retries: int,
    deadline_seconds: int,
    labels: dict[str, str],
    pod: k8s.core.v1.PodSpecArgs,
) -> k8s.batch.v1.CronJobSpecArgs:
    """A maintenance CronJob (GC, retention): never two runs at once, the last three finished
    Jobs of each outcome kept for `kubectl logs` and the alerts, a deadline on every run."""
    return k8s.batch.v1.CronJobSpecArgs(
        schedule=schedule,
        concurrency_policy="Forbid",
        successful_jobs_history_limit=3,
        failed_jobs_history_limit=3,
        job_template=k8s.batch.v1.JobTemplateSpecArgs(
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=retries,
                active_deadline_seconds=deadline_seconds,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels), spec=pod
                ),
            )
        ),
    )


def restricted_container(uid: int | None = None) -> k8s.core.v1.SecurityContextArgs:
    """A container the `restricted` Pod Security Standard admits, with a read-only root."""
    return k8s.core.v1.SecurityContextArgs(
        run_as_non_root=True if uid is not None else None,
        run_as_user=uid,
        run_as_group=uid,
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
    )


def restricted_pod(
    uid: int | None = UID, fs_group: int | None = None
) -> k8s.core.v1.PodSecurityContextArgs:
    """A non-root pod under the runtime's default seccomp profile."""
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        fs_group=fs_group,
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


S3_CA_KEY = "s3-ca.crt"
"""The key of the S3 endpoint's CA bundle in the registry's ConfigMap."""


def s3_ca_volume(
    config_map_name: pulumi.Input[str],
) -> tuple[k8s.core.v1.VolumeArgs, k8s.core.v1.VolumeMountArgs]:
    """The S3 endpoint's CA from the registry's ConfigMap, alone in the directory that
    `distribution_config.plain_env` names (Go reads every file there). The registry and its GC
    Job both mount it."""
    source = k8s.core.v1.ConfigMapVolumeSourceArgs(
        name=config_map_name,
        items=[k8s.core.v1.KeyToPathArgs(key=S3_CA_KEY, path=render.S3_CA_FILE)],
    )
    return (
        k8s.core.v1.VolumeArgs(name="s3-ca", config_map=source),
        k8s.core.v1.VolumeMountArgs(name="s3-ca", mount_path=render.S3_CA_DIR, read_only=True),
    )


def ingress(
    resource_name: str,
    metadata: k8s.meta.v1.ObjectMetaArgs,
    annotations: Mapping[str, str],
    class_name: str | None,
    hosts: list[pulumi.Input[str]],
    tls_secret_name: pulumi.Input[str] | None,
    path: tuple[str, str],
    backend: tuple[pulumi.Input[str], int],
    opts: pulumi.ResourceOptions,
) -> k8s.networking.v1.Ingress:
    """An Ingress sending `path` ((path, pathType)) on each host to `backend` ((Service name,
    port)), with TLS from `tls_secret_name` when there is one; `annotations` join the
    metadata's."""
    service = k8s.networking.v1.IngressBackendArgs(
        service=k8s.networking.v1.IngressServiceBackendArgs(
            name=backend[0], port=k8s.networking.v1.ServiceBackendPortArgs(number=backend[1])
        )
    )
    tls = None
    if tls_secret_name is not None:
        tls = [k8s.networking.v1.IngressTLSArgs(hosts=hosts, secret_name=tls_secret_name)]
    return k8s.networking.v1.Ingress(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=metadata.name,
            namespace=metadata.namespace,
            labels=metadata.labels,
            annotations={**(metadata.annotations or {}), **annotations},  # type: ignore[dict-item]
        ),
        spec=k8s.networking.v1.IngressSpecArgs(
            ingress_class_name=class_name,
            tls=tls,
            rules=[
                k8s.networking.v1.IngressRuleArgs(
                    host=host,
                    http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                        paths=[
                            k8s.networking.v1.HTTPIngressPathArgs(
                                path=path[0], path_type=path[1], backend=service
                            )
                        ]
                    ),
                )
                for host in hosts
            ],
        ),
        opts=opts,
    )
