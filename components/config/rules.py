"""Cross-field rules: what one section may not say given another, as tables of
(failing, dotted path, message) so every problem is reported at once."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from ..distribution_config import release
from .access import PUBLIC_ACME, TlsConfig
from .deferred import OutputStr
from .errors import REMOVED_KEYS, Problem
from .stack import RegstackConfig
from .types import duration_seconds, resource_quantity

# The addon's own size pattern (addons/registry/enable in canonical/microk8s-core-addons): whole
# Gi, at least 20. It prints a refusal for anything else and still exits 0.
ADDON_SIZE = re.compile(r"(^[2-9][0-9]{1,}|^[1-9][0-9]{2,})(Gi$)")


_ADDON_ALTERNATIVE = (
    "use backend: distribution, a drop-in replacement on the same namespace "
    "(container-registry) and port (32000)"
)


Check = tuple[bool, str, str]


def _failing(*checks: Check) -> list[Problem]:
    """Problems for the checks whose condition holds: (failed, path, message)."""
    return [Problem(path, message) for failed, path, message in checks if failed]


def _addon_problems(cfg: RegstackConfig) -> list[Problem]:
    registry = cfg.registry
    return _failing(
        (
            cfg.auth.enabled,
            "auth.enabled",
            f"the microk8s-addon backend cannot do authentication; {_ADDON_ALTERNATIVE}",
        ),
        (
            cfg.tls.mode != "none",
            "tls.mode",
            f"the microk8s-addon backend cannot serve TLS; {_ADDON_ALTERNATIVE}",
        ),
        (
            not ADDON_SIZE.match(registry.storage.size),
            "registry.storage.size",
            f"the microk8s-addon takes whole Gi of at least 20Gi (e.g. 40Gi), got {registry.storage.size}",
        ),
        (
            registry.replicas != 1,
            "registry.replicas",
            f"the microk8s-addon runs exactly one replica; {_ADDON_ALTERNATIVE}",
        ),
        (
            registry.storage.type != "filesystem",
            "registry.storage.type",
            f"the microk8s-addon stores blobs on its own volume only; {_ADDON_ALTERNATIVE}",
        ),
        (
            registry.service.node_port != 32000 or registry.service.type != "NodePort",
            "registry.service",
            "the microk8s-addon always listens on NodePort 32000; remove these settings or use backend: distribution",
        ),
    )


def _host_key_problems(cfg: RegstackConfig) -> list[Problem]:
    """Prod: every SSH connection checks the node's host key."""
    unchecked = [
        (f"node_trust.nodes[{i}].host_key", node.host_key is None)
        for i, node in enumerate(cfg.node_trust.nodes)
    ]
    if cfg.backend == "microk8s-addon" and cfg.microk8s.host is not None:
        unchecked.append(("microk8s.host_key", cfg.microk8s.host_key is None))
    message = (
        "the prod profile checks each SSH node's host key: set it (`ssh-keyscan -t ed25519 HOST`)"
    )
    return _failing(*((missing, path, message) for path, missing in unchecked))


def _profile_problems(cfg: RegstackConfig) -> list[Problem]:
    if cfg.profile != "prod":
        return []
    if cfg.allow_insecure:
        return _host_key_problems(cfg)
    return _host_key_problems(cfg) + _failing(
        (
            cfg.tls.mode == "none",
            "tls.mode",
            "the prod profile needs TLS: set tls.mode to issuer (or self-signed), or set allow_insecure: true to accept plain HTTP",
        ),
        (
            not cfg.auth.enabled and cfg.backend != "harbor",
            "auth.enabled",
            "the prod profile needs authentication: set auth.enabled: true with at least one user, or set allow_insecure: true",
        ),
    )


def _storage_problems(cfg: RegstackConfig) -> list[Problem]:
    storage = cfg.registry.storage
    s3 = storage.s3
    return _failing(
        (
            storage.type == "s3" and s3 is None,
            "registry.storage.s3",
            "storage type s3 needs the bucket: {bucket: ..., endpoint: https://...}",
        ),
        (
            storage.type != "s3" and s3 is not None,
            "registry.storage.type",
            "an s3 bucket is configured but the type is filesystem; set type: s3 or remove storage.s3",
        ),
        (
            s3 is not None and (s3.access_key is None) != (s3.secret_key is None),
            "registry.storage.s3",
            "set both access_key and secret_key (secret config), or neither to use the pod's cloud identity",
        ),
        (
            s3 is not None
            and cfg.profile == "prod"
            and not cfg.allow_insecure
            and ((s3.endpoint or "https:").startswith("http:") or not s3.tls_verify),
            "registry.storage.s3.endpoint",
            "the prod profile talks to object storage over verified HTTPS; use an https endpoint with "
            "tls_verify: true, or set allow_insecure: true",
        ),
        (
            s3 is not None
            and s3.ca_bundle is not None
            and (s3.endpoint or "https:").startswith("http:"),
            "registry.storage.s3.ca_bundle",
            "a CA bundle is only used with an https endpoint",
        ),
        (
            s3 is not None and s3.ca_bundle is not None and not s3.tls_verify,
            "registry.storage.s3.ca_bundle",
            "a CA bundle is used to verify the endpoint, but tls_verify is false; set tls_verify: true",
        ),
        (
            storage.existing_claim is not None and storage.type == "s3",
            "registry.storage.existing_claim",
            "an existing claim is filesystem storage and the type is s3; remove one of them",
        ),
        (
            storage.existing_claim is not None
            and bool(storage.model_fields_set & {"size", "storage_class"}),
            "registry.storage.existing_claim",
            "the existing claim keeps its own size and StorageClass; remove storage.size and storage.storage_class",
        ),
    )


def _cache_problems(cfg: RegstackConfig) -> list[Problem]:
    cache = cfg.registry.cache
    return _failing(
        (
            cache.redis == "external" and cache.address is None,
            "registry.cache.address",
            "registry.cache.redis external needs the Redis address (host:port)",
        ),
        (
            cache.redis != "external" and cache.address is not None,
            "registry.cache.address",
            f"an address is only used with redis: external (it is {cache.redis}); remove it or change redis",
        ),
        (
            cache.redis == "none" and cache.password is not None,
            "registry.cache.password",
            "a Redis password is set but no Redis cache is configured (registry.cache.redis is none)",
        ),
    )


def _registry_problems(cfg: RegstackConfig) -> list[Problem]:
    registry, autoscaling = cfg.registry, cfg.registry.autoscaling
    shared_volume = registry.storage.type == "s3" or registry.storage.access_mode == "ReadWriteMany"
    pods, path = (
        f"up to {registry.most_pods}" if autoscaling.enabled else str(registry.replicas),
        "registry.autoscaling.max_replicas" if autoscaling.enabled else "registry.replicas",
    )
    several = registry.most_pods > 1
    return (
        _storage_problems(cfg)
        + _cache_problems(cfg)
        + _failing(
            (
                several and not shared_volume,
                path,
                f"{pods} replicas cannot share a ReadWriteOnce volume (only one node can mount it); "
                "use storage.type: s3 (or storage.access_mode: ReadWriteMany), or 1 replica",
            ),
            (
                autoscaling.enabled and "replicas" in registry.model_fields_set,
                "registry.replicas",
                "the autoscaler sets the number of pods; remove registry.replicas and set "
                "registry.autoscaling.min_replicas instead",
            ),
            (
                autoscaling.enabled and autoscaling.min_replicas > autoscaling.max_replicas,
                "registry.autoscaling.min_replicas",
                f"must not exceed max_replicas ({autoscaling.max_replicas}), got {autoscaling.min_replicas}",
            ),
            (
                registry.ingress.enabled and not registry.hostnames,
                "registry.hostnames",
                "an Ingress needs at least one host name; list them here or set registry.ingress.enabled: false",
            ),
        )
    )


def _placement_problems(cfg: RegstackConfig) -> list[Problem]:
    path = "registry.placement.tolerations"
    return _failing(
        *[
            check
            for index, t in enumerate(cfg.registry.placement.tolerations)
            for check in (
                (
                    t.operator == "Exists" and t.value != "",
                    f"{path}[{index}].value",
                    "operator Exists matches any value; remove the value or use operator: Equal",
                ),
                (
                    t.operator == "Equal" and t.key is None,
                    f"{path}[{index}].key",
                    "operator Equal needs the taint key (or use operator: Exists to tolerate every taint)",
                ),
                (
                    t.toleration_seconds is not None and t.effect != "NoExecute",
                    f"{path}[{index}].toleration_seconds",
                    "toleration_seconds only applies to effect NoExecute",
                ),
            )
        ]
    )


def _proxy_problems(cfg: RegstackConfig) -> list[Problem]:
    proxy = cfg.registry.proxy
    if proxy is None:
        return []
    return _failing(
        (
            (proxy.username is None) != (proxy.password is None),
            "registry.proxy",
            "set both username and password (secret config), or neither for anonymous pulls",
        ),
        (
            cfg.retention.enabled,
            "retention.enabled",
            "a pull-through cache refuses deletes through its API; what it caches expires by itself "
            "(after 7 days in Distribution 2.8), so turn retention off",
        ),
        (
            cfg.profile == "prod"
            and not cfg.allow_insecure
            and proxy.remote_url.startswith("http:"),
            "registry.proxy.remote_url",
            "the prod profile mirrors over HTTPS only; use an https upstream, or set allow_insecure: true",
        ),
    )


def _distribution_only(
    cfg: RegstackConfig, placement_hint: str, proxy_hint: str, claim_hint: str
) -> list[Problem]:
    """Problems for the registry settings only the distribution backend carries out."""
    placement = cfg.registry.placement
    return _failing(
        (
            bool(placement.node_selector or placement.tolerations),
            "registry.placement",
            f"placement applies to the distribution backend's pods; {placement_hint}",
        ),
        (
            cfg.registry.proxy is not None,
            "registry.proxy",
            f"only the distribution backend runs as a pull-through cache; {proxy_hint}",
        ),
        (
            cfg.registry.storage.existing_claim is not None,
            "registry.storage.existing_claim",
            f"only the distribution backend mounts an existing claim; {claim_hint}",
        ),
        (
            cfg.registry.autoscaling.enabled,
            "registry.autoscaling.enabled",
            "only the distribution backend's pods are autoscaled by regstack",
        ),
        (
            cfg.registry.advertise is True,
            "registry.advertise",
            "regstack publishes local-registry-hosting for the distribution backend only "
            "(the microk8s-addon publishes its own, Harbor none); remove it",
        ),
    )


# Names only a private resolver answers, which a public ACME CA can never validate.
_PRIVATE_SUFFIXES = (".local", ".lan", ".internal", ".home.arpa", ".test", ".localhost", ".invalid")


def public_ca(tls: TlsConfig) -> bool:
    """Whether the issuer looks like a public ACME CA, which certifies public DNS names only."""
    return (
        tls.mode == "issuer"
        and tls.issuer is not None
        and bool(PUBLIC_ACME.search(tls.issuer.name))
    )


def _private(names: Iterable[str]) -> list[str]:
    return [name for name in names if name.endswith(_PRIVATE_SUFFIXES) or "." not in name]


def _public_acme_message(issuer: str, private: list[str]) -> str:
    return (
        f"{issuer!r} looks like a public ACME CA, which only issues for public DNS names and "
        f"never for {', '.join(private)}: use tls.mode self-signed or an issuer of your own CA"
    )


def _tls_problems(cfg: RegstackConfig) -> list[Problem]:
    tls = cfg.tls
    issuer = tls.issuer.name if tls.mode == "issuer" and tls.issuer else ""
    private = _private([*cfg.registry.hostnames, *tls.dns_names])
    return _failing(
        # A public CA certifies public names only: the in-cluster Service names and localhost
        # that RegistryPlatform adds for the lab CA are left out of its certificate.
        (
            bool(PUBLIC_ACME.search(issuer)) and not (cfg.registry.hostnames or tls.dns_names),
            "registry.hostnames",
            f"{issuer!r} looks like a public ACME CA, which certifies public DNS names only: list "
            "the names clients use here (or in tls.dns_names)",
        ),
        (
            bool(PUBLIC_ACME.search(issuer)) and bool(private),
            "tls.issuer.name",
            _public_acme_message(issuer, private),
        ),
        (
            tls.mode == "issuer" and tls.issuer is None,
            "tls.issuer",
            "tls.mode issuer needs an issuer: {name: ..., kind: ClusterIssuer or Issuer}",
        ),
        (
            tls.mode != "issuer" and tls.issuer is not None,
            "tls.issuer",
            f"an issuer is only used with tls.mode issuer (mode is {tls.mode}); remove it or change the mode",
        ),
        (
            duration_seconds(tls.renew_before) >= duration_seconds(tls.duration),
            "tls.renew_before",
            f"must be shorter than tls.duration ({tls.duration}), got {tls.renew_before}",
        ),
        # cert-manager's webhook refuses shorter ones.
        (
            duration_seconds(tls.duration) < 3600,
            "tls.duration",
            f"cert-manager needs at least 1h, got {tls.duration}",
        ),
        (
            duration_seconds(tls.renew_before) < 300,
            "tls.renew_before",
            f"cert-manager needs at least 5m, got {tls.renew_before}",
        ),
    )


def _auth_problems(cfg: RegstackConfig) -> list[Problem]:
    auth, pull = cfg.auth, cfg.pull_secrets
    names = [u.name for u in auth.users]
    duplicates = [
        (name in names[:index], f"auth.users[{index}].name", f"user {name!r} is listed twice")
        for index, name in enumerate(names)
    ]
    return _failing(
        # Harbor has its own logins; _harbor_problems refuses auth there.
        (
            bool(auth.users) and not auth.enabled and cfg.backend != "harbor",
            "auth.enabled",
            "users are listed but auth is off, so the registry lets everyone in: set "
            "auth.enabled: true (or remove auth.users)",
        ),
        (
            auth.enabled and not auth.users,
            "auth.users",
            "auth is enabled but no user is listed; add {name: ..., password: <secret>}",
        ),
        *duplicates,
        # Harbor has its own logins; _harbor_problems explains the pull secrets there.
        (
            bool(pull.namespaces) and not auth.enabled and cfg.backend != "harbor",
            "pull_secrets.namespaces",
            "pull secrets carry credentials, so they need auth.enabled: true; without auth, pulls need no secret",
        ),
        (
            pull.user is not None and pull.user not in names,
            "pull_secrets.user",
            f"{pull.user!r} is not one of auth.users ({', '.join(names) or 'none'})",
        ),
    )


# Chart values regstack owns: overriding them through extra_values would put a credential inline
# or bring back a value the chart re-draws at random on every render.
HARBOR_OWNED_VALUES = (
    "persistence.imageChartStorage.s3.accesskey",
    "persistence.imageChartStorage.s3.secretkey",
    "harborAdminPassword",
    "existingSecretAdminPassword",
    "existingSecretAdminPasswordKey",
    "secretKey",
    "core.secret",
    "core.xsrfKey",
    "core.tokenKey",
    "core.tokenCert",
    "jobservice.secret",
    "registry.secret",
    "registry.credentials",
    "database.internal.password",
    "database.external.password",
    "redis.external.password",
)


def _has_key(values: Any, key: str) -> bool:
    """Whether `key` names a mapping entry anywhere in `values`."""
    if isinstance(values, dict):
        return key in values or any(_has_key(v, key) for v in values.values())
    return isinstance(values, list) and any(_has_key(v, key) for v in values)


def _has_path(values: dict[str, Any], dotted: str) -> bool:
    current: Any = values
    for key in dotted.split("."):
        if not isinstance(current, dict) or key not in current:
            return False
        current = current[key]
    return True


def _harbor_expose_problems(cfg: RegstackConfig) -> list[Problem]:
    expose, hostnames = cfg.harbor.expose, cfg.registry.hostnames
    return _failing(
        (
            expose.type in ("ingress", "loadBalancer") and not hostnames,
            "registry.hostnames",
            f"harbor.expose.type {expose.type} needs a host name for Harbor's externalURL "
            "(the address docker logs in to); list it here",
        ),
        (
            bool(hostnames) and hostnames[0].startswith("*."),
            "registry.hostnames[0]",
            "the first host name becomes Harbor's externalURL and cannot be a wildcard",
        ),
        (
            expose.type != "ingress" and expose.tls.cert_source == "none",
            "harbor.expose.tls.cert_source",
            "`none` means the ingress controller's default certificate, which only exists with "
            f"harbor.expose.type ingress (type is {expose.type}); use cert_source: secret",
        ),
        (
            expose.type != "ingress" and bool(expose.ingress.model_fields_set),
            "harbor.expose.ingress",
            f"Ingress settings only apply to harbor.expose.type ingress (type is {expose.type}); "
            "remove them or change the type",
        ),
        (
            expose.type != "nodePort" and bool(expose.node_ports.model_fields_set),
            "harbor.expose.node_ports",
            f"node ports only apply to harbor.expose.type nodePort (type is {expose.type}); "
            "remove them or change the type",
        ),
        (
            expose.node_ports.http == expose.node_ports.https,
            "harbor.expose.node_ports.https",
            f"must differ from node_ports.http (both are {expose.node_ports.http})",
        ),
        (
            cfg.registry.ingress.enabled,
            "registry.ingress.enabled",
            "the harbor chart creates its own Ingress: set harbor.expose.type: ingress "
            "(and harbor.expose.ingress) instead",
        ),
    )


def _harbor_problems(cfg: RegstackConfig) -> list[Problem]:
    harbor = cfg.harbor
    external = [
        (
            settings.type == "external" and settings.host is None,
            f"harbor.{kind}.host",
            f"harbor.{kind}.type external needs the host of the external {kind}",
        )
        for kind, settings in (("database", harbor.database), ("redis", harbor.redis))
    ]
    tls_names = harbor.internal_tls.secret_names
    tls_needed = ["core", "jobservice", "registry", "portal"] + (["trivy"] if harbor.trivy else [])
    internal_tls = [
        (
            harbor.internal_tls.enabled and getattr(tls_names, component) is None,
            f"harbor.internal_tls.secret_names.{component}",
            f"internal TLS needs the name of an existing TLS Secret (with ca.crt) for {component}",
        )
        for component in tls_needed
    ]
    owned = [
        (
            _has_path(harbor.extra_values, path),
            f"harbor.extra_values.{path}",
            "regstack sets this value itself (pinned from secret config, never inline); remove it",
        )
        for path in HARBOR_OWNED_VALUES
    ]
    return (
        _harbor_expose_problems(cfg)
        + _storage_problems(cfg)
        + _failing(
            (
                cfg.registry.cache.redis != "none",
                "registry.cache.redis",
                "Harbor's registry uses Harbor's Redis (harbor.redis); remove registry.cache",
            ),
            (
                cfg.registry.http_secret is not None,
                "registry.http_secret",
                "Harbor's registry secret derives from harbor.secret_seed; remove registry.http_secret",
            ),
            (
                harbor.admin_password is None,
                "harbor.admin_password",
                "required by the harbor backend: pulumi config set --secret --path harbor.admin_password",
            ),
            (
                harbor.secret_seed is None,
                "harbor.secret_seed",
                "required by the harbor backend (Harbor's internal secrets derive from it): "
                'pulumi config set --secret --path harbor.secret_seed "$(openssl rand -base64 32)"',
            ),
            (
                cfg.auth.enabled,
                "auth.enabled",
                "Harbor has its own users and logins: set auth.enabled: false and give the "
                "initial admin password as harbor.admin_password",
            ),
            (
                bool(cfg.pull_secrets.namespaces),
                "pull_secrets.namespaces",
                "the harbor backend does not create pull secrets: create a Harbor robot account "
                "and its pull secrets, or remove this list",
            ),
            (
                harbor.chart.path is not None
                and bool(harbor.chart.model_fields_set & {"repo", "name", "version"}),
                "harbor.chart.path",
                "a local chart path replaces repo, name and version; remove those or the path",
            ),
            *external,
            (
                harbor.database.type == "external" and harbor.database.password is None,
                "harbor.database.password",
                "an external database needs a password: pulumi config set --secret --path harbor.database.password",
            ),
            (
                harbor.metrics.service_monitor and not harbor.metrics.enabled,
                "harbor.metrics.service_monitor",
                "a ServiceMonitor scrapes metrics that are off: set harbor.metrics.enabled: true",
            ),
            *internal_tls,
            *owned,
            (
                _has_key(harbor.extra_values, "chartmuseum"),
                "harbor.extra_values",
                f"chartmuseum values do nothing: {REMOVED_KEYS['chartmuseum']}",
            ),
            (
                bool(harbor.extra_values.get("enableMigrateHelmHook")),
                "harbor.extra_values.enableMigrateHelmHook",
                "the chart is rendered by Pulumi, which does not run Helm hooks, so the migration "
                "would silently never run; leave it off (Harbor core migrates on start)",
            ),
        )
    )


def _realm_is_loopback(cfg: RegstackConfig) -> bool:
    """Whether clients reach the token server on the loopback (the NodePort default with no
    host name): nodes can, pods cannot."""
    realm = cfg.auth.token_server.realm
    if realm is None:
        named = [h for h in cfg.registry.hostnames if not h.startswith("*.")]
        return not named
    host = urlsplit(realm).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def _identity_problems(cfg: RegstackConfig) -> list[Problem]:
    """Roles, and the token server that enforces them (`auth.mode: token`)."""
    auth, pull = cfg.auth, cfg.pull_secrets
    token = auth.enabled and auth.mode == "token"
    pull_names = {f"pull-{namespace}" for namespace in pull.namespaces}
    per_user: list[Check] = []
    for index, user in enumerate(auth.users):
        at = f"auth.users[{index}]"
        per_user += [
            (
                token and user.role is None,
                f"{at}.role",
                "with auth.mode: token each user needs a role: push (with repositories), "
                "maintenance or admin",
            ),
            (
                not token and user.role is not None,
                f"{at}.role",
                "htpasswd gives every user every right, so a role would promise what it does not "
                "hold: set auth.mode: token (and auth.enabled: true), or remove the role",
            ),
            (
                user.role == "push" and not user.repositories,
                f"{at}.repositories",
                "a push user needs the repositories it may push to, e.g. ['team/*']",
            ),
            (
                user.role != "push" and bool(user.repositories),
                f"{at}.repositories",
                "only push users are scoped to repositories: remove them, or set role: push",
            ),
            (
                token and user.name in pull_names,
                f"{at}.name",
                f"{user.name!r} is the name of a pull secret namespace's own identity; rename it",
            ),
        ]
    retention_user = next((u for u in auth.users if u.name == cfg.retention.user), None)
    return _failing(
        (
            cfg.profile == "prod"
            and not cfg.allow_insecure
            and cfg.backend == "distribution"
            and auth.enabled
            and auth.mode != "token",
            "auth.mode",
            "the prod profile gives each identity only its rights: set auth.mode: token and a role "
            "per user (with htpasswd every pull secret may push, overwrite tags and delete)",
        ),
        (
            auth.mode == "token" and not auth.enabled and cfg.backend != "harbor",
            "auth.enabled",
            "auth.mode: token needs authentication on: set auth.enabled: true",
        ),
        (
            token and cfg.backend != "distribution",
            "auth.mode",
            "the token server is for backend: distribution (Harbor has its own robot accounts); "
            "remove auth.mode",
        ),
        (
            token and cfg.tls.mode == "none",
            "auth.mode",
            "the token server receives passwords and serves the registry's certificate: set "
            "tls.mode to issuer (or self-signed)",
        ),
        (
            token
            and auth.token_server.realm is None
            and not (cfg.registry.ingress.enabled and cfg.registry.hostnames)
            and cfg.registry.service.type != "NodePort",
            "auth.token_server.realm",
            "clients fetch tokens from the token server: give its URL as they reach it, "
            "e.g. https://auth.example.com/auth (derived only behind the Ingress or a NodePort)",
        ),
        (
            token and cfg.retention.enabled and _realm_is_loopback(cfg),
            "auth.token_server.realm",
            "retention runs in a pod, where localhost is the pod itself, and fetches its tokens "
            "from the realm: set auth.token_server.realm to a name pods resolve too (or "
            "registry.hostnames), or turn retention off",
        ),
        (
            token and cfg.gc.enabled and cfg.gc.delete_untagged and _realm_is_loopback(cfg),
            "auth.token_server.realm",
            "GC keeps the images workloads use by tagging them from its pod, where localhost is the "
            "pod itself, and fetches its tokens from the realm: set auth.token_server.realm to a "
            "name pods resolve too (or registry.hostnames), or set gc.delete_untagged: false",
        ),
        (
            token and pull.user is not None,
            "pull_secrets.user",
            "with auth.mode: token each namespace gets its own pull-only identity "
            "(pull-<namespace>); remove pull_secrets.user",
        ),
        (
            token
            and cfg.retention.enabled
            and cfg.retention.user is None
            and auth.maintainer() is None,
            "retention.user",
            "retention deletes tags: add a user with role: maintenance, and it logs in as that one",
        ),
        (
            token
            and cfg.retention.enabled
            and retention_user is not None
            and retention_user.role not in ("maintenance", "admin"),
            "retention.user",
            "retention lists the catalog and deletes: name a user with role: maintenance",
        ),
        *per_user,
    )


def _retention_problems(cfg: RegstackConfig) -> list[Problem]:
    retention, names = cfg.retention, [u.name for u in cfg.auth.users]
    if not retention.enabled:
        return []
    return _failing(
        (
            not retention.rules,
            "retention.rules",
            "retention is enabled but has no rule: add {repositories: ['**'], keep_last: 10}",
        ),
        (
            cfg.gc.enabled and retention.schedule == cfg.gc.schedule,
            "retention.schedule",
            "must differ from gc.schedule: retention deletes tags first, GC then frees their blobs",
        ),
        (
            retention.user is not None and retention.user not in names,
            "retention.user",
            f"{retention.user!r} is not one of auth.users ({', '.join(names) or 'none'})",
        ),
        (
            cfg.backend == "harbor",
            "retention.enabled",
            "Harbor has its own tag retention (project policies); turn this off for the harbor backend",
        ),
        (
            cfg.backend == "microk8s-addon",
            "retention.enabled",
            "the addon's registry does not enable deletes; use backend: distribution for retention",
        ),
    )


def _node_pull_port(cfg: RegstackConfig) -> int | None:
    """The node port every pull of the registry names, or None when it is not one node port."""
    if cfg.backend == "harbor":
        expose = cfg.harbor.expose
        if expose.type != "nodePort":
            return None
        return expose.node_ports.https if cfg.tls.mode != "none" else expose.node_ports.http
    service = cfg.registry.service
    by_node_port = service.type == "NodePort" and not cfg.registry.ingress.enabled
    # The addon always listens on 32000, the default node_port (_addon_problems insists).
    return service.node_port if cfg.backend == "microk8s-addon" or by_node_port else None


def _split_endpoint(endpoint: str) -> tuple[str, str | None]:
    """`host:port` -> (host, port); an [IPv6] address's colons are inside its brackets."""
    host_end = endpoint.rfind("]") + 1
    host, sep, port = endpoint[host_end:].rpartition(":")
    return (endpoint[:host_end] + host, port) if sep else (endpoint, None)


def _endpoint_problems(cfg: RegstackConfig) -> list[Problem]:
    """A pull of `host:32000/app` makes containerd read certs.d/host:32000 only: an endpoint
    by any other port gets a hosts.toml that no pull of this registry ever reads."""
    port = _node_pull_port(cfg)
    problems = []
    for index, endpoint in enumerate(cfg.node_trust.endpoints if port is not None else []):
        host, given = _split_endpoint(endpoint)
        if given != str(port):
            problems.append(
                Problem(
                    f"node_trust.endpoints[{index}]",
                    f"nodes pull this registry by node port {port}, so containerd reads "
                    f"certs.d/{host}:{port} and never certs.d/{endpoint}: write {host}:{port}",
                )
            )
    return problems


def _node_trust_problems(cfg: RegstackConfig) -> list[Problem]:
    trust = cfg.node_trust
    hosts = [node.host for node in trust.nodes]
    return _endpoint_problems(cfg) + _failing(
        (
            bool(trust.nodes) and trust.private_key is None,
            "node_trust.private_key",
            "nodes are reached over SSH: set the key with `cat ~/.ssh/id_ed25519 | "
            "pulumi config set --secret --path node_trust.private_key`",
        ),
        (
            bool(trust.nodes) and trust.runtime == "docker" and cfg.tls.mode == "none",
            "node_trust.runtime",
            "Docker Engine trusts a plain-HTTP registry only through insecure-registries in "
            "daemon.json, which regstack does not edit on nodes: use tls.mode self-signed, or the "
            "docker_daemon_json_dev_only output by hand",
        ),
        (
            bool(trust.nodes) and cfg.tls.mode == "issuer",
            "node_trust.nodes",
            "with tls.mode issuer the nodes already trust the certificate; node_trust is for plain "
            "HTTP and self-signed lab registries, remove it",
        ),
        *[
            (
                host in hosts[:index],
                f"node_trust.nodes[{index}].host",
                f"node {host!r} is listed twice",
            )
            for index, host in enumerate(hosts)
        ],
    )


# Releases whose S3 driver lists wrongly: tags/list drops one of two tags whose names prefix each
# other (`0.1.2`/`0.1.20`: doWalk skipped by strings.HasPrefix, fixed in 3.1.2 by isSubpath,
# distribution/distribution#4898) and catalog pages skip repositories (handleRepository's
# lessPath, fixed in 3.1.2, #4904). tests/scaleout/test_s3_listing_real.py catches both on 3.1.1. Retention would then delete what it cannot see. A floating
# `3` or `3.1` may still be one of them on a node that pulled it earlier.
_S3_LISTS_WRONGLY = ((3,), (3, 0), (3, 1), (3, 1, 0), (3, 1, 1))


def _version_problems(cfg: RegstackConfig) -> list[Problem]:
    """The Distribution release must be one regstack renders config.yml for, and safe with the
    GC and retention settings (see distribution_config for what differs between the lines)."""
    tag = cfg.registry.version
    numbers = release(tag)
    if numbers is None or numbers[0] not in (2, 3):
        return [
            Problem(
                "registry.version",
                f"regstack renders config.yml for Distribution 2.x or 3.x and cannot tell "
                f"the line from {tag!r}; pin a release tag such as 3.1.2",
            )
        ]
    s3 = cfg.registry.storage.type == "s3"
    return _failing(
        (
            numbers[:2] == (3, 0),
            "registry.version",
            f"Distribution {tag} ignores every REGISTRY_REDIS_* variable (a Redis password would be "
            "lost) and its S3 driver drops tags from tags/list; use 3.1.2",
        ),
        (
            numbers[0] == 2 and cfg.gc.enabled and cfg.gc.delete_untagged,
            "gc.delete_untagged",
            f"Distribution {tag} `garbage-collect --delete-untagged` deletes the platform manifests "
            "(and their layers) of tagged multi-arch images and buildx attestation indexes "
            "(distribution/distribution#3178, fixed in 3.0.0); set gc.delete_untagged: false, "
            "or registry.version: 3.1.2",
        ),
        (
            cfg.retention.enabled and s3 and numbers in _S3_LISTS_WRONGLY,
            "registry.version",
            f"Distribution {tag} on S3 drops tags from tags/list (0.1.2 next to 0.1.20) and "
            "skips repositories in catalog pages, so retention would delete tags it cannot see; "
            "pin 3.1.2, or turn retention off",
        ),
    )


def _resource_problems(cfg: RegstackConfig) -> list[Problem]:
    res = cfg.registry.resources
    return _failing(
        *[
            (
                resource_quantity(request) > resource_quantity(limit),
                f"registry.resources.{kind}_request",
                f"must not exceed {kind}_limit ({limit}), got {request}: Kubernetes refuses the pod",
            )
            for kind, request, limit in (
                ("cpu", res.cpu_request, res.cpu_limit),
                ("memory", res.memory_request, res.memory_limit),
            )
        ]
    )


# The registry.* keys the other backends carry out, or refuse with a reason of their own.
_REGISTRY_KEYS_USED = {
    "microk8s-addon": (
        "storage.size",
        "storage.storage_class",
        "storage.type",
        "storage.s3",
        "service",
        "replicas",
        "placement",
        "proxy",
        "storage.existing_claim",
        "autoscaling",
        "advertise",
    ),
    "harbor": (
        "namespace",
        "create_namespace",
        "hostnames",
        "storage.type",
        "storage.s3",
        "storage.size",
        "service",
        "placement",
        "proxy",
        "storage.existing_claim",
        "autoscaling",
        "advertise",
        "cache",
        "http_secret",
        "ingress",
    ),
}


_REGISTRY_KEYS_HINT = {
    "microk8s-addon": "the microk8s-addon backend enables the addon's own registry (in "
    "container-registry) and ignores this; remove it, or use backend: distribution",
    "harbor": "the harbor backend deploys Harbor's own registry and ignores this; remove it, or "
    "set Harbor's value in harbor.extra_values",
}


def _given_paths(model: BaseModel, prefix: str = "") -> Iterator[str]:
    """The dotted keys a config gives explicitly, down to the leaves."""
    for name in sorted(model.model_fields_set):
        value = getattr(model, name)
        if isinstance(value, BaseModel) and value.model_fields_set:
            yield from _given_paths(value, f"{prefix}{name}.")
        else:
            yield prefix + name


def _ignored_problems(cfg: RegstackConfig) -> list[Problem]:
    """Settings the chosen backend would drop without a word."""
    used = _REGISTRY_KEYS_USED.get(cfg.backend)
    unused = [
        Problem(f"registry.{path}", _REGISTRY_KEYS_HINT[cfg.backend])
        for path in _given_paths(cfg.registry)
        if used is not None and not any(path == key or path.startswith(key + ".") for key in used)
    ]
    return unused + _backend_section_problems(cfg)


def _backend_section_problems(cfg: RegstackConfig) -> list[Problem]:
    service, addon, harbor = (
        cfg.registry.service,
        cfg.backend == "microk8s-addon",
        cfg.backend == "harbor",
    )
    gc_asked = cfg.gc.enabled and "gc" in cfg.model_fields_set
    return _failing(
        (
            "node_port" in service.model_fields_set and service.type != "NodePort" and not addon,
            "registry.service.node_port",
            f"a node port is only used with service type NodePort (type is {service.type}); remove it",
        ),
        (
            addon and gc_asked,
            "gc",
            "regstack runs no garbage collection for the microk8s-addon's registry (the addon's "
            "own deployment); set gc.enabled: false, or use backend: distribution, whose GC "
            "CronJob runs the chapter's garbage-collect",
        ),
        (
            addon and cfg.monitoring.enabled,
            "monitoring.enabled",
            "the microk8s-addon's registry exposes no metrics; set monitoring.enabled: false, or use "
            "backend: distribution",
        ),
        (
            harbor and gc_asked,
            "gc",
            "Harbor schedules its own garbage collection (Administration > Clean Up); set "
            "gc.enabled: false",
        ),
        (
            harbor and cfg.monitoring.enabled,
            "monitoring.enabled",
            "regstack's rules and dashboard read Distribution's metrics; for Harbor use "
            "harbor.metrics.enabled and harbor.metrics.service_monitor",
        ),
        (
            harbor and "size" in cfg.registry.storage.model_fields_set,
            "registry.storage.size",
            "Harbor's registry volume is harbor.persistence.registry.size; move the size there",
        ),
        (
            harbor and bool(service.model_fields_set),
            "registry.service",
            "Harbor is reached through harbor.expose (type, node_ports); remove registry.service",
        ),
    )


def output_problems(cfg: RegstackConfig) -> list[Problem]:
    """What this config cannot build from a value given as an Output (config/deferred.py): the
    backends that still need the value as text (Harbor's values, the addon), refused before
    any resource is registered."""
    s3, hostnames = cfg.registry.storage.s3, cfg.registry.hostnames
    given = {
        "registry.namespace": cfg.registry.namespace,
        "registry.storage.s3.bucket": s3.bucket if s3 else None,
        "registry.storage.s3.endpoint": s3.endpoint if s3 else None,
        "registry.storage.s3.ca_bundle": s3.ca_bundle if s3 else None,
    }
    outputs = [path for path, value in given.items() if isinstance(value, OutputStr)]
    # (The addon refuses every host name: it ignores them.) The token server's URL, unless
    # given, is the first host name that is no wildcard: config.yml and the token server
    # are rendered with it.
    named = [(index, host) for index, host in enumerate(hostnames) if not host.startswith("*.")]
    token = cfg.auth.enabled and cfg.auth.mode == "token"
    realm_from = named[0] if token and cfg.auth.token_server.realm is None and named else None
    # Harbor's externalURL is its in-cluster Service's name when it has no host name and no
    # node port: the URL its nodes and clients are set up with, which must be text.
    named_url = (
        cfg.backend == "harbor"
        and cfg.harbor.expose.type == "clusterIP"
        and not cfg.registry.hostnames
    )
    return _failing(
        *[
            (
                cfg.backend == "microk8s-addon",
                path,
                "is a pulumi Output, which the microk8s-addon backend does not take (it keeps "
                f"its own namespace and storage): give {path} as a plain value",
            )
            for path in outputs
        ],
        (
            "registry.namespace" in outputs and named_url,
            "registry.namespace",
            "is a pulumi Output, but Harbor's URL would be named after it (harbor.expose.type "
            "clusterIP without registry.hostnames), which must be known before deploying: give "
            "registry.namespace as a plain value, or a host name",
        ),
        (
            cfg.backend == "harbor" and bool(hostnames) and isinstance(hostnames[0], OutputStr),
            "registry.hostnames[0]",
            "is a pulumi Output, but the first host name becomes Harbor's externalURL (in its "
            "configuration, the address docker logs in to), which must be known before "
            "deploying: give registry.hostnames[0] as a plain value",
        ),
        (
            realm_from is not None and isinstance(realm_from[1], OutputStr),
            f"registry.hostnames[{realm_from[0] if realm_from else 0}]",
            "is a pulumi Output, but the token server's URL (auth.token_server.realm, unset) "
            "would be made from it before deploying: set auth.token_server.realm, e.g. "
            "https://<this host name>/auth, or give this host name as a plain value",
        ),
    )


def resolved_rules(cfg: RegstackConfig) -> list[tuple[OutputStr, Callable[[str], Problem | None]]]:
    """The cross-field rules that a value given as an Output must meet once it resolves, each
    with that value (config/deferred.py): a host name, with a public ACME CA, must be public."""
    if not public_ca(cfg.tls):
        return []
    assert cfg.tls.issuer is not None  # public_ca says there is one
    issuer = cfg.tls.issuer.name

    def public_only(name: str) -> Problem | None:
        private = _private([name])
        return (
            Problem("tls.issuer.name", _public_acme_message(issuer, private)) if private else None
        )

    return [(host, public_only) for host in cfg.registry.hostnames if isinstance(host, OutputStr)]


def cross_field_problems(cfg: RegstackConfig) -> list[Problem]:
    problems = _profile_problems(cfg) + _tls_problems(cfg) + _auth_problems(cfg)
    problems += _identity_problems(cfg)
    problems += _resource_problems(cfg) + _ignored_problems(cfg)
    problems += _retention_problems(cfg) + _node_trust_problems(cfg)
    if cfg.backend == "microk8s-addon":
        problems += _addon_problems(cfg) + _distribution_only(
            cfg,
            "the microk8s-addon runs on the node it is enabled on",
            "use backend: distribution for a mirror",
            "the addon always creates registry-claim itself; backend: distribution with "
            "existing_claim: registry-claim takes its images over",
        )
    elif cfg.backend == "harbor":
        problems += _harbor_problems(cfg) + _distribution_only(
            cfg,
            "for Harbor set each component's nodeSelector/tolerations in harbor.extra_values",
            "in Harbor, create a proxy cache project instead",
            "for Harbor set persistence.persistentVolumeClaim.registry.existingClaim in "
            "harbor.extra_values",
        )
    else:
        problems += _registry_problems(cfg) + _placement_problems(cfg) + _proxy_problems(cfg)
        problems += _version_problems(cfg)
    return problems
