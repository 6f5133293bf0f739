"""`regstack:registry`: storage (filesystem, existing claim, S3), Service, Ingress, resources,
the Redis cache, the pull-through proxy, placement and autoscaling."""

from __future__ import annotations

import re
import ssl
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr

from .types import (
    CpuQuantity,
    DnsLabel,
    DnsSubdomain,
    Hostname,
    HostPort,
    ImageRepository,
    ImageVersion,
    MayBeOutput,
    MemoryQuantity,
    PrintableSecret,
    Quantity,
    RedisPassword,
    Section,
    endpoint_problem,
    fullmatch,
    grammar,
    is_dns_subdomain,
    matching,
)

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


_ENDPOINT_URL = re.compile(r"https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?/?")


def _check_bucket(text: str) -> str:
    if not fullmatch(_BUCKET, text) or ".." in text:
        raise ValueError(
            f"must be an S3 bucket name: 3-63 lower-case letters, digits, dots and hyphens, got {text!r}"
        )
    return text


def _check_endpoint_url(text: str) -> str:
    if not fullmatch(_ENDPOINT_URL, text):
        raise ValueError(f"must be http(s)://host[:port], got {text!r}")
    authority = text.split("://", 1)[1].rstrip("/")
    problem = endpoint_problem(authority, port_required=False)
    if problem:
        raise ValueError(problem)
    return text.rstrip("/")


def _plain_http_refusal(endpoint: str) -> str | None:
    # Whether the registry speaks TLS to the bucket, and the rules on plain HTTP (the prod
    # profile's, the CA bundle's), are decided before deploying: on an https placeholder.
    if not endpoint.startswith("http:"):
        return None
    return (
        f"{endpoint!r} is plain HTTP, which regstack must know before deploying (the prod "
        "profile's and the CA bundle's rules): give an http endpoint as a plain value"
    )


def is_clean_path(text: str, pattern: str, max_length: int) -> bool:
    """`text` matches `pattern` within `max_length` characters and has no '.' or '..' segment."""
    segments = text.strip("/").split("/")
    return (
        len(text) <= max_length
        and fullmatch(pattern, text)
        and not any(segment in (".", "..") for segment in segments)
    )


def _check_root_directory(text: str) -> str:
    if not is_clean_path(text, r"/?[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*/?", 512):
        raise ValueError(
            f"{text!r} is not a key prefix: '/'-separated names of letters, digits, '.', '_', "
            "'-', without '.' or '..' segments"
        )
    return text


def _check_ca_bundle(text: str) -> str:
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ValueError("must be PEM certificates (-----BEGIN CERTIFICATE----- ...)")
    try:
        ssl.create_default_context(cadata=text)
    except (ssl.SSLError, ValueError) as err:
        raise ValueError(f"is not a readable PEM certificate bundle ({err})") from None
    return text


# What the checks see in place of a CA bundle given as an Output: a certificate that signs
# nothing (its key was thrown away when it was made), which no resource ever holds.
CA_BUNDLE_PLACEHOLDER = """\
-----BEGIN CERTIFICATE-----
MIIBnjCCAUWgAwIBAgIUG43omLxlW2q9R++clKbFUjLE33AwCgYIKoZIzj0EAwIw
JDEiMCAGA1UEAwwZcmVnc3RhY2stY2EtYnVuZGxlLW91dHB1dDAgFw0yNjEyMDYx
NTIxMzJaGA8yMTI2MTExMjE1MjEzMlowJDEiMCAGA1UEAwwZcmVnc3RhY2stY2Et
YnVuZGxlLW91dHB1dDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABBCx97cY8vv6
ymsGderF4P9Q+TtQt0iea1bBnkh30H8qi5KN7ALxmBnfy1nNQw8wHjfoNlMvkQ2P
M3jjAI6d8zWjUzBRMB0GA1UdDgQWBBTNlBNbEtCfq5BVtW2HqeddtJ0EkzAfBgNV
HSMEGDAWgBTNlBNbEtCfq5BVtW2HqeddtJ0EkzAPBgNVHRMBAf8EBTADAQH/MAoG
CCqGSM49BAMCA0cAMEQCIDQevN8LJpcbHDuk4PIenbzHTITlrKkYT9/yuLzJpKP5
AiAa3gf4Ywzemo9Q8Nlyhek8Zm60fNnW5MnsDs11uMYfdg==
-----END CERTIFICATE-----
"""


def _wildcard_refusal(name: str) -> str | None:
    # A wildcard is left out of what needs one host to dial (the token realm, node trust,
    # Harbor's URL): regstack must know which names are wildcards before deploying.
    if not name.startswith("*."):
        return None
    return (
        f"{name!r} is a wildcard, which regstack must know before deploying (a wildcard names "
        "no host to dial): give it as a plain value"
    )


class S3StorageConfig(Section):
    """An S3-compatible bucket (AWS, MinIO, SeaweedFS, Ceph RGW...) the registry keeps blobs in."""

    bucket: Annotated[str, AfterValidator(_check_bucket), MayBeOutput("regstack-bucket-output")] = (
        Field(description="Bucket name.")
    )
    region: Annotated[
        str, AfterValidator(grammar(r"[A-Za-z0-9][A-Za-z0-9_.-]*", 64, "a region name"))
    ] = Field("us-east-1", description="Region (any for most servers).")
    endpoint: (
        Annotated[
            str,
            AfterValidator(_check_endpoint_url),
            MayBeOutput("https://regstack-endpoint-output.invalid", refuse=_plain_http_refusal),
        ]
        | None
    ) = Field(None, description="Endpoint URL of an S3-compatible server; AWS when unset.")
    path_style: bool = Field(
        True,
        description="Path-style URLs (bucket in the path), as most S3-compatible servers need.",
    )
    tls_verify: bool = Field(True, description="Verify the endpoint's TLS certificate.")
    ca_bundle: (
        Annotated[
            str,
            AfterValidator(_check_ca_bundle),
            MayBeOutput(CA_BUNDLE_PLACEHOLDER, secret_ok=True),
        ]
        | None
    ) = Field(
        None,
        description="PEM CA certificate(s) that sign the endpoint's certificate (e.g. a lab "
        "MinIO's own CA), trusted besides the image's CAs.",
    )
    root_directory: Annotated[str, AfterValidator(_check_root_directory)] | None = Field(
        None, description="Key prefix inside the bucket (share a bucket between registries)."
    )
    redirect: bool = Field(
        False, description="Redirect blob downloads to presigned S3 URLs (clients must reach S3)."
    )
    access_key: SecretStr | None = Field(
        None, description="Access key id (secret config); unset to use the pod's cloud identity."
    )
    secret_key: SecretStr | None = Field(None, description="Secret access key (secret config).")


class StorageConfig(Section):
    """Where the registry keeps blobs: a PersistentVolumeClaim, or an S3 bucket."""

    type: Literal["filesystem", "s3"] = Field(
        "filesystem", description="`filesystem` (a PersistentVolumeClaim) or `s3` (a bucket)."
    )
    s3: S3StorageConfig | None = Field(None, description="The bucket, when type is `s3`.")
    size: Quantity = Field("20Gi", description="Volume size (the MicroK8s addon's default).")
    storage_class: DnsSubdomain | None = Field(
        None, description="StorageClass; cluster default if unset."
    )
    access_mode: Literal["ReadWriteOnce", "ReadWriteMany"] = Field(
        "ReadWriteOnce", description="Volume access mode; ReadWriteMany allows several replicas."
    )
    delete_enabled: bool = Field(
        True, description="`storage.delete.enabled`: lets retention delete manifests by digest."
    )
    existing_claim: DnsLabel | None = Field(
        None,
        description="Mount this PersistentVolumeClaim instead of creating one, e.g. the MicroK8s "
        "addon's `registry-claim` to keep its images. regstack never deletes it, and uses "
        "`namespace` as it is.",
    )


class ServiceConfig(Section):
    """How clients reach the registry."""

    type: Literal["NodePort", "ClusterIP", "LoadBalancer"] = Field(
        "NodePort", description="Service type; NodePort matches the MicroK8s addon."
    )
    node_port: int = Field(
        32000, ge=30000, le=32767, description="Node port when type is NodePort (addon: 32000)."
    )
    port: int = Field(5000, ge=1, le=65535, description="Service port inside the cluster.")


_LABEL_NAME = re.compile(r"([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?")


def _check_label_key(text: str) -> str:
    prefix, _, name = text.rpartition("/")
    prefix_ok = not prefix or is_dns_subdomain(prefix)
    if not (name and fullmatch(_LABEL_NAME, name) and prefix_ok):
        raise ValueError(
            f"{text!r} is not a Kubernetes label key: [prefix/]name, the name 1-63 letters, "
            "digits, '-', '_' or '.', starting and ending with a letter or digit, the prefix a "
            "DNS subdomain"
        )
    return text


_check_label_value = matching(
    _LABEL_NAME,
    "a Kubernetes label value: at most 63 letters, digits, '-', '_' or '.', starting and ending "
    "with a letter or digit",
)


LabelKey = Annotated[str, AfterValidator(_check_label_key)]


LabelValue = Annotated[str, AfterValidator(_check_label_value)]


class IngressConfig(Section):
    """An optional Ingress in front of the registry, with TLS when TLS is on."""

    enabled: bool = Field(False, description="Create an Ingress for `registry.hostnames`.")
    class_name: DnsSubdomain | None = Field(
        None, description="IngressClass name (e.g. nginx, public)."
    )
    annotations: dict[LabelKey, str] = Field(
        default_factory=dict, description="Extra Ingress annotations."
    )


class ResourcesConfig(Section):
    """Container resource requests and limits."""

    cpu_request: CpuQuantity = Field("50m", description="CPU request.")
    memory_request: MemoryQuantity = Field("128Mi", description="Memory request.")
    cpu_limit: CpuQuantity = Field("1", description="CPU limit.")
    memory_limit: MemoryQuantity = Field("512Mi", description="Memory limit.")


class CacheConfig(Section):
    """Redis as the registry's blob-descriptor cache, shared by every replica."""

    redis: Literal["none", "external", "deploy"] = Field(
        "none",
        description="`none`, `external` (an existing Redis at `address`) or `deploy` (a small "
        "Redis owned by the stack, no persistence).",
    )
    address: HostPort | None = Field(None, description="`host:port` of an external Redis.")
    password: RedisPassword | None = Field(None, description="Redis password (secret config).")
    db: int = Field(0, ge=0, le=15, description="Redis database number.")
    image: ImageRepository = Field(
        "docker.io/library/redis", description="Image when `redis: deploy`."
    )
    version: ImageVersion = Field("7.4.2", description="Pinned Redis image tag.")


class ProxyConfig(Section):
    """Pull-through cache: the registry mirrors another one (e.g. Docker Hub) and keeps what it
    serves; it accepts no pushes and no deletes."""

    remote_url: Annotated[str, AfterValidator(_check_endpoint_url)] = Field(
        description="The upstream registry, e.g. https://registry-1.docker.io."
    )
    # Basic credentials: a colon would end the user name early (RFC 7617).
    username: (
        Annotated[
            str,
            AfterValidator(grammar(r"[!-9;-~]+", 255, "printable ASCII without spaces or ':'")),
        ]
        | None
    ) = Field(None, description="Upstream login (token-auth registries such as Docker Hub).")
    password: PrintableSecret | None = Field(None, description="Upstream password (secret config).")


class TolerationConfig(Section):
    """A taint the pods tolerate (Kubernetes `tolerations[]`)."""

    key: LabelKey | None = Field(None, description="Taint key; unset with Exists: every taint.")
    operator: Literal["Equal", "Exists"] = Field("Equal", description="`Equal` or `Exists`.")
    value: LabelValue = Field("", description="Taint value, with `Equal`.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        None, description="Taint effect; every effect when unset."
    )
    toleration_seconds: int | None = Field(
        None, ge=0, description="With NoExecute: how long a pod stays once tainted."
    )


class PlacementConfig(Section):
    """Which nodes regstack's pods (registry, GC, retention, cache) may run on."""

    node_selector: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Node labels the pods require, e.g. a storage node's."
    )
    tolerations: list[TolerationConfig] = Field(
        default_factory=list, description="Taints the pods tolerate, e.g. of dedicated nodes."
    )


class AutoscalingConfig(Section):
    """A HorizontalPodAutoscaler for the registry pods, as the twuni chart's `autoscaling`."""

    enabled: bool = Field(False, description="Let CPU load set the number of registry pods.")
    min_replicas: int = Field(2, ge=1, le=20, description="Fewest registry pods.")
    max_replicas: int = Field(5, ge=1, le=20, description="Most registry pods.")
    target_cpu_percent: int = Field(
        70, ge=1, le=100, description="Average CPU use to keep, in percent of the CPU request."
    )


class RegistryConfig(Section):
    """The registry itself (distribution backend; the addon uses namespace and storage size)."""

    namespace: Annotated[DnsLabel, MayBeOutput("regstack-namespace-output")] = Field(
        "container-registry",
        description="Namespace (the addon's, so clients need no change). regstack creates it "
        "(it must not exist yet) and never deletes it.",
    )
    create_namespace: bool = Field(
        True,
        description="Create `namespace`. false: deploy into one that exists, say a Namespace "
        "your program makes (its name as an Output); regstack then never labels or deletes it, "
        "so its Pod Security level is yours to set.",
    )
    image: ImageRepository = Field(
        "docker.io/library/registry", description="Registry image repository."
    )
    version: ImageVersion = Field(
        "3.1.2",
        description="Pinned image tag; never `latest`. config.yml is rendered for its major line "
        "(2.x or 3.x); 3.0.x is refused.",
    )
    storage: StorageConfig = Field(default_factory=StorageConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    ingress: IngressConfig = Field(default_factory=IngressConfig)
    hostnames: list[
        Annotated[
            Hostname,
            MayBeOutput("regstack-hostname-output.example", refuse=_wildcard_refusal),
        ]
    ] = Field(default_factory=list, description="External host names (Ingress, certificate SANs).")
    replicas: int = Field(1, ge=1, le=20, description="Registry pods, without autoscaling.")
    autoscaling: AutoscalingConfig = Field(default_factory=AutoscalingConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    http_secret: SecretStr | None = Field(
        None,
        description="The registry pods' shared `http.secret` (secret config); derived from the "
        "S3 secret key when unset, else from the stack's random key.",
    )
    cache: CacheConfig = Field(default_factory=CacheConfig)
    placement: PlacementConfig = Field(default_factory=PlacementConfig)
    proxy: ProxyConfig | None = Field(
        None, description="Make this registry a pull-through cache of another one."
    )
    advertise: bool | None = Field(
        None,
        description="Publish the `local-registry-hosting` ConfigMap in kube-public (KEP-1755), as "
        "the MicroK8s addon does, for dev tools to find the registry. Default: on in the dev "
        "profile, off in prod.",
    )

    @property
    def most_pods(self) -> int:
        """How many registry pods may run at once: the fixed count, or the autoscaler's maximum."""
        return self.autoscaling.max_replicas if self.autoscaling.enabled else self.replicas
