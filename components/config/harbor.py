"""`regstack:harbor`: the Harbor chart, how it is exposed, and its databases."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, SecretStr

from components.config.registry import LabelKey
from components.config.types import (
    DnsLabel,
    DnsSubdomain,
    HostOrAddress,
    Quantity,
    Section,
    Token,
    fullmatch,
    grammar,
)

HARBOR_CHART_REPO = "https://helm.goharbor.io"


# Chart 1.19.2 ships Harbor 2.15.2: the release the end-to-end tests deploy (the chart and
# Harbor's source at that tag are in ../shared/vendor/); `harbor.chart.version` moves it.
HARBOR_CHART_VERSION = "1.19.2"


_CHART_VERSION = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")


def _check_chart_version(text: str) -> str:
    if len(text) > 128 or not fullmatch(_CHART_VERSION, text):
        raise ValueError(
            f"{text!r} is not a pinned chart version: give an exact semantic version such as "
            f"{HARBOR_CHART_VERSION} (ranges and 'latest' would change under you)"
        )
    return text


def _check_chart_repo(text: str) -> str:
    if len(text) > 2048 or not fullmatch(r"(?:https?|oci)://[!-~]+", text):
        raise ValueError(
            f"{text!r} is not a chart repository: use an https:// Helm repository URL or an "
            "oci:// registry reference"
        )
    return text.rstrip("/")


ChartVersion = Annotated[str, AfterValidator(_check_chart_version)]


ChartRepo = Annotated[str, AfterValidator(_check_chart_repo)]


NodePort = Annotated[int, Field(ge=30000, le=32767)]


class HarborChartConfig(Section):
    """Where the goharbor `harbor` chart comes from."""

    repo: ChartRepo = Field(
        HARBOR_CHART_REPO, description="Helm repository URL, or an oci:// registry holding it."
    )
    name: Annotated[
        str, AfterValidator(grammar(r"[A-Za-z0-9][A-Za-z0-9_.-]*", 128, "a chart name"))
    ] = Field("harbor", description="Chart name in the repository.")
    version: ChartVersion = Field(HARBOR_CHART_VERSION, description="Pinned chart version.")
    path: (
        Annotated[str, AfterValidator(grammar(r"[ -~]+", 4096, "a path of printable ASCII"))] | None
    ) = Field(None, description="A local chart directory or .tgz; replaces repo, name and version.")


class HarborIngressConfig(Section):
    """The chart's Ingress (expose.type ingress)."""

    class_name: DnsSubdomain | None = Field(
        None, description="IngressClass name (e.g. nginx, public)."
    )
    annotations: dict[LabelKey, str] = Field(
        default_factory=dict, description="Extra Ingress annotations."
    )


class HarborNodePorts(Section):
    """Node ports of the chart's nginx Service (expose.type nodePort); the chart's defaults."""

    http: NodePort = Field(30002, description="Node port for HTTP.")
    https: NodePort = Field(30003, description="Node port for HTTPS.")


class HarborExposeTlsConfig(Section):
    """Which certificate the exposed endpoint serves when `tls.mode` is not `none`."""

    cert_source: Literal["secret", "none"] = Field(
        "secret",
        description="`secret`: the regstack certificate; `none`: the ingress controller's default "
        "certificate (Ingress only).",
    )


class HarborExposeConfig(Section):
    """How clients reach Harbor."""

    type: Literal["ingress", "clusterIP", "nodePort", "loadBalancer"] = Field(
        "ingress", description="The chart's expose.type."
    )
    tls: HarborExposeTlsConfig = Field(default_factory=HarborExposeTlsConfig)
    ingress: HarborIngressConfig = Field(default_factory=HarborIngressConfig)
    node_ports: HarborNodePorts = Field(default_factory=HarborNodePorts)


class HarborVolumeConfig(Section):
    """One PersistentVolumeClaim of the chart."""

    size: Quantity = Field(description="Volume size.")
    storage_class: DnsSubdomain | None = Field(
        None, description="StorageClass; cluster default if unset."
    )


def _volume(size: str) -> Any:
    return Field(default_factory=lambda: HarborVolumeConfig(size=size))


class HarborPersistenceConfig(Section):
    """Volume per component; sizes are the chart's defaults except the registry's (regstack's)."""

    registry: HarborVolumeConfig = _volume("20Gi")
    jobservice: HarborVolumeConfig = _volume("1Gi")
    database: HarborVolumeConfig = _volume("1Gi")
    redis: HarborVolumeConfig = _volume("1Gi")
    trivy: HarborVolumeConfig = _volume("5Gi")


class HarborMetricsConfig(Section):
    """Prometheus metrics of Harbor's components."""

    enabled: bool = Field(False, description="Expose /metrics on every component.")
    service_monitor: bool = Field(
        False, description="Create the chart's ServiceMonitor (needs the Prometheus Operator)."
    )


class HarborInternalTlsSecrets(Section):
    """Existing `kubernetes.io/tls` Secrets (with `ca.crt`) per component."""

    core: DnsLabel | None = Field(None, description="TLS Secret for Harbor core.")
    jobservice: DnsLabel | None = Field(None, description="TLS Secret for Harbor jobservice.")
    registry: DnsLabel | None = Field(None, description="TLS Secret for Harbor registry.")
    portal: DnsLabel | None = Field(None, description="TLS Secret for Harbor portal.")
    trivy: DnsLabel | None = Field(None, description="TLS Secret for Harbor trivy.")


class HarborInternalTlsConfig(Section):
    """TLS between Harbor's components, from Secrets you provide.

    The chart's `auto` source draws new certificates on every render, so it is not offered.
    """

    enabled: bool = Field(False, description="Encrypt traffic between Harbor's components.")
    secret_names: HarborInternalTlsSecrets = Field(default_factory=HarborInternalTlsSecrets)


# Unquoted PostgreSQL identifiers: Harbor puts them into connection settings as they are.
PgName = Annotated[str, AfterValidator(grammar(r"[A-Za-z_][A-Za-z0-9_]*", 63, "a PostgreSQL name"))]


class HarborDatabaseConfig(Section):
    """Harbor's PostgreSQL: the chart's own, or an external one."""

    type: Literal["internal", "external"] = Field("internal", description="Which database.")
    host: HostOrAddress | None = Field(None, description="External PostgreSQL host.")
    port: int = Field(5432, ge=1, le=65535, description="External PostgreSQL port.")
    user: PgName = Field("harbor", description="External PostgreSQL user.")
    password: SecretStr | None = Field(None, description="External PostgreSQL password (secret).")
    name: PgName = Field("registry", description="Database Harbor core uses.")
    ssl_mode: Literal["disable", "require", "verify-ca", "verify-full"] = Field(
        "require", description="libpq sslmode for the external database."
    )


class HarborRedisConfig(Section):
    """Harbor's Redis: the chart's own, or an external one."""

    type: Literal["internal", "external"] = Field("internal", description="Which Redis.")
    host: HostOrAddress | None = Field(None, description="External Redis host.")
    port: int = Field(6379, ge=1, le=65535, description="External Redis port.")
    user: Token | None = Field(None, description="External Redis ACL user; the default if unset.")
    password: SecretStr | None = Field(None, description="External Redis password (secret).")


# A `secure:` value read from a stack file without its secrets provider (components/stack_config):
# only its presence can be checked.
SECRET_PLACEHOLDER = "[secret]"


# A `secure:` value that is no ciphertext at all (`v1:PLACEHOLDER`): nothing was ever encrypted.
SECRET_UNSET = "[not-encrypted]"


def _check_seed(secret: SecretStr) -> SecretStr:
    value = secret.get_secret_value()
    if value not in (SECRET_PLACEHOLDER, SECRET_UNSET) and len(value) < 32:
        raise ValueError(
            "must be at least 32 characters; generate one with: openssl rand -base64 32"
        )
    return secret


class HarborConfig(Section):
    """The harbor backend: the goharbor chart, its secrets pinned from secret config."""

    chart: HarborChartConfig = Field(default_factory=HarborChartConfig)
    admin_password: SecretStr | None = Field(
        None,
        description="Initial admin password; `pulumi config set --secret --path "
        "harbor.admin_password`. Harbor reads it on first start only.",
    )
    secret_seed: Annotated[SecretStr, AfterValidator(_check_seed)] | None = Field(
        None,
        description="At least 32 random characters every internal Harbor secret is derived "
        "from; never change it once Harbor has run.",
    )
    expose: HarborExposeConfig = Field(default_factory=HarborExposeConfig)
    persistence: HarborPersistenceConfig = Field(default_factory=HarborPersistenceConfig)
    trivy: bool = Field(True, description="Run the Trivy vulnerability scanner.")
    metrics: HarborMetricsConfig = Field(default_factory=HarborMetricsConfig)
    internal_tls: HarborInternalTlsConfig = Field(default_factory=HarborInternalTlsConfig)
    database: HarborDatabaseConfig = Field(default_factory=HarborDatabaseConfig)
    redis: HarborRedisConfig = Field(default_factory=HarborRedisConfig)
    extra_values: dict[str, Any] = Field(
        default_factory=dict,
        description="Chart values deep-merged over regstack's, last; for settings not modelled here.",
    )
