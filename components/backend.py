"""What every backend's wiring shares: its place in the platform, its namespace and certificate,
and what it hands back (`Backend`).

The backends (distribution_backend.py, harbor_backend.py, addon_backend.py) register
their resources as RegistryPlatform's children, under the platform's name: `Wiring` carries that
place, so that a backend moved out of platform.py keeps every resource's name and parent, and so
its URN.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from . import kube
from .addresses import RegistryAddresses
from .certificate import RegistryCertificate, RegistryCertificateArgs
from .config import RegstackConfig
from .outputs import input_of, shown
from .ownership import created_here


@dataclass(frozen=True)
class Wiring:
    """One platform's build: its name (every resource's name starts with it), its config, its
    addresses worked out once, and the platform itself (the parent of every resource)."""

    name: str
    cfg: RegstackConfig
    addresses: RegistryAddresses
    platform: pulumi.Resource
    child: pulumi.ResourceOptions
    """`parent=platform`: the options of every resource a backend registers."""


@dataclass(frozen=True)
class Backend:
    """What one backend hands the platform for its outputs."""

    endpoint: pulumi.Output[str]
    in_cluster_endpoint: pulumi.Output[str]
    certificate: RegistryCertificate | None = None
    pull_secret_names: pulumi.Output[dict[str, str]] | None = None


def pod_security(enforce: str) -> dict[str, str]:
    """Pod Security Admission labels: refuse below `enforce`, warn and audit below restricted."""
    labels = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("audit", "warn")}
    return {**labels, "pod-security.kubernetes.io/enforce": enforce}


def registry_namespace(
    wiring: Wiring, create_only: pulumi.ProviderResource | None, enforce: str
) -> pulumi.Output[str]:
    """The registry's namespace: created here, or one someone else made, used as it is."""
    name, cfg = wiring.name, wiring.cfg
    namespace = cfg.registry.namespace
    # A claim regstack is lent lives in a namespace someone else made (the MicroK8s addon's),
    # and a program may make the namespace itself: regstack uses such a namespace as it is,
    # never creates or labels it.
    if cfg.registry.storage.existing_claim is not None or not cfg.registry.create_namespace:
        return pulumi.Output.from_input(input_of(namespace))
    # Otherwise the namespace is regstack's to create, never an existing one to take over, and
    # never deleted: whatever else people put in it would go with it (components/ownership.py).
    what_to_do = (
        "Choose another registry.namespace, or set registry.create_namespace: false to deploy "
        "into it as it is. To serve the images of a claim that lives there "
        "(the MicroK8s addon's registry-claim), set registry.storage.existing_claim: regstack "
        "then uses the namespace as it is. If an earlier `pulumi destroy` left it (regstack "
        f"never deletes a namespace), delete it once it holds nothing you need: kubectl delete "
        f"namespace {shown(namespace, '<registry.namespace>')}."
    )
    return k8s.core.v1.Namespace(
        f"{name}-namespace",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=input_of(namespace), labels={**kube.MANAGED_BY, **pod_security(enforce)}
        ),
        opts=created_here(f"{name}-namespace", wiring.child, create_only, what_to_do, keep=True),
    ).metadata.name


def registry_certificate(wiring: Wiring, namespace: pulumi.Output[str]) -> RegistryCertificate:
    """The serving certificate for every name the addresses say clients dial."""
    cfg, addresses = wiring.cfg, wiring.addresses
    return RegistryCertificate(
        f"{wiring.name}-certificate",
        RegistryCertificateArgs(
            namespace=namespace,
            tls=cfg.tls,
            dns_names=addresses.certificate_dns_names,
            ip_addresses=addresses.certificate_ip_addresses,
            read_ca=bool(cfg.node_trust.nodes),
        ),
        opts=wiring.child,
    )
