"""LocalRegistryHosting: where the registry is, for the tools of a lab (KEP-1755).

`microk8s enable registry` publishes the ConfigMap `kube-public/local-registry-hosting`; tools
such as Tilt and ctlptl read it to find where to push and what name pods pull by. A regstack
registry in the addon's place publishes the same document.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import yaml

from . import kube

NAMESPACE = "kube-public"
NAME = "local-registry-hosting"
KEY = "localRegistryHosting.v1"


def hosting_document(host: str, from_runtime: str, from_cluster: str) -> str:
    """The `localRegistryHosting.v1` value, its fields in the KEP's order."""
    return yaml.safe_dump(
        {
            "host": host,
            "hostFromContainerRuntime": from_runtime,
            "hostFromClusterNetwork": from_cluster,
        },
        sort_keys=False,
    )


@dataclass
class LocalRegistryHostingArgs:
    host: pulumi.Input[str]
    """Where people push from (the node port on localhost, or the first host name)."""
    host_from_container_runtime: pulumi.Input[str]
    """The name nodes pull by; regstack's node trust makes it the same as `host`."""
    host_from_cluster_network: pulumi.Input[str]
    """The registry's Service address inside the cluster."""


class LocalRegistryHosting(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: LocalRegistryHostingArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("regstack:index:LocalRegistryHosting", name, None, opts)
        hosts = pulumi.Output.all(
            args.host, args.host_from_container_runtime, args.host_from_cluster_network
        )
        document = hosts.apply(lambda names: hosting_document(*names))
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-configmap",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=NAME,
                namespace=NAMESPACE,
                labels=kube.MANAGED_BY,
                # The addon's own copy, written by kubectl, stays behind when a lab moves from
                # the addon to regstack; without force the apply would stop on its fields.
                annotations={"pulumi.com/patchForce": "true"},
            ),
            data={KEY: document},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.config_map_name = config_map.metadata.name
        self.register_outputs({"config_map_name": self.config_map_name})
