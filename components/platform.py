"""RegistryPlatform: the whole registry a stack asks for, built from its validated config."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from dataclasses import dataclass
from typing import cast

import pulumi
import pulumi_kubernetes as k8s

from . import distribution_config as render
from . import kube
from .addresses import RegistryAddresses, addresses_of, public_hostnames
from .alert_rules import AlertSettings
from .auth import RegistryAuth, RegistryAuthArgs, RegistryUser
from .certificate import RegistryCertificate, RegistryCertificateArgs
from .config import (
    RegstackConfig,
    S3StorageConfig,
    duration_seconds,
    prometheus_duration_seconds,
)
from .distribution import DistributionRegistry, DistributionRegistryArgs
from .garbage_collection import (
    GarbageCollection,
    GarbageCollectionArgs,
    window_mode,
)
from .harbor import HarborRegistry, HarborRegistryArgs
from .microk8s_addon import MicroK8sRegistryAddon, MicroK8sRegistryAddonArgs
from .monitoring import RegistryMonitoring, RegistryMonitoringArgs
from .node_trust import NodeTrust, NodeTrustArgs, docker_daemon_json
from .outputs import as_secret, input_of, known_after, secret, shown
from .ownership import create_only_provider, created_here
from .redis_cache import RedisCache, RedisCacheArgs, cache_address
from .registry_access import RegistryAccess
from .registry_hosting import LocalRegistryHosting, LocalRegistryHostingArgs
from .retention_job import RetentionJob, RetentionJobArgs
from .stack_key import StackKey
from .token_server import TokenIdentity, TokenServer, TokenServerArgs

TOKEN_ISSUER = "regstack-token-server"
TOKEN_SERVICE = "regstack-registry"
"""The `iss` and `aud` of the tokens: the registry checks both."""


def pod_security(enforce: str) -> dict[str, str]:
    """Pod Security Admission labels: refuse below `enforce`, warn and audit below restricted."""
    labels = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("audit", "warn")}
    return {**labels, "pod-security.kubernetes.io/enforce": enforce}


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


@dataclass(frozen=True)
class Backend:
    """What one backend hands the platform for its outputs."""

    endpoint: pulumi.Output[str]
    in_cluster_endpoint: pulumi.Output[str]
    certificate: RegistryCertificate | None = None
    pull_secret_names: pulumi.Output[dict[str, str]] | None = None


class RegistryPlatform(pulumi.ComponentResource):
    """Registry backend, certificate and authentication, wired together."""

    endpoint: pulumi.Output[str]
    in_cluster_endpoint: pulumi.Output[str]
    pull_secret_names: pulumi.Output[dict[str, str]]
    ca_secret_name: pulumi.Output[str | None]
    tls_secret_name: pulumi.Output[str | None]
    docker_login: pulumi.Output[str]
    docker_daemon_json: pulumi.Output[str | None]
    """The chapter's insecure-registries snippet: only for a dev-profile plain-HTTP registry."""

    def __init__(self, name: str, args: RegstackConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("regstack:index:RegistryPlatform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args
        addresses = addresses_of(cfg)
        if cfg.backend == "microk8s-addon":
            backend = self._addon(name, cfg, child)
        elif cfg.backend == "harbor":
            backend = self._harbor(name, cfg, addresses, child)
        else:
            backend = self._distribution(name, cfg, addresses, child)
        self.endpoint, self.in_cluster_endpoint = backend.endpoint, backend.in_cluster_endpoint
        self.pull_secret_names = backend.pull_secret_names or pulumi.Output.from_input({})
        certificate = backend.certificate
        none: pulumi.Output[str | None] = pulumi.Output.from_input(None)
        self.tls_secret_name = certificate.tls_secret_name if certificate else none
        self.ca_secret_name = certificate.ca_secret_name if certificate else none
        if cfg.node_trust.nodes:
            NodeTrust(
                f"{name}-node-trust",
                NodeTrustArgs(
                    trust=cfg.node_trust,
                    endpoints=addresses.node_pull_endpoints,
                    ca_pem=certificate.ca_pem if certificate else None,
                    private_key=secret(cfg.node_trust.private_key),
                    mirror_of=cfg.registry.proxy.remote_url if cfg.registry.proxy else None,
                ),
                opts=child,
            )
        insecure = cfg.profile == "dev" and cfg.tls.mode == "none"
        self.docker_daemon_json = (
            pulumi.Output.from_input(addresses.node_pull_endpoints).apply(docker_daemon_json)
            if insecure
            else pulumi.Output.from_input(None)
        )

        first_user = cfg.auth.users[0].name if cfg.auth.enabled else None
        if cfg.backend == "harbor":
            first_user = "admin"  # Harbor's built-in administrator
        self.docker_login = (
            self.endpoint.apply(lambda endpoint: f"docker login {endpoint} -u {first_user}")
            if first_user
            else pulumi.Output.from_input("no login needed")
        )
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "in_cluster_endpoint": self.in_cluster_endpoint,
                "pull_secret_names": self.pull_secret_names,
                "ca_secret_name": self.ca_secret_name,
                "tls_secret_name": self.tls_secret_name,
                "docker_login": self.docker_login,
                "docker_daemon_json": self.docker_daemon_json,
            }
        )

    def _addon(self, name: str, cfg: RegstackConfig, child: pulumi.ResourceOptions) -> Backend:
        if cfg.gc.enabled:  # the default: validation refuses only a `gc` section asked for
            pulumi.log.warn(
                "the MicroK8s addon's registry gets no garbage collection from regstack: run "
                "`registry garbage-collect` in its pod by hand as the chapter does, or take its "
                "images over with backend: distribution (docs/guides/lab.md: Taking over the addon's images); "
                "set gc.enabled: false to say you know",
                resource=self,
            )
        addon = MicroK8sRegistryAddon(
            f"{name}-addon",
            MicroK8sRegistryAddonArgs(
                size=cfg.registry.storage.size,
                storage_class=cfg.registry.storage.storage_class,
                node=cfg.microk8s,
                private_key=secret(cfg.microk8s.private_key),
                protect=cfg.profile == "prod",
            ),
            opts=child,
        )
        return Backend(addon.endpoint, addon.in_cluster_endpoint)

    def _namespace(
        self,
        name: str,
        cfg: RegstackConfig,
        child: pulumi.ResourceOptions,
        create_only: pulumi.ProviderResource | None,
        enforce: str,
    ) -> pulumi.Output[str]:
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
            opts=created_here(f"{name}-namespace", child, create_only, what_to_do, keep=True),
        ).metadata.name

    def _certificate(
        self,
        name: str,
        cfg: RegstackConfig,
        addresses: RegistryAddresses,
        namespace: pulumi.Output[str],
        child: pulumi.ResourceOptions,
    ) -> RegistryCertificate:
        return RegistryCertificate(
            f"{name}-certificate",
            RegistryCertificateArgs(
                namespace=namespace,
                tls=cfg.tls,
                dns_names=addresses.certificate_dns_names,
                ip_addresses=addresses.certificate_ip_addresses,
                read_ca=bool(cfg.node_trust.nodes),
            ),
            opts=child,
        )

    def _distribution(
        self,
        name: str,
        cfg: RegstackConfig,
        addresses: RegistryAddresses,
        child: pulumi.ResourceOptions,
    ) -> Backend:
        create_only = create_only_provider(name, self)
        namespace = self._namespace(name, cfg, child, create_only, enforce="restricted")
        stack_key = StackKey(f"{name}-stack-key", opts=child).secret
        registry_args = DistributionRegistryArgs(
            namespace=namespace,
            registry=cfg.registry,
            stack_key=stack_key,
            protect_data=cfg.protect_data,
            skip_await=cfg.skip_await,
            redis_address=self._cache(name, cfg, namespace, stack_key, child),
            secret_env=registry_secret_env(cfg, stack_key),
            scraper=(cfg.monitoring.scraper_namespace, cfg.monitoring.prometheus_pod_labels),
        )
        certificate = None
        if cfg.tls.mode != "none":
            certificate = self._certificate(name, cfg, addresses, namespace, child)
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
            server = self._token_server(
                name, cfg, namespace, stack_key, certificate, pull_identities, child
            )
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
            self._retention(name, cfg, namespace, access, child)
        if cfg.gc.enabled:
            window, pin_node = window_mode(cfg.gc, cfg.registry)
            GarbageCollection(
                f"{name}-gc",
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
                    cache_address=registry_args.redis_address,
                    cache_db=cfg.registry.cache.db,
                    window=window,
                    pin_node=pin_node,
                    protection=access if protects else None,
                ),
                opts=child,
            )
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

    def _token_server(
        self,
        name: str,
        cfg: RegstackConfig,
        namespace: pulumi.Output[str],
        stack_key: pulumi.Output[str],
        certificate: RegistryCertificate,
        pull_identities: dict[str, RegistryUser],
        child: pulumi.ResourceOptions,
    ) -> TokenServer:
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
                ingress_hosts=(
                    [input_of(h) for h in public_hostnames(cfg)] if behind_ingress else []
                ),
                ingress_class_name=registry.ingress.class_name,
                skip_await=cfg.skip_await,
            ),
            opts=child,
        )

    def _cache(
        self,
        name: str,
        cfg: RegstackConfig,
        namespace: pulumi.Output[str],
        stack_key: pulumi.Output[str],
        child: pulumi.ResourceOptions,
    ) -> str | None:
        """The Redis blob-descriptor cache's address, deploying one when asked to."""
        cache = cfg.registry.cache
        if cache.redis == "external":
            return cache.address
        if cache.redis == "none":
            return None
        RedisCache(
            f"{name}-cache",
            RedisCacheArgs(
                namespace=namespace,
                cache=cache,
                password=secret(cache.password),
                clients=[kube.REGISTRY_SELECTOR, kube.app_labels(kube.GC)],
                skip_await=cfg.skip_await,
                placement=cfg.registry.placement,
                stack_key=stack_key,
            ),
            opts=child,
        )
        return cache_address(cfg.registry.namespace)

    def _retention(
        self,
        name: str,
        cfg: RegstackConfig,
        namespace: pulumi.Output[str],
        access: RegistryAccess,
        child: pulumi.ResourceOptions,
    ) -> None:
        RetentionJob(
            f"{name}-retention",
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
            opts=child,
        )

    def _harbor(
        self,
        name: str,
        cfg: RegstackConfig,
        addresses: RegistryAddresses,
        child: pulumi.ResourceOptions,
    ) -> Backend:
        harbor = cfg.harbor
        # Both are required by the config model for the harbor backend.
        assert harbor.admin_password is not None and harbor.secret_seed is not None
        # The chart's containerSecurityContext (non-root, RuntimeDefault seccomp, no capability)
        # and regstack's init container meet `restricted`, as the distribution backend does.
        namespace = self._namespace(
            name, cfg, child, create_only_provider(name, self), enforce="restricted"
        )
        certificate = None
        if cfg.tls.mode != "none":
            certificate = self._certificate(name, cfg, addresses, namespace, child)
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
            opts=child,
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
