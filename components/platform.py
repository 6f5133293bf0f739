"""RegistryPlatform: the whole registry a stack asks for, built from its validated config."""

from __future__ import annotations

import dataclasses

import pulumi
import pulumi_kubernetes as k8s
from pydantic import SecretStr

from components.alert_rules import AlertSettings
from components.auth import RegistryAuth, RegistryAuthArgs, RegistryUser
from components.certificate import RegistryCertificate, RegistryCertificateArgs
from components.config import RegstackConfig
from components.distribution import APP, DistributionRegistry, DistributionRegistryArgs
from components.microk8s_addon import MicroK8sRegistryAddon, MicroK8sRegistryAddonArgs
from components.monitoring import RegistryMonitoring, RegistryMonitoringArgs


def node_endpoint(cfg: RegstackConfig) -> str:
    """Where people push from: the first host name, else the node port on localhost."""
    service = cfg.registry.service
    if cfg.registry.hostnames:
        return cfg.registry.hostnames[0]
    if service.type == "NodePort":
        return f"localhost:{service.node_port}"
    return f"{APP}.{cfg.registry.namespace}.svc.cluster.local:{service.port}"


def service_dns_names(cfg: RegstackConfig) -> list[str]:
    namespace = cfg.registry.namespace
    return [APP, f"{APP}.{namespace}", f"{APP}.{namespace}.svc",
            f"{APP}.{namespace}.svc.cluster.local"]  # fmt: skip


def certificate_dns_names(cfg: RegstackConfig) -> list[str]:
    """Every name a client may dial, deduplicated in a stable order."""
    names = [*cfg.registry.hostnames, *cfg.tls.dns_names, *service_dns_names(cfg), "localhost"]
    return list(dict.fromkeys(names))


def registry_hosts(cfg: RegstackConfig) -> list[str]:
    """The host[:port] keys a pull secret must authenticate."""
    service = cfg.registry.service
    hosts = [*cfg.registry.hostnames]
    if service.type == "NodePort":
        hosts.append(f"localhost:{service.node_port}")
    hosts += [f"{name}:{service.port}" for name in service_dns_names(cfg)[-2:]]
    return list(dict.fromkeys(hosts))


def secret_users(cfg: RegstackConfig) -> list[RegistryUser]:
    """Users with their passwords wrapped as Pulumi secrets before anything can log them."""
    return [
        RegistryUser(u.name, pulumi.Output.secret(u.password.get_secret_value()))
        for u in cfg.auth.users
    ]


class RegistryPlatform(pulumi.ComponentResource):
    """Registry backend, certificate and authentication, wired together."""

    endpoint: pulumi.Output[str]
    in_cluster_endpoint: pulumi.Output[str]
    pull_secret_names: pulumi.Output[dict[str, str]]
    ca_secret_name: pulumi.Output[str | None]
    tls_secret_name: pulumi.Output[str | None]
    docker_login: pulumi.Output[str]

    def __init__(self, name: str, args: RegstackConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("regstack:index:RegistryPlatform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args
        self.tls_secret_name = pulumi.Output.from_input(None)
        self.ca_secret_name = pulumi.Output.from_input(None)
        self.pull_secret_names = pulumi.Output.from_input({})

        if cfg.backend == "microk8s-addon":
            addon = MicroK8sRegistryAddon(
                f"{name}-addon",
                MicroK8sRegistryAddonArgs(
                    size=cfg.registry.storage.size,
                    storage_class=cfg.registry.storage.storage_class,
                    node=cfg.microk8s,
                    private_key=_secret_or_none(cfg.microk8s.private_key),
                ),
                opts=child,
            )
            self.endpoint, self.in_cluster_endpoint = addon.endpoint, addon.in_cluster_endpoint
        else:
            self._distribution(name, cfg, child)

        first_user = cfg.auth.users[0].name if cfg.auth.enabled else None
        login = f"docker login {node_endpoint(cfg)}" + (f" -u {first_user}" if first_user else "")
        self.docker_login = pulumi.Output.from_input(login if first_user else "no login needed")
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "in_cluster_endpoint": self.in_cluster_endpoint,
                "pull_secret_names": self.pull_secret_names,
                "ca_secret_name": self.ca_secret_name,
                "tls_secret_name": self.tls_secret_name,
                "docker_login": self.docker_login,
            }
        )

    def _distribution(self, name: str, cfg: RegstackConfig, child: pulumi.ResourceOptions) -> None:
        # The namespace belongs to the platform: certificate, users and registry all live in it.
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=cfg.registry.namespace,
                labels={"app.kubernetes.io/managed-by": "regstack"},
            ),
            opts=child,
        ).metadata.name

        registry_args = DistributionRegistryArgs(
            namespace=namespace,
            registry=cfg.registry,
            protect_data=cfg.protect_data,
            skip_await=cfg.skip_await,
        )
        if cfg.tls.mode != "none":
            certificate = RegistryCertificate(
                f"{name}-certificate",
                RegistryCertificateArgs(
                    namespace=namespace,
                    tls=cfg.tls,
                    dns_names=certificate_dns_names(cfg),
                    ip_addresses=["127.0.0.1"],
                ),
                opts=child,
            )
            self.tls_secret_name = certificate.tls_secret_name
            self.ca_secret_name = certificate.ca_secret_name
            registry_args = dataclasses.replace(
                registry_args, tls_secret_name=certificate.tls_secret_name
            )
        if cfg.auth.enabled:
            auth = RegistryAuth(
                f"{name}-auth",
                RegistryAuthArgs(
                    namespace=namespace,
                    users=secret_users(cfg),
                    realm=cfg.auth.realm,
                    bcrypt_cost=cfg.auth.bcrypt_cost,
                    registry_hosts=registry_hosts(cfg),
                    pull_secret_namespaces=cfg.pull_secrets.namespaces,
                    pull_secret_name=cfg.pull_secrets.secret_name,
                    pull_user=cfg.pull_secrets.user,
                    create_namespaces=cfg.pull_secrets.create_namespaces,
                ),
                opts=child,
            )
            self.pull_secret_names = auth.pull_secret_names
            registry_args = dataclasses.replace(
                registry_args,
                htpasswd_secret_name=auth.htpasswd_secret_name,
                htpasswd_checksum=auth.htpasswd_checksum,
                auth_realm=cfg.auth.realm,
            )
        registry = DistributionRegistry(f"{name}-registry", registry_args, opts=child)
        self.endpoint = pulumi.Output.from_input(node_endpoint(cfg))
        self.in_cluster_endpoint = registry.in_cluster_endpoint
        if cfg.monitoring.enabled:
            # Only the namespace: monitors and rules need no running registry, so they never
            # wait on (or for) the workload's readiness, whatever skip_await says.
            RegistryMonitoring(
                f"{name}-monitoring",
                RegistryMonitoringArgs(
                    namespace=namespace,
                    monitoring=cfg.monitoring,
                    alerts=AlertSettings.from_config(cfg),
                ),
                opts=child,
            )


def _secret_or_none(value: SecretStr | None) -> pulumi.Output[str] | None:
    return None if value is None else pulumi.Output.secret(value.get_secret_value())
