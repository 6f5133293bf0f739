"""RegistryAccess: how an in-cluster Job reaches the registry's API, as one value.

Retention and GC's protection both talk to the registry over HTTP from a pod: the same URL, the
same user and password, the same CA. RegistryPlatform makes this value once and hands it to both,
and each mounts it the same way (`mounted`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from .auth import RegistryUser
from .outputs import as_secret


@dataclass(frozen=True)
class RegistryAccess:
    url: pulumi.Input[str]
    """The registry API's URL from a pod, e.g. https://registry.ns.svc.cluster.local:5000."""
    user: RegistryUser | None = None
    """Who the Job signs in as, when auth is on."""
    ca_secret_name: pulumi.Input[str] | None = None
    """Secret holding the `ca.crt` that signed the registry certificate (lab CA)."""


def mounted(
    access: RegistryAccess,
    name: str,
    metadata: k8s.meta.v1.ObjectMetaArgs,
    directory: str,
    opts: pulumi.ResourceOptions,
) -> tuple[list[k8s.core.v1.VolumeArgs], list[k8s.core.v1.VolumeMountArgs]]:
    """The password as a Secret of the Job's (`<name>-credentials`, named by `metadata`),
    mounted at `<directory>/credentials/password`, and the CA at `<directory>/ca/ca.crt`:
    the volumes and mounts of those given."""
    volumes: list[k8s.core.v1.VolumeArgs] = []
    mounts: list[k8s.core.v1.VolumeMountArgs] = []
    if access.user is not None:
        credentials = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata=metadata,
            string_data={"password": as_secret(access.user.password)},
            opts=opts,
        )
        volumes.append(
            k8s.core.v1.VolumeArgs(
                name="credentials",
                secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=credentials.metadata.name),
            )
        )
        mounts.append(
            k8s.core.v1.VolumeMountArgs(
                name="credentials", mount_path=f"{directory}/credentials", read_only=True
            )
        )
    if access.ca_secret_name is not None:
        volumes.append(
            k8s.core.v1.VolumeArgs(
                name="ca",
                secret=k8s.core.v1.SecretVolumeSourceArgs(
                    secret_name=access.ca_secret_name,
                    items=[k8s.core.v1.KeyToPathArgs(key="ca.crt", path="ca.crt")],
                ),
            )
        )
        mounts.append(
            k8s.core.v1.VolumeMountArgs(name="ca", mount_path=f"{directory}/ca", read_only=True)
        )
    return volumes, mounts
