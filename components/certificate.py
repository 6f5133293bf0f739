"""RegistryCertificate: the registry's serving certificate, issued by cert-manager."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from .config import TlsConfig
from .outputs import input_of, known_after

CERT_MANAGER = "cert-manager.io/v1"
# Long enough that a lab CA outlives many serving certificates; cert-manager renews it anyway.
LAB_CA_DURATION = "87600h"
# pulumi-kubernetes waits for this condition before it reports the resource created.
WAIT_FOR = "pulumi.com/waitFor"


@dataclass(frozen=True)
class RegistryCertificateArgs:
    namespace: pulumi.Input[str]
    tls: TlsConfig
    dns_names: pulumi.Input[list[str]]
    """Every DNS name clients use: host names, service names, `localhost` for the node port."""
    ip_addresses: list[str]
    read_ca: bool = False
    """Read the lab CA certificate back from its Secret (for nodes that must trust it)."""


class RegistryCertificate(pulumi.ComponentResource):
    """A cert-manager Certificate; for labs, with the self-signed CA chain that issues it."""

    tls_secret_name: pulumi.Output[str]
    ca_secret_name: pulumi.Output[str | None]
    ca_pem: pulumi.Output[str] | None
    """The lab CA certificate (PEM) when `read_ca` and self-signed, else None."""

    def __init__(
        self, name: str, args: RegistryCertificateArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("regstack:index:RegistryCertificate", name, None, opts)
        self._name, self._namespace = name, args.namespace
        child = pulumi.ResourceOptions(parent=self)

        self.ca_pem = None
        issuer_ref: dict[str, pulumi.Input[str]]
        if args.tls.mode == "self-signed":
            issuer_ref, ca_issuer, ca_secret = self._lab_ca(child, args)
            self.ca_secret_name = pulumi.Output.from_input(ca_secret)
            if args.read_ca:
                self.ca_pem = self._read_ca(ca_issuer, ca_secret)
            child = pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[ca_issuer])
            )
        else:
            assert args.tls.issuer is not None  # enforced by the config model
            issuer = args.tls.issuer
            issuer_ref = {"name": input_of(issuer.name), "kind": issuer.kind}
            self.ca_secret_name = pulumi.Output.from_input(None)

        serving = self._resource(
            "Certificate",
            "tls",
            {
                "secretName": f"{name}-tls",
                "dnsNames": args.dns_names,
                "ipAddresses": args.ip_addresses,
                "duration": args.tls.duration,
                "renewBefore": args.tls.renew_before,
                "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                "usages": ["server auth", "digital signature", "key encipherment"],
                "issuerRef": {**issuer_ref, "group": "cert-manager.io"},
            },
            child,
        )
        self.tls_secret_name = known_after(serving, f"{name}-tls")
        self.register_outputs(
            {"tls_secret_name": self.tls_secret_name, "ca_secret_name": self.ca_secret_name}
        )

    def _resource(
        self,
        kind: str,
        role: str,
        spec: dict[str, Any],
        opts: pulumi.ResourceOptions,
        annotations: dict[str, str] | None = None,
    ) -> k8s.apiextensions.CustomResource:
        resource_name = f"{self._name}-{role}"
        return k8s.apiextensions.CustomResource(
            resource_name,
            api_version=CERT_MANAGER,
            kind=kind,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=resource_name, namespace=self._namespace, annotations=annotations
            ),
            spec=spec,
            opts=opts,
        )

    def _read_ca(self, ca_issuer: pulumi.Resource, ca_secret: str) -> pulumi.Output[str]:
        """The CA certificate from the Secret cert-manager wrote (public, so not kept secret)."""
        secret = k8s.core.v1.Secret.get(
            f"{self._name}-ca-secret",
            id=pulumi.Output.concat(self._namespace, "/", ca_secret),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ca_issuer]),
        )
        return pulumi.Output.unsecret(
            secret.data.apply(lambda data: base64.b64decode(data["ca.crt"]).decode())
        )

    def _lab_ca(
        self, child: pulumi.ResourceOptions, args: RegistryCertificateArgs
    ) -> tuple[dict[str, pulumi.Input[str]], k8s.apiextensions.CustomResource, str]:
        """Self-signed Issuer -> CA Certificate -> CA Issuer, as cert-manager documents it."""
        bootstrap = self._resource("Issuer", "selfsigned", {"selfSigned": {}}, child)
        ca_secret = f"{self._name}-ca"
        ca = self._resource(
            "Certificate",
            "ca",
            {
                "isCA": True,
                "commonName": f"{self._name} lab CA",
                "secretName": ca_secret,
                "duration": LAB_CA_DURATION,
                "privateKey": {"algorithm": "ECDSA", "size": 256},
                "issuerRef": {
                    "name": f"{self._name}-selfsigned",
                    "kind": "Issuer",
                    "group": "cert-manager.io",
                },
            },
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[bootstrap])),
            # Reading the CA back needs it issued, not just requested; skip_await does not
            # apply: it spares workloads that need a node, and cert-manager issues without one.
            {WAIT_FOR: "condition=Ready"} if args.read_ca else None,
        )
        ca_issuer = self._resource(
            "Issuer",
            "ca-issuer",
            {"ca": {"secretName": ca_secret}},
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[ca])),
        )
        return {"name": f"{self._name}-ca-issuer", "kind": "Issuer"}, ca_issuer, ca_secret
