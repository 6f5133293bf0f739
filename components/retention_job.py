"""RetentionJob: the retention engine (`components/retention`) as a CronJob in the cluster.

The engine is standard library only, so a stock Python image runs it from a ConfigMap: nothing is
installed when the Job starts. It talks to the registry through its HTTP API, deleting by digest
only when no kept tag points to it, and runs before GC (which then frees the blobs).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from . import kube
from .config import PlacementConfig, RetentionConfig
from .outputs import joined
from .placement import pod_placement
from .registry_access import RegistryAccess, mounted
from .scan_skips import RETENTION, RETENTION_IN_USE, checkov_skips

ENGINE_DIR = Path(__file__).parent / "retention"
# The engine runs as `components.retention`, the package it is in this repository, so its
# imports of the shared modules (`..images`) resolve in the pod as they do here.
ENGINE_PACKAGE = "components/retention"
# The one image-reference model the engine shares with the program and the policy pack; as
# standard library only as the engine, it is mounted beside it, where the engine imports it.
SHARED_MODULES = {"images.py": "components/images.py"}
# With `concurrencyPolicy: Forbid` one hung run (a registry paging forever, a stalled
# connection) would block every later run; the deadline ends it.  55 minutes: the default
# schedule (01:00) is an hour before the default GC (02:00), and a lab registry plans in
# seconds.  A killed run leaves the last-success metric stale, which is what alerts.
DEADLINE_SECONDS = 55 * 60
CODE = "/opt/regstack"
ETC = "/etc/retention"
RUN = "/var/run/retention"
METRICS_PORT = 9102
LABELS = kube.app_labels(kube.RETENTION)
UID = 10001
"""The job reads no file of the registry's (it speaks HTTP), so unlike GC it need not share the
registry's UID: a high one that no host account has."""


@dataclass(frozen=True)
class RetentionJobArgs:
    namespace: pulumi.Input[str]
    retention: RetentionConfig
    access: RegistryAccess
    """How the job reaches the registry's API: URL, user, CA."""
    placement: PlacementConfig = field(default_factory=PlacementConfig)
    metrics_linger: float | None = None
    """Seconds the pod serves its run's metrics on METRICS_PORT (a PodMonitor scrapes them);
    None publishes none."""
    scraper: tuple[str, Mapping[str, str]] = ("monitoring", {})
    """(namespace, pod labels) of the Prometheus that alone may reach METRICS_PORT."""


def engine_files() -> dict[str, str]:
    """The engine's modules and the shared ones, as ConfigMap keys (`engine_paths` says where
    each is mounted)."""
    files = {path.name: path.read_text() for path in sorted(ENGINE_DIR.glob("*.py"))}
    shared = {
        key: (ENGINE_DIR.parent / Path(path).name).read_text()
        for key, path in SHARED_MODULES.items()
    }
    assert not files.keys() & shared.keys(), "an engine module shadows a shared one"
    return {**files, **shared}


def engine_paths() -> dict[str, str]:
    """ConfigMap key -> path under the code directory: the `retention` package, and each shared
    module at the path the engine imports it by."""
    return {key: SHARED_MODULES.get(key, f"{ENGINE_PACKAGE}/{key}") for key in engine_files()}


def policy_document(retention: RetentionConfig) -> str:
    return json.dumps(
        {"rules": [rule.model_dump(exclude_none=True) for rule in retention.rules]},
        indent=2,
        sort_keys=True,
    )


def command(args: RetentionJobArgs) -> list[pulumi.Input[str]]:
    retention = args.retention
    line: list[pulumi.Input[str]] = [
        "python",
        "-m",
        "components.retention",
        joined("--registry=", args.access.url),
        f"--policy={ETC}/policy/policy.json",
        f"--concurrency={retention.concurrency}",
    ]
    if args.access.user is not None:
        line += [
            f"--username={args.access.user.name}",
            f"--password-file={ETC}/credentials/password",
        ]
    if args.access.ca_secret_name is not None:
        line.append(f"--ca-file={ETC}/ca/ca.crt")
    if retention.protect_in_use:
        line += ["--in-use-from-cluster", f"--in-use-file={ETC}/in-use"]
    if retention.apply:
        line.append("--apply")
    if args.metrics_linger is not None:
        line += [
            f"--metrics-file={RUN}/retention.prom",
            f"--metrics-port={METRICS_PORT}",
            f"--metrics-linger={args.metrics_linger:g}",
        ]
    return line


class RetentionJob(pulumi.ComponentResource):
    """CronJob, engine code, policy, credentials and (read-only) RBAC for tag retention."""

    cron_job_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: RetentionJobArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("regstack:index:RetentionJob", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def meta(object_name: str, namespaced: bool = True) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(
                name=object_name, namespace=args.namespace if namespaced else None, labels=LABELS
            )

        code = k8s.core.v1.ConfigMap(
            f"{name}-code", metadata=meta(f"{kube.RETENTION}-code"), data=engine_files(), opts=child
        )
        policy = k8s.core.v1.ConfigMap(
            f"{name}-policy",
            metadata=meta(f"{kube.RETENTION}-policy"),
            data={"policy.json": policy_document(args.retention)},
            opts=child,
        )
        account = k8s.core.v1.ServiceAccount(
            f"{name}-account", metadata=meta(kube.RETENTION), opts=child
        )
        volumes = [
            k8s.core.v1.VolumeArgs(
                name="code",
                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                    name=code.metadata.name,
                    items=[
                        k8s.core.v1.KeyToPathArgs(key=key, path=path)
                        for key, path in engine_paths().items()
                    ],
                ),
            ),
            k8s.core.v1.VolumeArgs(
                name="policy",
                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=policy.metadata.name),
            ),
        ]
        mounts = [
            k8s.core.v1.VolumeMountArgs(name="code", mount_path=CODE, read_only=True),
            k8s.core.v1.VolumeMountArgs(name="policy", mount_path=f"{ETC}/policy", read_only=True),
        ]
        depends: list[pulumi.Resource] = []
        access_volumes, access_mounts = mounted(
            args.access, name, meta(f"{kube.RETENTION}-credentials"), ETC, child
        )
        volumes += access_volumes
        mounts += access_mounts
        if args.retention.protect_in_use:
            depends.append(kube.in_use_reader(name, kube.RETENTION, account, args.namespace, child))
            # Other clusters' images, as GC keeps them (an empty directory when it is absent).
            volumes.append(kube.in_use_files())
            mounts.append(
                k8s.core.v1.VolumeMountArgs(
                    name="in-use", mount_path=f"{ETC}/in-use", read_only=True
                )
            )
        ports = None
        if args.metrics_linger is not None:
            # The root filesystem is read-only: the metrics file goes to a small emptyDir.
            volumes.append(
                k8s.core.v1.VolumeArgs(
                    name="run", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="1Mi")
                )
            )
            mounts.append(k8s.core.v1.VolumeMountArgs(name="run", mount_path=RUN))
            ports = [k8s.core.v1.ContainerPortArgs(name="metrics", container_port=METRICS_PORT)]

        container = k8s.core.v1.ContainerArgs(
            name="retention",
            image=args.retention.image,
            command=command(args),
            env=[
                k8s.core.v1.EnvVarArgs(name="PYTHONPATH", value=CODE),
                k8s.core.v1.EnvVarArgs(name="PYTHONDONTWRITEBYTECODE", value="1"),
            ],
            volume_mounts=mounts,
            ports=ports,
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": "50m", "memory": "64Mi"}, limits={"cpu": "500m", "memory": "256Mi"}
            ),
            security_context=kube.restricted_container(),
        )
        skips = {**RETENTION, **(RETENTION_IN_USE if args.retention.protect_in_use else {})}
        cron = k8s.batch.v1.CronJob(
            f"{name}-cronjob",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=kube.RETENTION,
                namespace=args.namespace,
                labels=LABELS,
                annotations=checkov_skips(skips),
            ),
            # Two retries: a rerun converges (deleting a deleted digest counts as done).
            spec=kube.maintenance_schedule(
                args.retention.schedule,
                2,
                DEADLINE_SECONDS,
                LABELS,
                k8s.core.v1.PodSpecArgs(
                    service_account_name=account.metadata.name,
                    automount_service_account_token=args.retention.protect_in_use,
                    restart_policy="Never",
                    **pod_placement(args.placement),
                    security_context=kube.restricted_pod(UID),
                    containers=[container],
                    volumes=volumes,
                ),
            ),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=depends)),
        )
        if args.metrics_linger is not None:
            self._metrics_policy(name, args, child)
        self.cron_job_name = cron.metadata.name
        self.register_outputs({"cron_job_name": self.cron_job_name})

    def _metrics_policy(
        self, name: str, args: RetentionJobArgs, child: pulumi.ResourceOptions
    ) -> None:
        """Only the Prometheus pods reach the metrics port (repository names and counts)."""
        namespace, labels = args.scraper
        scraper = k8s.networking.v1.NetworkPolicyPeerArgs(
            namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                match_labels={"kubernetes.io/metadata.name": namespace}
            ),
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(labels)),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=kube.RETENTION, namespace=args.namespace, labels=LABELS
            ),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=LABELS),
                policy_types=["Ingress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=[scraper],
                        ports=[
                            k8s.networking.v1.NetworkPolicyPortArgs(
                                protocol="TCP", port=METRICS_PORT
                            )
                        ],
                    )
                ],
            ),
            opts=child,
        )
