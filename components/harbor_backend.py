"""The harbor backend's wiring: Harbor (components/harbor.py) at the addresses worked out for
it, in its namespace, with its certificate, as RegistryPlatform's children (backend.py)."""

from __future__ import annotations

import pulumi

from .backend import Backend, Wiring, registry_certificate, registry_namespace
from .config import S3StorageConfig
from .harbor import HarborRegistry, HarborRegistryArgs
from .outputs import known_after, secret
from .ownership import create_only_provider


def harbor_backend(wiring: Wiring) -> Backend:
    """Harbor from its chart, in a namespace of its own, with its certificate."""
    name, cfg, addresses = wiring.name, wiring.cfg, wiring.addresses
    harbor = cfg.harbor
    # Both are required by the config model for the harbor backend.
    assert harbor.admin_password is not None and harbor.secret_seed is not None
    # The chart's containerSecurityContext (non-root, RuntimeDefault seccomp, no capability)
    # and regstack's init container meet `restricted`, as the distribution backend does.
    namespace = registry_namespace(
        wiring, create_only_provider(name, wiring.platform), enforce="restricted"
    )
    certificate = None
    if cfg.tls.mode != "none":
        certificate = registry_certificate(wiring, namespace)
    url = addresses.external_url
    assert url is not None, "Harbor's addresses hold its externalURL"
    s3 = cfg.registry.storage.s3
    registry = HarborRegistry(
        f"{name}-harbor",
        HarborRegistryArgs(
            namespace=namespace,
            harbor=harbor,
            external_url=url,
            admin_password=secret(harbor.admin_password),
            secret_seed=secret(harbor.secret_seed),
            tls_secret_name=certificate.tls_secret_name if certificate else None,
            database_password=secret(harbor.database.password),
            redis_password=secret(harbor.redis.password),
            protect_data=cfg.protect_data,
            skip_await=cfg.skip_await,
            s3=s3 if cfg.registry.storage.type == "s3" else None,
            s3_keys=_s3_keys(s3) if cfg.registry.storage.type == "s3" and s3 else None,
            scraper=(cfg.monitoring.scraper_namespace, cfg.monitoring.prometheus_pod_labels),
        ),
        opts=wiring.child,
    )
    # Inside the cluster, pods reach the chart's nginx Service; with an Ingress there is none.
    in_cluster = (
        addresses.endpoint if harbor.expose.type == "ingress" else addresses.in_cluster_host
    )
    return Backend(
        pulumi.Output.from_input(addresses.endpoint),
        known_after(registry, in_cluster),
        certificate,
    )


def _s3_keys(s3: S3StorageConfig) -> tuple[pulumi.Output[str], pulumi.Output[str]] | None:
    if s3.access_key is None or s3.secret_key is None:
        return None
    return secret(s3.access_key), secret(s3.secret_key)
