"""GarbageCollection: `registry garbage-collect` on a schedule, with writes held out.

See `components/jobs/gc_window.py` for how the Job keeps writes out and always restores service,
and `components/jobs/gc_protect.py` for how `--delete-untagged` keeps what the cluster uses.
Harbor stacks use Harbor's own GC (Administration > Clean Up) instead of this component.

Which window, per layout (`gc.window: auto`):
- S3, or a ReadWriteMany volume: `read-only`. New pods start beside the old ones (rolling
  update) with `storage.maintenance.readonly`; pulls never stop, pushes get 405.
- one ReadWriteOnce volume: `read-only` too. ReadWriteOnce is per node, so the read-only pod
  and the GC pod may both mount it, provided they share the node: the read-only pod is pinned to
  the GC pod's node. The Deployment keeps its Recreate strategy there (a surge pod could land on
  a node that cannot attach the volume), so each switch restarts the pod: pulls pause for a pod
  start twice, not for the whole collection. (ReadWriteOncePod, which regstack does not create, would allow neither
  window: the GC pod itself could not be scheduled beside the registry.)
- a pull-through cache (`registry.proxy`): `stop`. It writes what it fetches even when
  read-only, and a blob written during the sweep could be collected half-linked.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pulumi
import pulumi_kubernetes as k8s

from . import distribution_config as render
from . import kube
from .config import GcConfig, PlacementConfig, RegistryConfig
from .outputs import input_of, joined
from .placement import pod_placement
from .registry_access import RegistryAccess, mounted
from .scan_skips import GARBAGE_COLLECTION, SECRET_ENV, checkov_skips

PACKAGE = Path(__file__).parent
# The window's code, mounted under `components/` at the paths it has in this repository, so that
# it imports the shared in-use inventory (components/retention) exactly as the tests import it.
# Read from this package's own directory: installed, it is `regstack/`, not `components/`.
PACKAGE_FILES = (
    "__init__.py",
    "images.py",
    "jobs/__init__.py",
    "jobs/gc_window.py",
    "jobs/gc_protect.py",
    *sorted(str(p.relative_to(PACKAGE)) for p in (PACKAGE / "retention").glob("*.py")),
)
CODE_FILES = tuple(f"components/{path}" for path in PACKAGE_FILES)
SHARED = "/shared"
CODE = "/opt/regstack"
ETC = "/etc/registry-gc"
# The window's bounds, in the order they run (gc_window.py explains why this order):
START_SECONDS = 300  # scheduling, image pulls
STOP_SECONDS = 600  # until no pod takes writes; on expiry stop reopens, GC never starts
GC_SECONDS = 3600  # `timeout` ends garbage-collect here, before anything else can
RESTORE_SECONDS = 600  # reopening's retries, flushing the cache
JOB_SECONDS = START_SECONDS + STOP_SECONDS + GC_SECONDS + RESTORE_SECONDS
# A holder cannot outlive its Job, so a Lease left by a run that died expires by then.
LEASE_SECONDS = JOB_SECONDS + 60
# Terminated, the pod must reopen before the kubelet kills it: GC is killed at once (its shell
# traps TERM), then one PATCH and one Lease update, with room for the API's retries.
GRACE_SECONDS = 120
LEASE = kube.GC
WindowMode = Literal["read-only", "stop"]
LABELS = kube.app_labels(kube.GC)


@dataclass(frozen=True)
class GarbageCollectionArgs:
    namespace: pulumi.Input[str]
    gc: GcConfig
    registry_image: str
    helper_image: str
    deployment_name: pulumi.Input[str]
    claim_name: pulumi.Input[str] | None
    """The registry's volume; None with object storage."""
    config_map_name: pulumi.Input[str]
    selector: dict[str, str]
    registry_env: Sequence[k8s.core.v1.EnvVarArgs] = field(default_factory=list)
    """The registry's environment (S3 keys, CA directory...): GC reads the same storage."""
    s3_ca: bool = False
    """Mount the S3 endpoint's CA from the registry's ConfigMap, as the registry does."""
    placement: PlacementConfig = field(default_factory=PlacementConfig)
    """The registry's: with a ReadWriteOnce volume GC must be able to run on its node."""
    cache_address: str | None = None
    """Redis blob-descriptor cache to flush before service comes back."""
    cache_db: int = 0
    window: WindowMode = "stop"
    """How writes are held out: `window_mode` chooses it per layout."""
    pin_node: bool = False
    """Start read-only pods on the GC pod's node (one ReadWriteOnce volume)."""
    protection: RegistryAccess | None = None
    """How to reach the registry to tag what the cluster uses before `--delete-untagged` (as
    RetentionJob reaches it); None: nothing to protect."""


def window_mode(gc: GcConfig, registry: RegistryConfig) -> tuple[WindowMode, bool]:
    """`gc.window` resolved for this layout, and whether read-only pods need the GC pod's node."""
    mode: WindowMode
    if gc.window == "auto":
        mode = "stop" if registry.proxy is not None else "read-only"
    else:
        mode = gc.window
    one_node = (
        registry.storage.type == "filesystem" and registry.storage.access_mode == "ReadWriteOnce"
    )
    return mode, mode == "read-only" and one_node


def _field_env(name: str, path: str) -> k8s.core.v1.EnvVarArgs:
    return k8s.core.v1.EnvVarArgs(
        name=name,
        value_from=k8s.core.v1.EnvVarSourceArgs(
            field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path=path)
        ),
    )


def code_key(path: str) -> str:
    """A ConfigMap key for a repository path (keys cannot hold `/`)."""
    return path.replace("/", ".")


def gc_shell(prepare: str, untagged: str) -> str:
    """The gc container's script. Killed with its pod, it must end garbage-collect at once, so
    that restore may reopen within the grace period: as PID 1 the shell would ignore SIGTERM, so
    it traps it and passes it on (garbage-collect does not catch it; busybox's `timeout` execs
    it in its own pid, GNU's forwards the signal), KILL five seconds later, then reports an exit
    code as on any other end. `prepare` ends in `&&` or is empty."""
    return (
        "trap 'kill -TERM $gc 2>/dev/null; sleep 5; kill -KILL $gc 2>/dev/null' TERM; "
        f"{prepare}{{ timeout -s KILL {GC_SECONDS} "
        f"registry garbage-collect{untagged} {render.CONFIG_DIR}/config.yml & gc=$!; wait $gc; }}; "
        "code=$?; wait; "
        # Renamed into place: restore never reads a half-written exit code.
        f"echo $code > {SHARED}/gc-exit.tmp && mv {SHARED}/gc-exit.tmp {SHARED}/gc-exit"
    )


def _window_container(
    action: str,
    image: str,
    flags: pulumi.Output[str],
    env: Sequence[k8s.core.v1.EnvVarArgs] = (),
    mounts: Sequence[k8s.core.v1.VolumeMountArgs] = (),
) -> k8s.core.v1.ContainerArgs:
    """A container running one step of gc_window.py with the stock Python image."""
    # The pod's name holds the Lease and finds the gc container's state; its node is where a
    # ReadWriteOnce volume is mounted.
    identity = [_field_env("POD_NAME", "metadata.name"), _field_env("NODE_NAME", "spec.nodeName")]
    code = [
        k8s.core.v1.EnvVarArgs(name="PYTHONPATH", value=CODE),
        k8s.core.v1.EnvVarArgs(name="PYTHONDONTWRITEBYTECODE", value="1"),
    ]
    return k8s.core.v1.ContainerArgs(
        name=action,
        image=image,
        command=["sh", "-c"],
        args=[flags.apply(lambda f: f"exec python -m components.jobs.gc_window {action} {f}")],
        env=[*identity, *code, *env],
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(name="shared", mount_path=SHARED),
            k8s.core.v1.VolumeMountArgs(name="code", mount_path=CODE, read_only=True),
            *mounts,
        ],
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": "10m", "memory": "32Mi"}, limits={"cpu": "200m", "memory": "64Mi"}
        ),
        security_context=kube.restricted_container(),
    )


class GarbageCollection(pulumi.ComponentResource):
    """A CronJob that holds writes out of the registry, collects garbage and lets them back."""

    cron_job_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: GarbageCollectionArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("regstack:index:GarbageCollection", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def meta(
            object_name: str, annotations: dict[str, str] | None = None
        ) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(
                name=object_name, namespace=args.namespace, labels=LABELS, annotations=annotations
            )

        account = k8s.core.v1.ServiceAccount(f"{name}-account", metadata=meta(kube.GC), opts=child)
        role = k8s.rbac.v1.Role(
            f"{name}-role",
            metadata=meta(kube.GC),
            # Just enough to switch the registry, watch its pods and hold the window's Lease:
            # nothing cluster-wide. Creating cannot be limited to a name; the rest is.
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=["apps"],
                    resources=["deployments"],
                    resource_names=[args.deployment_name],
                    verbs=["get", "patch"],
                ),
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=[""], resources=["pods"], verbs=["get", "list"]
                ),
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=["coordination.k8s.io"], resources=["leases"], verbs=["create"]
                ),
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=["coordination.k8s.io"],
                    resources=["leases"],
                    resource_names=[LEASE],
                    verbs=["get", "update"],
                ),
            ],
            opts=child,
        )
        binding = k8s.rbac.v1.RoleBinding(
            f"{name}-binding",
            metadata=meta(kube.GC),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="Role", name=role.metadata.name
            ),
            subjects=[
                k8s.rbac.v1.SubjectArgs(
                    kind="ServiceAccount", name=account.metadata.name, namespace=args.namespace
                )
            ],
            opts=child,
        )
        scripts = k8s.core.v1.ConfigMap(
            f"{name}-scripts",
            metadata=meta(f"{kube.GC}-scripts"),
            data={
                code_key(f"components/{path}"): (PACKAGE / path).read_text()
                for path in PACKAGE_FILES
            },
            opts=child,
        )
        depends: list[pulumi.Resource] = [binding]
        protect_flags: pulumi.Input[str] = ""
        protect_mounts: list[k8s.core.v1.VolumeMountArgs] = []
        protect_volumes: list[k8s.core.v1.VolumeArgs] = []
        if args.protection is not None:
            protect_flags, protect_mounts, protect_volumes = self._protection(
                name, args, account, meta, child, depends
            )

        selector = ",".join(f"{k}={v}" for k, v in sorted(args.selector.items()))
        window = pulumi.Output.concat(
            "--namespace=",
            args.namespace,
            " --deployment=",
            args.deployment_name,
            f" --selector={selector} --shared={SHARED} --mode={args.window} --container={kube.REGISTRY}",
            " --pin-node" if args.pin_node else "",
            f" --lease={LEASE} --lease-seconds={LEASE_SECONDS}",
            protect_flags,
        )
        restore_flags = window
        restore_env: list[k8s.core.v1.EnvVarArgs] = []
        if args.cache_address is not None:
            # A shell word: an IPv6 address's brackets would otherwise be a glob. The address
            # is an Output when the namespace it is named after was given as one.
            address = pulumi.Output.from_input(input_of(args.cache_address))
            restore_flags = pulumi.Output.concat(
                window,
                " --redis=",
                address.apply(shlex.quote),
                f" --redis-db={args.cache_db}",
            )
            restore_env = [e for e in args.registry_env if e.name == render.ENV_REDIS_PASSWORD]
        secret_env = any(e.value_from is not None for e in args.registry_env)
        untagged = " --delete-untagged" if args.gc.delete_untagged else ""
        filesystem = args.claim_name is not None
        # A registry that never stored anything has no repositories directory, and GC
        # fails on it; creating the empty directory is what the first push would do.
        prepare = (
            f"mkdir -p {render.DATA_DIR}/docker/registry/v2/repositories && " if filesystem else ""
        )
        collect = gc_shell(prepare, untagged)
        storage_mounts: list[k8s.core.v1.VolumeMountArgs] = []
        storage_volumes: list[k8s.core.v1.VolumeArgs] = []
        if args.claim_name is not None:
            storage_mounts = [k8s.core.v1.VolumeMountArgs(name="data", mount_path=render.DATA_DIR)]
            claim = k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(claim_name=args.claim_name)
            storage_volumes = [k8s.core.v1.VolumeArgs(name="data", persistent_volume_claim=claim)]
        if args.s3_ca:  # object storage: no claim, but the endpoint's CA
            ca_volume, ca_mount = kube.s3_ca_volume(args.config_map_name)
            storage_mounts, storage_volumes = [ca_mount], [ca_volume]
        gc_container = k8s.core.v1.ContainerArgs(
            name="gc",
            image=args.registry_image,
            command=["sh", "-c", collect],
            env=list(args.registry_env) or None,
            volume_mounts=[
                *storage_mounts,
                k8s.core.v1.VolumeMountArgs(
                    name="config", mount_path=render.CONFIG_DIR, read_only=True
                ),
                k8s.core.v1.VolumeMountArgs(name="shared", mount_path=SHARED),
            ],
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": "50m", "memory": "64Mi"}, limits={"cpu": "1", "memory": "512Mi"}
            ),
            security_context=kube.restricted_container(),
        )
        pod = k8s.core.v1.PodSpecArgs(
            service_account_name=account.metadata.name,
            restart_policy="Never",
            termination_grace_period_seconds=GRACE_SECONDS,
            **pod_placement(args.placement),
            security_context=kube.restricted_pod(kube.UID, fs_group=kube.UID),
            # A ReadWriteOnce volume can only be mounted on the node the registry runs on.
            affinity=k8s.core.v1.AffinityArgs(
                pod_affinity=k8s.core.v1.PodAffinityArgs(
                    preferred_during_scheduling_ignored_during_execution=[
                        k8s.core.v1.WeightedPodAffinityTermArgs(
                            weight=100,
                            pod_affinity_term=k8s.core.v1.PodAffinityTermArgs(
                                topology_key="kubernetes.io/hostname",
                                label_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels=args.selector
                                ),
                            ),
                        )
                    ]
                )
            )
            if filesystem
            else None,
            init_containers=[
                _window_container(
                    "stop",
                    args.helper_image,
                    pulumi.Output.concat(window, f" --timeout={STOP_SECONDS}"),
                    mounts=protect_mounts,
                )
            ],
            containers=[
                gc_container,
                _window_container(
                    "restore", args.helper_image, restore_flags, restore_env, protect_mounts
                ),
            ],
            volumes=[
                *storage_volumes,
                k8s.core.v1.VolumeArgs(
                    name="config",
                    config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=args.config_map_name),
                ),
                k8s.core.v1.VolumeArgs(
                    name="code",
                    config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                        name=scripts.metadata.name,
                        items=[
                            k8s.core.v1.KeyToPathArgs(key=code_key(path), path=path)
                            for path in CODE_FILES
                        ],
                    ),
                ),
                *protect_volumes,
                k8s.core.v1.VolumeArgs(
                    name="shared", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs()
                ),
            ],
        )
        cron = k8s.batch.v1.CronJob(
            f"{name}-cronjob",
            metadata=meta(
                kube.GC, checkov_skips({**GARBAGE_COLLECTION, **(SECRET_ENV if secret_env else {})})
            ),
            # No retry: it would take the registry down a second time; the next run retries.
            spec=kube.maintenance_schedule(args.gc.schedule, 0, JOB_SECONDS, LABELS, pod),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=depends)),
        )
        self.cron_job_name = cron.metadata.name
        self.register_outputs({"cron_job_name": self.cron_job_name})

    def _protection(
        self,
        name: str,
        args: GarbageCollectionArgs,
        account: k8s.core.v1.ServiceAccount,
        meta: Callable[[str], k8s.meta.v1.ObjectMetaArgs],
        child: pulumi.ResourceOptions,
        depends: list[pulumi.Resource],
    ) -> tuple[pulumi.Input[str], list[k8s.core.v1.VolumeMountArgs], list[k8s.core.v1.VolumeArgs]]:
        """What tagging in-use manifests needs: the cluster-wide in-use reader, the registry's
        URL, credentials and CA, and the in-use files of other clusters (kube.IN_USE)."""
        protection = args.protection
        assert protection is not None
        depends.append(kube.in_use_reader(name, kube.GC, account, args.namespace, child))
        flags = f" --protect-in-use-dir={ETC}/in-use"
        mounts = [k8s.core.v1.VolumeMountArgs(name="in-use", mount_path=f"{ETC}/in-use",
                                              read_only=True)]  # fmt: skip
        volumes = [kube.in_use_files()]
        if protection.user is not None:
            flags += f" --protect-user={protection.user.name}"
            flags += f" --protect-password-file={ETC}/credentials/password"
        if protection.ca_secret_name is not None:
            flags += f" --protect-ca-file={ETC}/ca/ca.crt"
        access_volumes, access_mounts = mounted(
            protection, name, meta(f"{kube.GC}-credentials"), ETC, child
        )
        # The URL may be an Output (of a namespace made in the same program).
        return (
            joined(" --protect-registry=", protection.url, flags),
            mounts + access_mounts,
            volumes + access_volumes,
        )
