"""HarborRegistry: Harbor from the goharbor `harbor` Helm chart (`backend: harbor`).

Why `k8s.helm.v4.Chart` and not `k8s.helm.v3.Release`: Chart renders the templates in the
Pulumi Kubernetes provider and registers every object as its own Pulumi resource, so
`pulumi preview` shows which Deployment, Secret or Ingress changes (a Release shows one opaque
values diff), policy packs see every object, and transforms can protect the registry's volume in
production. What it gives up: no Helm release exists, so `helm ls`/`helm rollback` do not see
Harbor, and Helm hooks are not run. The chart's only hook is the optional pre-upgrade migration
job (`enableMigrateHelmHook`, off by default; Harbor core migrates its schema on start), and the
config model refuses turning it on. A local chart path works exactly like a repository, which
the offline end-to-end test relies on.

Chart renders run on every `pulumi up`, so every value the chart would otherwise draw at random
is pinned from `harbor.secret_seed` (see `components.harbor_secrets`); the values as a whole are a
Pulumi secret. The admin password reaches the chart only as the name of a Secret this component
owns (`existingSecretAdminPassword`), never inline. Harbor applies that password on its first
start only: changing `harbor.admin_password` later updates the Secret but not the login; rotate it
in Harbor (UI or `PUT /api/v2.0/users/{id}/password`) and then in config.

The chart's pods are hardened as the rest of regstack (limits, read-only root filesystems, a
NetworkPolicy each): see `components.harbor_hardening`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pulumi
import pulumi_kubernetes as k8s

from . import distribution_config as render
from . import harbor_hardening, kube
from .config import HarborConfig, S3StorageConfig
from .harbor_secrets import REGISTRY_USER, HarborSecrets, harbor_secrets
from .outputs import as_secret, input_of

RELEASE = harbor_hardening.RELEASE
# The nginx Service of clusterIP, nodePort and loadBalancer exposure; pinned (it is the chart's
# default) because in-cluster endpoints are built from it.
SERVICE = "harbor"
# Key names the chart fixes for existing Secrets.
ADMIN_PASSWORD_KEY = "HARBOR_ADMIN_PASSWORD"
DATABASE_PASSWORD_KEY = "password"
REDIS_PASSWORD_KEY = "REDIS_PASSWORD"
_PVC = "kubernetes:core/v1:PersistentVolumeClaim"


@dataclass(frozen=True)
class HarborRegistryArgs:
    namespace: pulumi.Input[str]
    harbor: HarborConfig
    external_url: str
    """`https://host[:port]` clients log in to; Harbor puts it in token realms."""
    admin_password: pulumi.Output[str]
    secret_seed: pulumi.Output[str]
    tls_secret_name: pulumi.Input[str] | None = None
    """The serving certificate's Secret; None serves plain HTTP."""
    database_password: pulumi.Output[str] | None = None
    redis_password: pulumi.Output[str] | None = None
    protect_data: bool = False
    """Protect the chart's volumes from `pulumi destroy` (production profiles)."""
    skip_await: bool = False
    s3: S3StorageConfig | None = None
    """Keep images in this bucket instead of the registry volume."""
    s3_keys: tuple[pulumi.Output[str], pulumi.Output[str]] | None = None
    """Access key id and secret key, when not from the pods' cloud identity."""
    scraper: tuple[str, Mapping[str, str]] = (
        "monitoring",
        {"app.kubernetes.io/name": "prometheus"},
    )
    """Namespace and pod labels of the Prometheus that may reach Harbor's metrics ports."""


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` over `base`, mappings merged key by key (as Helm merges values files)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _volume(size: str, storage_class: str | None) -> dict[str, str]:
    return {"size": size, **({"storageClass": storage_class} if storage_class else {})}


def _expose(harbor: HarborConfig, host: str, tls_secret_name: str | None) -> dict[str, Any]:
    expose = harbor.expose
    tls: dict[str, Any] = {"enabled": tls_secret_name is not None}
    if tls_secret_name is not None:
        tls["certSource"] = expose.tls.cert_source
        if expose.tls.cert_source == "secret":
            tls["secret"] = {"secretName": tls_secret_name}
    values: dict[str, Any] = {"type": expose.type, "tls": tls}
    if expose.type == "ingress":
        annotations = dict(expose.ingress.annotations)
        if tls_secret_name is None:
            # The chart's default annotations redirect to HTTPS, which does not exist here.
            annotations = {
                "ingress.kubernetes.io/ssl-redirect": "false",
                "nginx.ingress.kubernetes.io/ssl-redirect": "false",
                **annotations,
            }
        values["ingress"] = {
            "hosts": {"core": host},
            "annotations": annotations,
            **({"className": expose.ingress.class_name} if expose.ingress.class_name else {}),
        }
    elif expose.type == "nodePort":
        ports = expose.node_ports
        values["nodePort"] = {
            "name": SERVICE,
            "ports": {"http": {"nodePort": ports.http}, "https": {"nodePort": ports.https}},
        }
    else:
        values[expose.type] = {"name": SERVICE}
    return values


def _database(harbor: HarborConfig, secrets: HarborSecrets, credentials: str) -> dict[str, Any]:
    database = harbor.database
    if database.type == "internal":
        return {"type": "internal", "internal": {"password": secrets.database_password}}
    return {
        "type": "external",
        "external": {
            "host": database.host,
            "port": str(database.port),
            "username": database.user,
            "coreDatabase": database.name,
            "existingSecret": credentials,
            "sslmode": database.ssl_mode,
        },
    }


def _redis(harbor: HarborConfig, credentials: str) -> dict[str, Any]:
    redis = harbor.redis
    if redis.type == "internal":
        return {"type": "internal"}
    external: dict[str, Any] = {"addr": f"{redis.host}:{redis.port}", "username": redis.user or ""}
    if redis.password is not None:
        external["existingSecret"] = credentials
    return {"type": "external", "external": external}


def _internal_tls(harbor: HarborConfig) -> dict[str, Any]:
    internal = harbor.internal_tls
    if not internal.enabled:
        return {"enabled": False}
    names = internal.secret_names.model_dump(exclude_none=True)
    return {
        "enabled": True,
        "certSource": "secret",
        **{component: {"secretName": name} for component, name in names.items()},
    }


def _image_storage(s3: S3StorageConfig, credentials: str, ca_secret: str | None) -> dict[str, Any]:
    """`persistence.imageChartStorage` for a bucket; keys come from the credentials Secret, the
    endpoint's CA (if any) from a Secret the chart adds to the registry's trust store."""
    driver: dict[str, Any] = {
        "region": s3.region,
        "bucket": s3.bucket,
        "v4auth": True,
        "secure": not (s3.endpoint or "https:").startswith("http:"),
        "skipverify": not s3.tls_verify,
    }
    if s3.endpoint is not None:
        driver["regionendpoint"] = s3.endpoint
    if s3.root_directory is not None:
        driver["rootdirectory"] = s3.root_directory
    if s3.access_key is not None:
        driver["existingSecret"] = credentials
    storage = {"type": "s3", "disableredirect": not s3.redirect, "s3": driver}
    if ca_secret is not None:
        storage["caBundleSecretName"] = ca_secret
    return storage


def harbor_values(
    harbor: HarborConfig,
    *,
    external_url: str,
    tls_secret_name: str | None,
    credentials_secret: str,
    secrets: HarborSecrets,
    s3: S3StorageConfig | None = None,
    s3_ca_secret: str | None = None,
) -> dict[str, Any]:
    """The chart's values: regstack's settings and hardening, then `harbor.extra_values` merged
    over them."""
    host = urlsplit(external_url).hostname or ""
    volumes = harbor.persistence
    values: dict[str, Any] = {
        "expose": _expose(harbor, host, tls_secret_name),
        "externalURL": external_url,
        "existingSecretAdminPassword": credentials_secret,
        "existingSecretAdminPasswordKey": ADMIN_PASSWORD_KEY,
        "secretKey": secrets.secret_key,
        "core": {
            "secret": secrets.core_secret,
            "xsrfKey": secrets.xsrf_key,
            "tokenKey": secrets.token_key,
            "tokenCert": secrets.token_cert,
        },
        "jobservice": {"secret": secrets.jobservice_secret},
        "registry": {
            "secret": secrets.registry_http_secret,
            "credentials": {
                "username": REGISTRY_USER,
                "password": secrets.registry_password,
                "htpasswdString": secrets.registry_htpasswd,
            },
        },
        "database": _database(harbor, secrets, credentials_secret),
        "redis": _redis(harbor, credentials_secret),
        "persistence": {
            "enabled": True,
            # Helm semantics for "do not delete the PVCs with the release"; see _keep_volumes too.
            "resourcePolicy": "keep",
            "persistentVolumeClaim": {
                "registry": _volume(volumes.registry.size, volumes.registry.storage_class),
                "jobservice": {
                    "jobLog": _volume(volumes.jobservice.size, volumes.jobservice.storage_class)
                },
                "database": _volume(volumes.database.size, volumes.database.storage_class),
                "redis": _volume(volumes.redis.size, volumes.redis.storage_class),
                "trivy": _volume(volumes.trivy.size, volumes.trivy.storage_class),
            },
        },
        "trivy": {"enabled": harbor.trivy},
        "metrics": {
            "enabled": harbor.metrics.enabled,
            "serviceMonitor": {"enabled": harbor.metrics.service_monitor},
        },
        "internalTLS": _internal_tls(harbor),
    }
    if s3 is not None:
        values["persistence"]["imageChartStorage"] = _image_storage(
            s3, credentials_secret, s3_ca_secret
        )
    hardened = deep_merge(harbor_hardening.hardening_values(), values)
    return deep_merge(hardened, harbor.extra_values)


def chart_source(harbor: HarborConfig) -> dict[str, Any]:
    """`chart`, `version` and `repository_opts` for a repository, an oci:// reference or a path."""
    source = harbor.chart
    if source.path is not None:
        return {"chart": source.path}
    if source.repo.startswith("oci://"):
        return {"chart": f"{source.repo}/{source.name}", "version": source.version}
    return {
        "chart": source.name,
        "version": source.version,
        "repository_opts": k8s.helm.v4.RepositoryOptsArgs(repo=source.repo),
    }


def _keep_volumes(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Registry data cannot be recreated from code: protect the chart's claims, keep on delete."""
    if args.type_ != _PVC:
        return None
    keep = pulumi.ResourceOptions(protect=True, retain_on_delete=True)
    return pulumi.ResourceTransformResult(
        props=args.props, opts=pulumi.ResourceOptions.merge(args.opts, keep)
    )


class HarborRegistry(pulumi.ComponentResource):
    """The credentials Secret Harbor reads and the chart, with every generated secret pinned."""

    external_url: pulumi.Output[str]
    credentials_secret_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: HarborRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("regstack:index:HarborRegistry", name, None, opts)

        credentials: dict[str, pulumi.Input[str]] = {ADMIN_PASSWORD_KEY: args.admin_password}
        if args.database_password is not None:
            credentials[DATABASE_PASSWORD_KEY] = args.database_password
        if args.redis_password is not None:
            credentials[REDIS_PASSWORD_KEY] = args.redis_password
        if args.s3_keys is not None:
            # The names the chart's registry reads from `imageChartStorage.s3.existingSecret`.
            credentials[render.ENV_S3_ACCESS_KEY], credentials[render.ENV_S3_SECRET_KEY] = (
                args.s3_keys
            )
        secret = self._secret(f"{name}-credentials", args.namespace, credentials)
        ca_secret = None
        if args.s3 is not None and args.s3.ca_bundle is not None:
            # The key name the chart's `caBundleSecretName` expects. A CA is public, but Secret
            # data stays secret in state like any other (the secret-values policy).
            ca = {"ca.crt": pulumi.Output.secret(input_of(args.s3.ca_bundle))}
            ca_secret = self._secret(f"{name}-s3-ca", args.namespace, ca).metadata.name

        s3 = args.s3
        values = pulumi.Output.all(
            seed=args.secret_seed,
            tls=args.tls_secret_name,
            credentials=secret.metadata.name,
            s3_ca=ca_secret,
            # Either may be an Output (of the resource that made the bucket).
            bucket=input_of(s3.bucket) if s3 else None,
            endpoint=input_of(s3.endpoint) if s3 else None,
        ).apply(
            lambda resolved: harbor_values(
                args.harbor,
                external_url=args.external_url,
                tls_secret_name=resolved["tls"],
                credentials_secret=resolved["credentials"],
                secrets=harbor_secrets(resolved["seed"]),
                s3=s3
                and s3.model_copy(
                    update={"bucket": resolved["bucket"], "endpoint": resolved["endpoint"]}
                ),
                s3_ca_secret=resolved["s3_ca"],
            )
        )
        k8s.helm.v4.Chart(
            f"{name}-chart",
            **chart_source(args.harbor),
            name=RELEASE,
            namespace=args.namespace,
            # Derived secrets sit in the values, so all of them are secret.
            values=as_secret(values),
            skip_await=args.skip_await,
            opts=pulumi.ResourceOptions(
                parent=self,
                transforms=[
                    *([_keep_volumes] if args.protect_data else []),
                    harbor_hardening.harden_workload,
                ],
            ),
        )
        for component, spec in harbor_hardening.network_policies(args.harbor, args.scraper).items():
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{component}-network-policy",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"{RELEASE}-{component}", namespace=args.namespace, labels=kube.MANAGED_BY
                ),
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.external_url = pulumi.Output.from_input(args.external_url)
        self.credentials_secret_name = secret.metadata.name
        self.register_outputs(
            {
                "external_url": self.external_url,
                "credentials_secret_name": self.credentials_secret_name,
            }
        )

    def _secret(
        self, name: str, namespace: pulumi.Input[str], data: Mapping[str, pulumi.Input[str]]
    ) -> k8s.core.v1.Secret:
        return k8s.core.v1.Secret(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=name, namespace=namespace, labels=kube.MANAGED_BY
            ),
            type="Opaque",
            string_data=data,
            opts=pulumi.ResourceOptions(parent=self),
        )
