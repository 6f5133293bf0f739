"""MicroK8sRegistryAddon: the chapter's `microk8s enable registry`, as a resource.

pulumi-command runs the addon's own commands, locally or over SSH. Nothing regstack does ever
disables the addon: `microk8s disable registry` deletes its claim and every image, and the
Command's delete would run it on `pulumi destroy` and on a switch to another backend, which is
the README's way to take the images over. The addon has no knobs for TLS or authentication (the
config model refuses them).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_command as command

from .config import MicroK8sConfig
from .outputs import known_after

ADDON_NAMESPACE = "container-registry"
NODE_ENDPOINT = "localhost:32000"
IN_CLUSTER_ENDPOINT = f"registry.{ADDON_NAMESPACE}.svc.cluster.local:5000"


@dataclass(frozen=True)
class MicroK8sRegistryAddonArgs:
    size: str
    storage_class: str | None
    node: MicroK8sConfig
    private_key: pulumi.Input[str] | None = None
    protect: bool = False
    """Refuse `pulumi destroy` (prod), and so a stack recorded before the Command was kept on
    delete (whose delete still disables the addon) until someone unprotects it."""


def enable_command(size: str, storage_class: str | None) -> str:
    """The addon's enable command line, as the chapter types it."""
    line = f"microk8s enable registry --size {size}"
    return f"{line} --storageclass {storage_class}" if storage_class else line


ADDON_CLAIM = "registry-claim"
_TAKE_OVER = "take its images over with backend: distribution (docs/guides/lab.md: Taking over the addon's images)"


def enable_script(size: str, storage_class: str | None) -> str:
    """Enables the addon, refusing one regstack did not enable (it never takes over what it did
    not create), and fails when the addon refused: it prints why and still exits 0 for a size that
    misses its pattern or an unknown StorageClass."""
    return f"""set -eu
if [ "$(microk8s status -a registry)" = enabled ]; then
  echo "regstack: the registry addon is already enabled on this node, with its own claim and images; regstack never takes over what it did not create. Leave it as it is, or {_TAKE_OVER}." >&2
  exit 1
fi
{enable_command(size, storage_class)}
if [ "$(microk8s status -a registry)" != enabled ]; then
  echo "regstack: microk8s enable registry did not enable the addon (its reason is above)" >&2
  exit 1
fi
"""


def update_script(size: str, storage_class: str | None) -> str:
    """Runs when the Command's inputs change, never re-enabling: the addon cannot resize or move
    its claim, and only `microk8s disable registry` (which deletes every image) would let it start
    over. Passes when the claim already is what the config says (e.g. only the SSH key changed)."""
    query = "{.spec.resources.requests.storage} {.spec.storageClassName}"
    differs = f'[ "$size" != "{size}" ]'
    if storage_class:  # unset: whichever default StorageClass the claim got is fine
        differs += f' || [ "$class" != "{storage_class}" ]'
    return f"""set -eu
claim=$(microk8s kubectl -n {ADDON_NAMESPACE} get persistentvolumeclaim {ADDON_CLAIM} -o jsonpath='{query}')
size=${{claim%% *}} class=${{claim#* }}
if {differs}; then
  echo "regstack: the MicroK8s registry addon cannot resize or move its volume: {ADDON_CLAIM} has $size on StorageClass $class, the config asks for {size} on {storage_class or "the default StorageClass"}. Re-enabling it would delete every image, so nothing was changed. Put registry.storage back to size $size (hostpath storage does not enforce it) on StorageClass $class, or {_TAKE_OVER} and size it there." >&2
  exit 1
fi
echo "{ADDON_CLAIM}: $size on StorageClass $class, as configured"
"""


class MicroK8sRegistryAddon(pulumi.ComponentResource):
    """Enables the MicroK8s registry addon on create; never disables it."""

    endpoint: pulumi.Output[str]
    in_cluster_endpoint: pulumi.Output[str]

    def __init__(
        self, name: str, args: MicroK8sRegistryAddonArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("regstack:index:MicroK8sRegistryAddon", name, None, opts)
        create = enable_script(args.size, args.storage_class)
        update = update_script(args.size, args.storage_class)
        # The Command has no delete, and is kept on delete as well: a stack recorded before had
        # `microk8s disable registry` as its delete, which the engine would run from the state when
        # the Command leaves the program; kept, it is only forgotten. One `pulumi up` records that.
        # No replace_on_changes: a new size is an update, which refuses.
        options = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=True)
        if args.node.host is None:
            addon: pulumi.Resource = command.local.Command(
                f"{name}-enable", create=create, update=update, opts=options
            )
        else:
            addon = command.remote.Command(
                f"{name}-enable",
                connection=command.remote.ConnectionArgs(
                    host=args.node.host,
                    user=args.node.user,
                    port=args.node.port,
                    private_key=args.private_key,
                    host_key=args.node.host_key,
                ),
                create=create,
                update=update,
                opts=options,
            )
        # Outputs wait for the addon so that consumers only push once it is enabled.
        self.endpoint = known_after(addon, NODE_ENDPOINT)
        self.in_cluster_endpoint = known_after(addon, IN_CLUSTER_ENDPOINT)
        self.register_outputs(
            {"endpoint": self.endpoint, "in_cluster_endpoint": self.in_cluster_endpoint}
        )
