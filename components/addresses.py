"""RegistryAddresses: every name the registry is reached by, worked out once from the config.

The endpoint people push to, the names nodes pull by, the keys of the pull secrets, the names the
certificate must hold, the URL an in-cluster Job dials, Harbor's externalURL, the token realm: each
follows from the backend, the Service, the host names, the Ingress and TLS. RegistryPlatform
computes them here once (`addresses_of`) and hands the one value to whatever names the registry,
so that no component works a name out again from the config.

A name built from a value given as an Output (the namespace, a host name: config/deferred.py) is
an Output too; otherwise it is plain text, as it always was (`outputs.joined`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import pulumi

from . import kube
from .config import RegstackConfig, public_ca
from .harbor import SERVICE as HARBOR_SERVICE
from .microk8s_addon import NODE_ENDPOINT
from .outputs import distinct, input_of, joined
from .token_server_config import REALM_PATH


def service_dns_names(cfg: RegstackConfig, service: str = kube.REGISTRY) -> list[pulumi.Input[str]]:
    """The Service's names, shortest first; all but the first are Outputs when the namespace is
    one (given as an Output: config/deferred.py)."""
    namespace = cfg.registry.namespace
    return [
        service,
        joined(service, ".", namespace),
        joined(service, ".", namespace, ".svc"),
        joined(service, ".", namespace, ".svc.cluster.local"),
    ]


def public_hostnames(cfg: RegstackConfig) -> list[str]:
    """The host names that name one host: a wildcard names none to dial or pull from."""
    return [host for host in cfg.registry.hostnames if not host.startswith("*.")]


def node_endpoint(cfg: RegstackConfig) -> pulumi.Input[str]:
    """Where people push from: the first host name (through the Ingress, or at the node port
    when there is no Ingress), else the node port on localhost, else the Service's cluster name
    (an Output when that host name or the namespace is one)."""
    service = cfg.registry.service
    hostnames = cfg.registry.hostnames
    if hostnames and cfg.registry.ingress.enabled:
        return input_of(hostnames[0])
    if service.type == "NodePort":
        return joined(hostnames[0] if hostnames else "localhost", f":{service.node_port}")
    if hostnames:  # a ClusterIP or LoadBalancer Service answers on its own port
        return joined(hostnames[0], f":{service.port}")
    return joined(service_dns_names(cfg)[-1], f":{service.port}")


def certificate_dns_names(
    cfg: RegstackConfig, service: str = kube.REGISTRY
) -> pulumi.Input[list[str]]:
    """Every name a client may dial, deduplicated in a stable order. A public ACME CA refuses
    the whole order for a cluster name or localhost: its certificate has the public ones only."""
    names: list[pulumi.Input[str]] = [*cfg.registry.hostnames, *cfg.tls.dns_names]
    if not public_ca(cfg.tls):
        names += [*service_dns_names(cfg, service), "localhost"]
    return distinct(names)


def certificate_ip_addresses(cfg: RegstackConfig) -> list[str]:
    return [*([] if public_ca(cfg.tls) else ["127.0.0.1"]), *cfg.tls.ip_addresses]


def _plain(value: pulumi.Input[str]) -> str:
    """Harbor's externalURL as text: the config rules refuse an Output namespace where the URL
    would be named after it (config/rules.py, output_problems)."""
    assert isinstance(value, str), "the config rules refuse an Output namespace in Harbor's URL"
    return value


def harbor_external_url(cfg: RegstackConfig) -> str:
    """Harbor's externalURL: the first host name, the node port, or the in-cluster Service."""
    expose = cfg.harbor.expose
    tls = cfg.tls.mode != "none"
    scheme = "https" if tls else "http"
    host = cfg.registry.hostnames[0] if cfg.registry.hostnames else None
    if expose.type == "nodePort":
        port = expose.node_ports.https if tls else expose.node_ports.http
        return f"{scheme}://{host or 'localhost'}:{port}"
    if host is None:  # clusterIP only: the config model requires a host name otherwise
        host = _plain(service_dns_names(cfg, HARBOR_SERVICE)[-1])
    return f"{scheme}://{host}"


def registry_hosts(cfg: RegstackConfig) -> pulumi.Input[list[str]]:
    """The host[:port] keys a pull secret must authenticate."""
    service = cfg.registry.service
    hosts: list[pulumi.Input[str]] = [node_endpoint(cfg), *cfg.registry.hostnames]
    if service.type == "NodePort":
        hosts.append(f"localhost:{service.node_port}")
    hosts += [joined(name, f":{service.port}") for name in service_dns_names(cfg)[-2:]]
    return distinct(hosts)


def node_pull_endpoints(cfg: RegstackConfig) -> pulumi.Input[list[str]]:
    """The `host[:port]` names nodes and workstations pull the registry by (an Output when a
    host name is one)."""
    service = cfg.registry.service
    # A wildcard names no host to pull from, and would be a `*.` folder under certs.d.
    hostnames = public_hostnames(cfg)
    names: list[pulumi.Input[str]] = []
    if cfg.backend == "microk8s-addon":
        names = [NODE_ENDPOINT]
    elif cfg.backend == "harbor":
        names = [urlsplit(harbor_external_url(cfg)).netloc]
    elif cfg.registry.ingress.enabled:
        names = [*hostnames]
    elif service.type == "NodePort":
        hosts = ["localhost", *hostnames]
        names = [joined(host, f":{service.node_port}") for host in hosts]
    return distinct([*names, *cfg.node_trust.endpoints])


def token_realm(cfg: RegstackConfig) -> str:
    """The token server's URL as clients reach it: the configured one, else `/auth` on the
    registry's first host name behind the Ingress, else its node port on that host (the
    config rules require a realm otherwise)."""
    server, registry = cfg.auth.token_server, cfg.registry
    if server.realm is not None:
        return server.realm
    hosts = public_hostnames(cfg)
    if registry.ingress.enabled and hosts:
        return f"https://{hosts[0]}{REALM_PATH}"
    return f"https://{hosts[0] if hosts else 'localhost'}:{server.node_port}{REALM_PATH}"


def api_url(cfg: RegstackConfig) -> pulumi.Input[str]:
    """The registry's API as an in-cluster Job (retention, GC's protection) dials it: its
    Service, or a public name when its certificate holds no in-cluster one."""
    if public_ca(cfg.tls):
        return joined("https://", node_endpoint(cfg))
    scheme = "https" if cfg.tls.mode != "none" else "http"
    return joined(f"{scheme}://", service_dns_names(cfg)[-1], f":{cfg.registry.service.port}")


@dataclass(frozen=True)
class RegistryAddresses:
    """Where the registry is, for everyone who names it (see the module's docstring)."""

    endpoint: pulumi.Input[str]
    """`host[:port]` people push to and log in to."""
    node_pull_endpoints: pulumi.Input[list[str]]
    """`host[:port]` names nodes trust and pull by (node trust, the insecure-registries snippet)."""
    certificate_dns_names: pulumi.Input[list[str]]
    certificate_ip_addresses: list[str]
    in_cluster_host: pulumi.Input[str]
    """The cluster name of the Service clients reach (Distribution's, or Harbor's nginx):
    `<service>.<namespace>.svc.cluster.local`."""
    registry_hosts: pulumi.Input[list[str]] | None = None
    """Distribution: the `host[:port]` keys its pull secrets authenticate."""
    api_url: pulumi.Input[str] | None = None
    """Distribution: the URL in-cluster Jobs reach its API by."""
    token_realm: str | None = None
    """Distribution with `auth.mode: token`: the token server's URL as clients reach it."""
    external_url: str | None = None
    """Harbor: its externalURL."""


def addresses_of(cfg: RegstackConfig) -> RegistryAddresses:
    """The addresses of the registry the config asks for, each worked out once."""
    if cfg.backend == "harbor":
        url = harbor_external_url(cfg)
        return RegistryAddresses(
            endpoint=urlsplit(url).netloc,
            node_pull_endpoints=node_pull_endpoints(cfg),
            certificate_dns_names=certificate_dns_names(cfg, HARBOR_SERVICE),
            certificate_ip_addresses=certificate_ip_addresses(cfg),
            in_cluster_host=service_dns_names(cfg, HARBOR_SERVICE)[-1],
            external_url=url,
        )
    token = cfg.backend == "distribution" and cfg.auth.enabled and cfg.auth.mode == "token"
    return RegistryAddresses(
        endpoint=NODE_ENDPOINT if cfg.backend == "microk8s-addon" else node_endpoint(cfg),
        node_pull_endpoints=node_pull_endpoints(cfg),
        certificate_dns_names=certificate_dns_names(cfg),
        certificate_ip_addresses=certificate_ip_addresses(cfg),
        in_cluster_host=service_dns_names(cfg)[-1],
        registry_hosts=registry_hosts(cfg),
        api_url=api_url(cfg),
        token_realm=token_realm(cfg) if token else None,
    )
