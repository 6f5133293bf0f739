"""The distribution backend's wiring: CNCF Distribution (components/distribution.py) and all
that serves it in one stack, as RegistryPlatform's children (see backend.py, `Wiring`).

Its secrets (S3 keys, http.secret, cache and proxy passwords) reach the pods' environment as
Pulumi secrets; its users sign in through htpasswd or the token server; retention and GC's
protection dial it with one RegistryAccess.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from typing import cast

import pulumi

from . import distribution_config as render
from . import kube
from .addresses import RegistryAddresses, public_hostnames
from .alert_rules import AlertSettings
from .auth import RegistryAuth, RegistryAuthArgs, RegistryUser
from .backend import Backend, Wiring, registry_certificate, registry_namespace
from .certificate import RegistryCertificate
from .config import RegstackConfig, duration_seconds, prometheus_duration_seconds
from .distribution import DistributionRegistry, DistributionRegistryArgs
from .garbage_collection import GarbageCollection, GarbageCollectionArgs, window_mode
from .monitoring import RegistryMonitoring, RegistryMonitoringArgs
from .outputs import as_secret, input_of, secret
from .ownership import create_only_provider
from .redis_cache import RedisCache, RedisCacheArgs, cache_address
from .registry_access import RegistryAccess
from .registry_hosting import LocalRegistryHosting, LocalRegistryHostingArgs
from .retention_job import RetentionJob, RetentionJobArgs
from .stack_key import StackKey
from .token_server import TokenIdentity, TokenServer, TokenServerArgs

TOKEN_ISSUER = "regstack-token-server"
TOKEN_SERVICE = "regstack-registry"
"""The `iss` and `aud` of the tokens: the registry checks both."""


def token_identities(
    cfg: RegstackConfig, pull_identities: dict[str, RegistryUser]
) -> list[TokenIdentity]:
    """The configured users with their roles, then each namespace's pull-only identity."""
    users = [
        TokenIdentity(u.name, secret(u.password), u.role or "admin", tuple(u.repositories))
        for u in cfg.auth.users
    ]
    pulls = [TokenIdentity(u.name, u.password, "pull") for u in pull_identities.values()]
    return users + pulls


def derived_http_secret(key: str) -> str:
    """A stable http.secret from a secret key: the same on every run, so no diff, and secret
    as long as that key is."""
    return hmac.new(key.encode(), b"regstack:http.secret", hashlib.sha256).hexdigest()


def registry_secret_env(
    cfg: RegstackConfig, stack_key: pulumi.Input[str]
) -> dict[str, pulumi.Output[str]]:
    """The registry pods' secret environment (names from distribution_config), as secrets.

    http.secret signs the state of blob uploads in progress; without one each pod draws its
    own, and an upload started on one pod fails on the next with "invalid secret": on another
    replica, across a rollout, and on the read-only pod of the GC window. So every stack has one:
    the configured one, else derived from the S3 secret key (as before), else from the stack key.
    """
    registry, s3 = cfg.registry, cfg.registry.storage.s3
    # Each through `secret`: a value given as an Output (a cloud bucket's keys) stays one.
    values: dict[str, pulumi.Output[str]] = {}
    s3_secret_key: pulumi.Output[str] | None = None
    if registry.storage.type == "s3" and s3 is not None and s3.access_key and s3.secret_key:
        s3_secret_key = secret(s3.secret_key)
        values[render.ENV_S3_ACCESS_KEY] = secret(s3.access_key)
        values[render.ENV_S3_SECRET_KEY] = s3_secret_key
    if registry.http_secret is not None:
        values[render.ENV_HTTP_SECRET] = secret(registry.http_secret)
    else:
        key = s3_secret_key if s3_secret_key is not None else pulumi.Output.from_input(stack_key)
        values[render.ENV_HTTP_SECRET] = as_secret(key.apply(derived_http_secret))
    if registry.cache.redis != "none" and registry.cache.password is not None:
        values[render.ENV_REDIS_PASSWORD] = secret(registry.cache.password)
    if registry.proxy is not None and registry.proxy.password is not None:
        values[render.ENV_PROXY_PASSWORD] = secret(registry.proxy.password)
    return values


def secret_users(cfg: RegstackConfig) -> list[RegistryUser]:
    """Users with their passwords wrapped as Pulumi secrets before anything can log them."""
    return [RegistryUser(u.name, secret(u.password)) for u in cfg.auth.users]


def registry_access(
    cfg: RegstackConfig, addresses: RegistryAddresses, certificate: RegistryCertificate | None
) -> RegistryAccess:
    """How an in-cluster Job (retention, GC's protection) reaches the registry's API: its URL,
    the user it signs in as (retention.user, else `auth.maintainer()`) when auth is on, and the
    lab CA (issuers like Let's Encrypt are in the image's CAs)."""
    assert addresses.api_url is not None, "Distribution's addresses hold its API's URL"
    user = None
    if cfg.auth.enabled:
        wanted = cfg.retention.user or cfg.auth.maintainer()
        user = next(u for u in secret_users(cfg) if u.name == wanted)
    ca_secret_name = None
    if certificate is not None and cfg.tls.mode == "self-signed":
        ca_secret_name = cast(pulumi.Output[str], certificate.ca_secret_name)
    return RegistryAccess(addresses.api_url, user, ca_secret_name)


def distribution_backend(wiring: Wiring) -> Backend:
    """CNCF Distribution with its certificate, logins, token server, cache, maintenance jobs,
    local-registry-hosting and monitoring, as the config asks."""
    name, cfg, addresses, child = wiring.name, wiring.cfg, wiring.addresses, wiring.child
    create_only = create_only_provider(name, wiring.platform)
    namespace = registry_namespace(wiring, create_only, enforce="restricted")
    stack_key = StackKey(f"{name}-stack-key", opts=child).secret
    registry_args = DistributionRegistryArgs(
        namespace=namespace,
        registry=cfg.registry,
        stack_key=stack_key,
        protect_data=cfg.protect_data,
        skip_await=cfg.skip_await,
        redis_address=_cache(wiring, namespace, stack_key),
        secret_env=registry_secret_env(cfg, stack_key),
        scraper=(cfg.monitoring.scraper_namespace, cfg.monitoring.prometheus_pod_labels),
    )
    certificate = None
    if cfg.tls.mode != "none":
        certificate = registry_certificate(wiring, namespace)
        registry_args = dataclasses.replace(
            registry_args, tls_secret_name=certificate.tls_secret_name
        )
    pull_secret_names = None
    token = cfg.auth.enabled and cfg.auth.mode == "token"
    # One random password per namespace, drawn once and kept as a secret in state: removing
    # a namespace removes its identity, and `pulumi up --replace` of its key rotates it alone.
    pull_identities = {
        namespace: RegistryUser(
            f"pull-{namespace}", StackKey(f"{name}-pull-{namespace}", opts=child).secret
        )
        for namespace in (cfg.pull_secrets.namespaces if token else [])
    }
    if cfg.auth.enabled:
        assert addresses.registry_hosts is not None, "Distribution's addresses hold them"
        auth = RegistryAuth(
            f"{name}-auth",
            RegistryAuthArgs(
                namespace=namespace,
                users=secret_users(cfg),
                realm=cfg.auth.realm,
                bcrypt_cost=cfg.auth.bcrypt_cost,
                registry_hosts=addresses.registry_hosts,
                stack_key=stack_key,
                pull_secret_namespaces=cfg.pull_secrets.namespaces,
                pull_secret_name=cfg.pull_secrets.secret_name,
                pull_user=cfg.pull_secrets.user,
                create_namespaces=cfg.pull_secrets.create_namespaces,
                create_only_provider=create_only,
                pull_identities=pull_identities,
            ),
            opts=child,
        )
        pull_secret_names = auth.pull_secret_names
        registry_args = dataclasses.replace(
            registry_args,
            htpasswd_secret_name=auth.htpasswd_secret_name,
            htpasswd_checksum=auth.htpasswd_checksum,
            auth_realm=cfg.auth.realm,
        )
    if token:
        assert certificate is not None, "the config rules require TLS with auth.mode: token"
        assert addresses.token_realm is not None, "the addresses hold a realm with tokens"
        server = _token_server(wiring, namespace, stack_key, certificate, pull_identities)
        registry_args = dataclasses.replace(
            registry_args,
            htpasswd_checksum=server.checksum,
            token=render.TokenAuthSettings(
                realm=addresses.token_realm, service=TOKEN_SERVICE, issuer=TOKEN_ISSUER
            ),
            token_ca_secret_name=server.ca_secret_name,
        )
    registry = DistributionRegistry(f"{name}-registry", registry_args, opts=child)
    # Only --delete-untagged deletes manifests; a pull-through cache refuses the tags
    # (and holds copies only: its upstream is where the images live).
    protects = cfg.gc.enabled and cfg.gc.delete_untagged and cfg.registry.proxy is None
    # Made only for a Job that dials the registry: it names the user that Job signs in as.
    access = None
    if cfg.retention.enabled or protects:
        access = registry_access(cfg, addresses, certificate)
    if cfg.retention.enabled:
        assert access is not None
        _retention(wiring, namespace, access)
    if cfg.gc.enabled:
        protection = access if protects else None
        _garbage_collection(wiring, namespace, registry, registry_args.redis_address, protection)
    if cfg.advertises_registry:
        LocalRegistryHosting(
            f"{name}-hosting",
            LocalRegistryHostingArgs(
                host=addresses.endpoint,
                host_from_container_runtime=addresses.endpoint,
                host_from_cluster_network=registry.in_cluster_endpoint,
            ),
            opts=child,
        )
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
    return Backend(
        pulumi.Output.from_input(addresses.endpoint),
        registry.in_cluster_endpoint,
        certificate,
        pull_secret_names,
    )


def _garbage_collection(
    wiring: Wiring,
    namespace: pulumi.Output[str],
    registry: DistributionRegistry,
    cache_address: str | None,
    protection: RegistryAccess | None,
) -> None:
    """GC of the registry's storage, with the registry's image, environment and placement."""
    cfg = wiring.cfg
    window, pin_node = window_mode(cfg.gc, cfg.registry)
    GarbageCollection(
        f"{wiring.name}-gc",
        GarbageCollectionArgs(
            namespace=namespace,
            gc=cfg.gc,
            registry_image=registry.image,
            helper_image=cfg.gc.helper_image,
            deployment_name=registry.deployment_name,
            claim_name=registry.claim_name,
            config_map_name=registry.config_map_name,
            selector=kube.REGISTRY_SELECTOR,
            registry_env=registry.env(),
            s3_ca=registry.s3_ca_bundle is not None,
            placement=cfg.registry.placement,
            cache_address=cache_address,
            cache_db=cfg.registry.cache.db,
            window=window,
            pin_node=pin_node,
            protection=protection,
        ),
        opts=wiring.child,
    )


def _token_server(
    wiring: Wiring,
    namespace: pulumi.Output[str],
    stack_key: pulumi.Output[str],
    certificate: RegistryCertificate,
    pull_identities: dict[str, RegistryUser],
) -> TokenServer:
    name, cfg = wiring.name, wiring.cfg
    server, registry = cfg.auth.token_server, cfg.registry
    behind_ingress = registry.ingress.enabled and bool(registry.hostnames)
    return TokenServer(
        f"{name}-token-server",
        TokenServerArgs(
            namespace=namespace,
            identities=token_identities(cfg, pull_identities),
            issuer=TOKEN_ISSUER,
            image=f"{server.image}:{server.version}",
            tls_secret_name=certificate.tls_secret_name,
            stack_key=stack_key,
            bcrypt_cost=cfg.auth.bcrypt_cost,
            expiration_seconds=int(duration_seconds(server.expiration)),
            service_type="ClusterIP" if behind_ingress else registry.service.type,
            node_port=server.node_port,
            ingress_hosts=([input_of(h) for h in public_hostnames(cfg)] if behind_ingress else []),
            ingress_class_name=registry.ingress.class_name,
            skip_await=cfg.skip_await,
        ),
        opts=wiring.child,
    )


def _cache(
    wiring: Wiring, namespace: pulumi.Output[str], stack_key: pulumi.Output[str]
) -> str | None:
    """The Redis blob-descriptor cache's address, deploying one when asked to."""
    cfg = wiring.cfg
    cache = cfg.registry.cache
    if cache.redis == "external":
        return cache.address
    if cache.redis == "none":
        return None
    RedisCache(
        f"{wiring.name}-cache",
        RedisCacheArgs(
            namespace=namespace,
            cache=cache,
            password=secret(cache.password),
            clients=[kube.REGISTRY_SELECTOR, kube.app_labels(kube.GC)],
            skip_await=cfg.skip_await,
            placement=cfg.registry.placement,
            stack_key=stack_key,
        ),
        opts=wiring.child,
    )
    return cache_address(cfg.registry.namespace)


def _retention(wiring: Wiring, namespace: pulumi.Output[str], access: RegistryAccess) -> None:
    cfg = wiring.cfg
    RetentionJob(
        f"{wiring.name}-retention",
        RetentionJobArgs(
            namespace=namespace,
            retention=cfg.retention,
            access=access,
            placement=cfg.registry.placement,
            # Three scrape intervals: at least two scrapes land before the pod ends.
            metrics_linger=(
                3 * prometheus_duration_seconds(cfg.monitoring.interval)
                if cfg.monitoring.enabled
                else None
            ),
            scraper=(cfg.monitoring.scraper_namespace, cfg.monitoring.prometheus_pod_labels),
        ),
        opts=wiring.child,
    )
