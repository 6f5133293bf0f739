"""MicroK8sRegistryAddon: the chapter's `microk8s enable registry`, as a resource.

pulumi-command runs the addon's own commands, locally or over SSH, so `pulumi destroy` disables
it again. The addon has no knobs for TLS or authentication (the config model refuses them).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_command as command

from components.config import MicroK8sConfig
from components.outputs import known_after

ADDON_NAMESPACE = "container-registry"
NODE_ENDPOINT = "localhost:32000"
IN_CLUSTER_ENDPOINT = f"registry.{ADDON_NAMESPACE}.svc.cluster.local:5000"


@dataclass(frozen=True)
class MicroK8sRegistryAddonArgs:
    size: str
    storage_class: str | None
    node: MicroK8sConfig
    private_key: pulumi.Input[str] | None = None


def enable_command(size: str, storage_class: str | None) -> str:
    """The addon's enable command line, as the chapter types it."""
    line = f"microk8s enable registry --size {size}"
    return f"{line} --storageclass {storage_class}" if storage_class else line


DISABLE_COMMAND = "microk8s disable registry"


class MicroK8sRegistryAddon(pulumi.ComponentResource):
    """Enables the MicroK8s registry addon on create, disables it on delete."""

    endpoint: pulumi.Output[str]
    in_cluster_endpoint: pulumi.Output[str]

    def __init__(
        self, name: str, args: MicroK8sRegistryAddonArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("regstack:index:MicroK8sRegistryAddon", name, None, opts)
        create = enable_command(args.size, args.storage_class)
        # The addon cannot resize its volume in place: a new size means disable, then enable.
        options = pulumi.ResourceOptions(
            parent=self, replace_on_changes=["create"], delete_before_replace=True
        )
        if args.node.host is None:
            addon: pulumi.Resource = command.local.Command(
                f"{name}-enable", create=create, delete=DISABLE_COMMAND, opts=options
            )
        else:
            addon = command.remote.Command(
                f"{name}-enable",
                connection=command.remote.ConnectionArgs(
                    host=args.node.host,
                    user=args.node.user,
                    port=args.node.port,
                    private_key=args.private_key,
                ),
                create=create,
                delete=DISABLE_COMMAND,
                opts=options,
            )
        # Outputs wait for the addon so that consumers only push once it is enabled.
        self.endpoint = known_after(addon, NODE_ENDPOINT)
        self.in_cluster_endpoint = known_after(addon, IN_CLUSTER_ENDPOINT)
        self.register_outputs(
            {"endpoint": self.endpoint, "in_cluster_endpoint": self.in_cluster_endpoint}
        )
