"""The `config.yml` that CNCF Distribution reads, rendered from regstack's settings.

Kept apart from the component so tests can start the real registry (3.x built from the Go module
proxy, Debian's 2.8.2 for the 2.x line) with exactly the file the cluster gets. Secrets never go
in this file: Distribution reads them from the environment variables named in
`secret_env_names`, which the pod fills from Kubernetes Secrets.

The file differs per major line, because Distribution ignores keys it does not know instead of
refusing them: 3.x reads Redis addresses only from `redis.addrs` (a `redis.addr` is dropped and the
registry then fails at start with a Redis blob-descriptor cache), and turns OpenTelemetry tracing
on unless OTEL_TRACES_EXPORTER says otherwise. No Redis TLS is rendered, so the 3.1 rename of its
`clientcas` to `rootcas` does not arise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DATA_DIR = "/var/lib/registry"
CONFIG_DIR = "/etc/docker/registry"
TLS_DIR = "/etc/registry/tls"
AUTH_DIR = "/etc/registry/auth"
TOKEN_CA_DIR = "/etc/registry/token-ca"
S3_CA_DIR = "/etc/registry/s3-ca"
S3_CA_FILE = "ca.crt"
HTTP_PORT = 5000
METRICS_PORT = 5001


# Distribution overrides any config key from REGISTRY_<PATH> environment variables.
ENV_S3_ACCESS_KEY = "REGISTRY_STORAGE_S3_ACCESSKEY"
ENV_S3_SECRET_KEY = "REGISTRY_STORAGE_S3_SECRETKEY"
ENV_HTTP_SECRET = "REGISTRY_HTTP_SECRET"
ENV_REDIS_PASSWORD = "REGISTRY_REDIS_PASSWORD"
ENV_PROXY_PASSWORD = "REGISTRY_PROXY_PASSWORD"


_RELEASE = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+_].*)?$")


def release(tag: str) -> tuple[int, ...] | None:
    """The release numbers an image tag names: `3.1.2` -> (3, 1, 2), `2.8` -> (2, 8),
    `3.1.2-alpine` -> (3, 1, 2); None for a tag that names no release."""
    match = _RELEASE.match(tag)
    return None if match is None else tuple(int(n) for n in match.groups() if n is not None)


@dataclass(frozen=True)
class S3Settings:
    """The `s3` storage driver, without its keys (they come from ENV_S3_*)."""

    bucket: str
    region: str = "us-east-1"
    endpoint: str | None = None
    """`regionendpoint` for S3-compatible servers; None means AWS itself."""
    secure: bool = True
    """`secure`: talk HTTPS to the endpoint."""
    tls_verify: bool = True
    path_style: bool = True
    root_directory: str | None = None
    static_keys: bool = True
    """Keys come from ENV_S3_*; False: from the pod's cloud identity (e.g. IAM roles)."""
    custom_ca: bool = False
    """Trust the CA certificate in `RenderSettings.s3_ca_dir` for the endpoint (`plain_env`)."""
    redirect: bool = False
    """`storage.redirect`: answer blob GETs with a 307 to a presigned URL on the endpoint
    instead of the bytes. Only when every client can reach the endpoint (AWS S3 itself): an
    in-cluster S3 server's address means nothing to a client outside the cluster."""


@dataclass(frozen=True)
class RedisSettings:
    """The Redis blob-descriptor cache, without its password (ENV_REDIS_PASSWORD)."""

    address: str
    db: int = 0
    password: bool = False
    """Whether a password is set (then the pod passes ENV_REDIS_PASSWORD)."""


@dataclass(frozen=True)
class ProxySettings:
    """Pull-through cache of `remote_url`, without its password (ENV_PROXY_PASSWORD)."""

    remote_url: str
    username: str | None = None


@dataclass(frozen=True)
class TokenAuthSettings:
    """`auth.token`: the registry trusts tokens a token server (components/token_server.py)
    signs, instead of checking passwords itself; the tokens carry each identity's rights."""

    realm: str
    """The token server's URL as clients reach it (the registry sends them there)."""
    service: str
    """The `aud` the tokens must carry; clients echo it to the token server."""
    issuer: str
    """The `iss` the tokens must carry (the token server's `token.issuer`)."""


@dataclass(frozen=True)
class RenderSettings:
    line: int = 3
    """Major version of the Distribution that reads the file: 2 or 3."""
    delete_enabled: bool = True
    tls: bool = False
    auth_realm: str | None = None
    """Basic-auth realm; None turns authentication off (unless `token` is set)."""
    token: TokenAuthSettings | None = None
    """Token authentication instead of htpasswd; the signing certificate is read from
    `token_ca_dir/tls.crt`."""
    token_ca_dir: str = TOKEN_CA_DIR
    data_dir: str = DATA_DIR
    tls_dir: str = TLS_DIR
    auth_dir: str = AUTH_DIR
    s3_ca_dir: str = S3_CA_DIR
    http_addr: str = f":{HTTP_PORT}"
    metrics_addr: str = f":{METRICS_PORT}"
    s3: S3Settings | None = None
    """Object storage instead of `data_dir`."""
    redis: RedisSettings | None = None
    shared_secret: bool = False
    """Replicas share `http.secret` (ENV_HTTP_SECRET), so an upload may move between them."""
    proxy: ProxySettings | None = None
    """Mirror another registry; Distribution then refuses pushes and deletes."""


def secret_env_names(settings: RenderSettings) -> list[str]:
    """The environment variables the registry process must get from Secrets."""
    names = (
        [ENV_S3_ACCESS_KEY, ENV_S3_SECRET_KEY] if settings.s3 and settings.s3.static_keys else []
    )
    names += [ENV_HTTP_SECRET] if settings.shared_secret else []
    names += [ENV_REDIS_PASSWORD] if settings.redis and settings.redis.password else []
    names += [ENV_PROXY_PASSWORD] if settings.proxy and settings.proxy.username else []
    return names


def plain_env(settings: RenderSettings) -> dict[str, str]:
    """The non-secret environment variables the registry process (and GC) needs besides config.yml.

    A custom CA for the S3 endpoint goes through Go's SSL_CERT_DIR: Distribution's S3 driver
    panics on AWS_CA_BUNDLE ("HTTPClient's transport unsupported type": it wraps the HTTP
    transport), and SSL_CERT_DIR only replaces the certificate directories, so the image's
    own CA bundle file stays trusted for everything else.
    """
    env = {"SSL_CERT_DIR": settings.s3_ca_dir} if settings.s3 and settings.s3.custom_ca else {}
    if settings.line >= 3:
        # 3.x exports spans to an OTLP collector on localhost:4318 by default and logs an error
        # for every batch it cannot send; regstack deploys no collector.
        env["OTEL_TRACES_EXPORTER"] = "none"
    return env


def _s3_driver(s3: S3Settings) -> dict[str, object]:
    driver: dict[str, object] = {
        "bucket": s3.bucket,
        "region": s3.region,
        "secure": s3.secure,
        "skipverify": not s3.tls_verify,
        "v4auth": True,
        # Distribution 2.8 always uses path-style with an endpoint; 3.x reads this key.
        "forcepathstyle": s3.path_style,
    }
    if s3.endpoint is not None:
        driver["regionendpoint"] = s3.endpoint
    if s3.root_directory is not None:
        driver["rootdirectory"] = s3.root_directory
    return driver


def _storage(settings: RenderSettings) -> dict[str, object]:
    storage: dict[str, object] = {
        "delete": {"enabled": settings.delete_enabled},
        "maintenance": {
            "uploadpurging": {"enabled": True, "age": "168h", "interval": "24h", "dryrun": False},
            # Off in the file: GC's read-only window switches it on by environment variable
            # (components/jobs/gc_window.py), so the config and its checksum stay put.
            "readonly": {"enabled": False},
        },
    }
    if settings.s3 is not None:
        storage["s3"] = _s3_driver(settings.s3)
        # Distribution redirects by default whenever the driver can presign URLs.
        storage["redirect"] = {"disable": not settings.s3.redirect}
    else:
        storage["filesystem"] = {"rootdirectory": settings.data_dir}
    # Only a shared cache: an in-memory one per replica could keep serving blobs that garbage
    # collection removed. The GC procedure flushes the Redis database for the same reason.
    if settings.redis is not None:
        storage["cache"] = {"blobdescriptor": "redis"}
    return storage


def registry_config(settings: RenderSettings) -> dict[str, object]:
    """Distribution's configuration as a mapping (dump it as YAML for `config.yml`)."""
    http: dict[str, object] = {
        "addr": settings.http_addr,
        "headers": {"X-Content-Type-Options": ["nosniff"]},
        # The debug listener carries /metrics on a port of its own, off the client path.
        "debug": {
            "addr": settings.metrics_addr,
            "prometheus": {"enabled": True, "path": "/metrics"},
        },
    }
    if settings.tls:
        http["tls"] = {
            "certificate": f"{settings.tls_dir}/tls.crt",
            "key": f"{settings.tls_dir}/tls.key",
        }
    config: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "json", "fields": {"service": "registry"}},
        "storage": _storage(settings),
        "http": http,
        "health": {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}},
    }
    if settings.redis is not None:
        # 3.x takes a list (standalone, cluster or sentinel) and ignores `addr`.
        address = (
            {"addrs": [settings.redis.address]}
            if settings.line >= 3
            else {"addr": settings.redis.address}
        )
        config["redis"] = {
            **address,
            "db": settings.redis.db,
            "dialtimeout": "2s",
            "readtimeout": "2s",
            "writetimeout": "2s",
        }
    if settings.proxy is not None:
        proxy = {"remoteurl": settings.proxy.remote_url}
        if settings.proxy.username is not None:
            proxy["username"] = settings.proxy.username
        config["proxy"] = proxy
    if settings.token is not None:
        config["auth"] = {
            "token": {
                "realm": settings.token.realm,
                "service": settings.token.service,
                "issuer": settings.token.issuer,
                "rootcertbundle": f"{settings.token_ca_dir}/tls.crt",
            }
        }
    elif settings.auth_realm is not None:
        config["auth"] = {
            "htpasswd": {"realm": settings.auth_realm, "path": f"{settings.auth_dir}/htpasswd"}
        }
    return config
