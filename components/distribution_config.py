"""The `config.yml` that CNCF Distribution reads, rendered from regstack's settings.

Kept apart from the component so tests can start Debian's `docker-registry` with exactly the
file the cluster gets.
"""

from __future__ import annotations

from dataclasses import dataclass

DATA_DIR = "/var/lib/registry"
CONFIG_DIR = "/etc/docker/registry"
TLS_DIR = "/etc/registry/tls"
AUTH_DIR = "/etc/registry/auth"
HTTP_PORT = 5000
METRICS_PORT = 5001


@dataclass(frozen=True)
class RenderSettings:
    delete_enabled: bool = True
    tls: bool = False
    auth_realm: str | None = None
    """Basic-auth realm; None turns authentication off."""
    data_dir: str = DATA_DIR
    tls_dir: str = TLS_DIR
    auth_dir: str = AUTH_DIR
    http_addr: str = f":{HTTP_PORT}"
    metrics_addr: str = f":{METRICS_PORT}"
    readonly: bool = False
    """`maintenance.readonly`: refuse pushes, e.g. while garbage collection runs."""


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
        # No `storage.cache`: an in-memory blob descriptor cache could serve blobs that
        # garbage collection has just removed.
        "storage": {
            "filesystem": {"rootdirectory": settings.data_dir},
            "delete": {"enabled": settings.delete_enabled},
            "maintenance": {
                "uploadpurging": {"enabled": True, "age": "168h", "interval": "24h",
                                  "dryrun": False},
                "readonly": {"enabled": settings.readonly},
            },
        },
        "http": http,
        "health": {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}},
    }  # fmt: skip
    if settings.auth_realm is not None:
        config["auth"] = {
            "htpasswd": {"realm": settings.auth_realm, "path": f"{settings.auth_dir}/htpasswd"}
        }
    return config
