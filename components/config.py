"""The regstack configuration model: everything a stack can say, validated before anything runs.

Structured config lives under the `regstack` namespace of a stack file (`regstack:registry`,
`regstack:tls`, ...). `load_config` turns the raw mapping into a `RegstackConfig` or raises
`ConfigError` listing every problem as `regstack:<dotted.path>: <what is wrong and what is allowed>`.
"""

from __future__ import annotations

import copy
import difflib
import ipaddress
import re
import ssl
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from components.distribution_config import release
from components.images import ImageReference, InvalidImageReference
from components.retention.policy import PolicyError, parse_policy

# --- value types -------------------------------------------------------------------------------
# Every string is checked in full (`fullmatch`: `$` also matches before a final newline), in
# ASCII (`re.ASCII`: `\d`, `\w` and IGNORECASE otherwise admit other scripts' digits and letters
# such as the dotless i, U+0131) and within a length limit, against the grammar of where it ends up.


def _fullmatch(pattern: str | re.Pattern[str], text: str) -> bool:
    compiled = re.compile(pattern, re.ASCII) if isinstance(pattern, str) else pattern
    return text.isascii() and compiled.fullmatch(text) is not None


def _grammar(pattern: str, max_length: int, what: str) -> Callable[[str], str]:
    """A validator admitting `pattern` (ASCII, in full, at most `max_length` characters)."""
    compiled = re.compile(pattern, re.ASCII)

    def check(text: str) -> str:
        if len(text) > max_length or not _fullmatch(compiled, text):
            raise ValueError(f"{text!r} is not {what} (at most {max_length} characters)")
        return text

    return check


_QUANTITY = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?")
_SUFFIX_BYTES = {
    None: 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}  # fmt: skip


def quantity_bytes(text: str) -> int:
    """Bytes in a Kubernetes storage quantity such as `20Gi` or `500M`."""
    match = _QUANTITY.fullmatch(text) if text.isascii() else None
    if not match:
        raise ValueError(
            f"{text!r} is not a Kubernetes quantity; use a number with an optional suffix "
            "Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024) or k, M, G, T, P, E (powers of 1000), e.g. 20Gi"
        )
    try:
        number = Decimal(match["number"])
    except InvalidOperation as err:  # pragma: no cover - the regex only admits decimals
        raise ValueError(f"{text!r} is not a number") from err
    total = number * _SUFFIX_BYTES[match["suffix"]]
    if total < 1:  # `0.1` is a tenth of a byte: no volume has that size
        raise ValueError(f"{text!r} must be at least one byte")
    return int(total)


def _check_quantity(text: str) -> str:
    quantity_bytes(text)
    return text


# Kubernetes' resource.Quantity grammar (apimachinery), without a sign: a number, then a binary
# or decimal SI suffix or a decimal exponent.
_K8S_QUANTITY = re.compile(
    r"(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]{1,3})?"
)
_SI: dict[str | None, Decimal] = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), None: Decimal(1),
       **{k: Decimal(v) for k, v in _SUFFIX_BYTES.items() if k is not None}}  # fmt: skip


def resource_quantity(text: str) -> Decimal:
    """The value of a Kubernetes resource quantity such as `250m`, `1.5`, `512Mi` or `129e6`."""
    match = _K8S_QUANTITY.fullmatch(text) if text.isascii() and len(text) <= 64 else None
    if match is None:
        raise ValueError(
            f"{text!r} is not a Kubernetes quantity: a number with an optional suffix m (milli), "
            "k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent e3, e.g. 250m, 1.5, 512Mi"
        )
    suffix = match["suffix"]
    scale = (
        _SI[suffix] if suffix is None or suffix[0] not in "eE" else Decimal(10) ** int(suffix[1:])
    )
    value = Decimal(match["number"]) * scale
    if value <= 0:
        raise ValueError(f"{text!r} must be larger than zero")
    return value


def _check_cpu(text: str) -> str:
    resource_quantity(text)
    return text


def _check_memory(text: str) -> str:
    if resource_quantity(text) < 1 or (text[-1] in "num" and not text[-1].isdigit()):
        raise ValueError(f"{text!r} is a fraction of a byte; memory takes Ki, Mi, Gi, e.g. 512Mi")
    return text


_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def _check_dns_label(text: str) -> str:
    if not _fullmatch(_DNS_LABEL, text):
        raise ValueError(
            f"{text!r} is not an RFC 1123 label: 1-63 lowercase letters, digits or '-', "
            "starting and ending with a letter or digit"
        )
    return text


def is_dns_subdomain(text: str) -> bool:
    """Kubernetes' DNS-1123 subdomain: the names of most objects (StorageClass, IngressClass...)."""
    return len(text) <= 253 and all(_fullmatch(_DNS_LABEL, part) for part in text.split("."))


def _check_dns_subdomain(text: str) -> str:
    if not is_dns_subdomain(text):
        raise ValueError(
            f"{text!r} is not a Kubernetes object name (RFC 1123 subdomain): dot-separated "
            "labels of lowercase letters, digits or '-', each starting and ending with a letter "
            "or digit, 253 characters at most"
        )
    return text


def _host_labels_ok(text: str) -> bool:
    labels = text.split(".")
    return len(text) <= 253 and all(_fullmatch(_HOST_LABEL, label) for label in labels)


def _check_hostname(text: str) -> str:
    """RFC 1123 host name; a leading `*.` wildcard is allowed for certificates and ingresses.
    Not an IP address: an Ingress host and a certificate's DNS names must be names."""
    name = text.removeprefix("*.")
    if not _host_labels_ok(name):
        raise ValueError(
            f"{text!r} is not an RFC 1123 host name: dot-separated labels of 1-63 letters, "
            "digits or '-', each starting and ending with a letter or digit, 253 characters at most"
        )
    if name.rsplit(".", 1)[-1].isdigit():
        raise ValueError(
            f"{text!r} is an IP address (or ends in a numeric label); an Ingress host and a "
            "certificate name must be DNS names: list addresses in tls.ip_addresses"
        )
    return text.lower()


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return text.isascii() and "%" not in text


def _check_ip(text: str) -> str:
    if not _is_ip(text):
        raise ValueError(f"{text!r} is not an IPv4 or IPv6 address")
    return str(ipaddress.ip_address(text))


def _check_host_or_address(text: str) -> str:
    """A host to connect to (SSH, a database): a host name or an IPv4/IPv6 address."""
    if not (_is_ip(text) or _host_labels_ok(text)):
        raise ValueError(
            f"{text!r} is neither an RFC 1123 host name (dot-separated labels of letters, digits "
            "or '-') nor an IP address"
        )
    return text


def endpoint_problem(text: str, port_required: bool) -> str | None:
    """Why `text` is not `host[:port]` (a name, an IPv4 address or a bracketed IPv6 one), or None.
    It names a folder under certs.d and goes into URLs, so nothing else may be in it."""
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::([0-9]{1,5}))?", text, re.ASCII)
    rule = "host:port" if port_required else "host or host:port"
    if match is None or not text.isascii():
        return f"must be {rule} (a host name, an IPv4 address or [IPv6]), got {text!r}"
    host, port = match[1], match[2]
    host_ok = _is_ip(host[1:-1]) if host.startswith("[") else _is_ip(host) or _host_labels_ok(host)
    if not host_ok:
        return f"{host!r} is not a host name or IP address"
    if port is None and port_required:
        return f"must be {rule}, got {text!r}"
    if port is not None and not 1 <= int(port) <= 65535:
        return f"port {port} is outside 1-65535"
    return None


def _check_endpoint(text: str) -> str:
    problem = endpoint_problem(text, port_required=False)
    if problem:
        raise ValueError(problem)
    return text


def _check_host_port(text: str) -> str:
    problem = endpoint_problem(text, port_required=True)
    if problem:
        raise ValueError(problem)
    return text


_DURATION = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:h|m|s|ms))+")
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|h|m|s)")
_DURATION_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def duration_seconds(text: str) -> float:
    """Seconds in a Go duration such as `2160h` or `1h30m` (the form cert-manager takes)."""
    if len(text) > 64 or not _fullmatch(_DURATION, text):
        raise ValueError(f"{text!r} is not a duration; use Go duration units h, m, s, e.g. 2160h")
    return sum(float(n) * _DURATION_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))


def _check_duration(text: str) -> str:
    duration_seconds(text)
    return text


# Kubernetes parses schedules with robfig/cron v3's ParseStandard: five fields, day-of-week 0-6,
# month and day names in any case, `?` for "any", `N/step` meaning N-max/step, and the @ macros.
_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}  # fmt: skip
_DAYS = {
    name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}
_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS), ("day of week", 0, 6, _DAYS))  # fmt: skip
_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def _cron_number(text: str, name: str, names: dict[str, int]) -> int:
    if _fullmatch(r"[0-9]{1,2}", text):
        return int(text)
    if text.lower() in names and text.isascii():
        return names[text.lower()]
    allowed = f"a number or a name ({', '.join(n.upper() for n in names)})" if names else "a number"
    raise ValueError(f"{name} {text!r} must be {allowed}")


def _check_cron_field(field: str, name: str, low: int, high: int, names: dict[str, int]) -> None:
    for part in field.split(","):
        value, slash, step = part.partition("/")
        if slash and not (_fullmatch(r"[0-9]{1,2}", step) and int(step) > 0):
            raise ValueError(f"{name} step {step!r} must be a positive number")
        if value == "*" or (value == "?" and name.startswith("day")):
            continue
        bounds = value.split("-")
        if len(bounds) > 2:
            raise ValueError(f"{name} {value!r} must be '*', a value, a range a-b or a list")
        numbers = [_cron_number(bound, name, names) for bound in bounds]
        start, end = (
            numbers[0],
            numbers[-1] if len(numbers) == 2 else (high if slash else numbers[0]),
        )
        if start < low or end > high:
            raise ValueError(f"{name} {value!r} is outside {low}-{high}")
        if start > end:
            raise ValueError(f"{name} range {value!r} runs backwards")


def _check_cron(text: str) -> str:
    """A Kubernetes CronJob schedule: five fields or one of the @ macros."""
    if text in _CRON_MACROS:
        return text
    if len(text) > 128 or not _fullmatch(r"[!-~]+(?: +[!-~]+){4}", text):
        raise ValueError(
            f"{text!r} is not a cron schedule: five fields (minute hour day-of-month month "
            f"day-of-week), e.g. '0 2 * * 0', or one of {', '.join(sorted(_CRON_MACROS))}"
        )
    for field, (name, low, high, names) in zip(text.split(), _CRON_FIELDS, strict=True):
        _check_cron_field(field, name, low, high, names)
    return text


_USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def _check_user_name(text: str) -> str:
    if not _fullmatch(_USER_NAME, text):
        raise ValueError(
            f"{text!r} is not a valid user name: 1-64 of letters, digits, '.', '_', '@', '-', "
            "starting with a letter or digit (':' would break the htpasswd format)"
        )
    return text


def _check_image_version(text: str) -> str:
    if text == "latest" or not _fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", text):
        raise ValueError(
            f"{text!r} is not a pinned image tag: give an explicit version such as 3.1.2 "
            "('latest' would change under you)"
        )
    return text


BCRYPT_MAX_BYTES = 72


def _check_password(secret: SecretStr) -> SecretStr:
    size = len(secret.get_secret_value().encode())
    if not 1 <= size <= BCRYPT_MAX_BYTES:
        raise ValueError(
            f"a password must be 1-{BCRYPT_MAX_BYTES} bytes in UTF-8 (bcrypt ignores the rest), "
            f"this one is {size}"
        )
    if "\0" in secret.get_secret_value():
        raise ValueError("a password cannot contain a NUL character (bcrypt refuses it)")
    return secret


def _secret_grammar(pattern: str, max_length: int, what: str) -> Callable[[SecretStr], SecretStr]:
    """A validator for a secret that never repeats the secret in its message."""
    compiled = re.compile(pattern, re.ASCII)

    def check(secret: SecretStr) -> SecretStr:
        value = secret.get_secret_value()
        if len(value) > max_length or not _fullmatch(compiled, value):
            raise ValueError(f"must be {what}, 1-{max_length} characters")
        return secret

    return check


# redis-server splits config lines at whitespace and treats quotes as quoting: a password in
# `requirepass` is printable ASCII without either (a newline would start a new directive).
_check_redis_password = _secret_grammar(
    r"[!#-&(-~]+", 512, "printable ASCII without spaces or quotes (redis.conf syntax)"
)
# Any octet but control characters (RFC 7617 Basic credentials, environment variables).
_check_printable_secret = _secret_grammar(r"[^\x00-\x1f\x7f]+", 1024, "free of control characters")


def _check_image_repository(text: str) -> str:
    """An image repository without tag or digest: the tag comes from a `version` key."""
    try:
        reference = ImageReference.parse(text)
    except InvalidImageReference as err:
        raise ValueError(str(err)) from None
    if reference.tag is not None or reference.digest is not None:
        raise ValueError(
            f"{text!r} carries a tag or digest; give the repository only, the tag in `version`"
        )
    return text


def _check_pinned_image(text: str) -> str:
    """A full image reference pinned by tag or digest."""
    try:
        reference = ImageReference.parse(text)
    except InvalidImageReference as err:
        raise ValueError(str(err)) from None
    if reference.tag is None and reference.digest is None:
        raise ValueError(f"{text!r} has no tag or digest; pin one, e.g. python:3.13.1-alpine3.21")
    return text


Quantity = Annotated[str, AfterValidator(_check_quantity)]
CpuQuantity = Annotated[str, AfterValidator(_check_cpu)]
MemoryQuantity = Annotated[str, AfterValidator(_check_memory)]
DnsLabel = Annotated[str, AfterValidator(_check_dns_label)]
DnsSubdomain = Annotated[str, AfterValidator(_check_dns_subdomain)]
Hostname = Annotated[str, AfterValidator(_check_hostname)]
HostOrAddress = Annotated[str, AfterValidator(_check_host_or_address)]
IpAddress = Annotated[str, AfterValidator(_check_ip)]
Endpoint = Annotated[str, AfterValidator(_check_endpoint)]
HostPort = Annotated[str, AfterValidator(_check_host_port)]
ImageRepository = Annotated[str, AfterValidator(_check_image_repository)]
PinnedImage = Annotated[str, AfterValidator(_check_pinned_image)]
RedisPassword = Annotated[SecretStr, AfterValidator(_check_redis_password)]
PrintableSecret = Annotated[SecretStr, AfterValidator(_check_printable_secret)]
# An SSH login (POSIX user names).
SshUser = Annotated[str, AfterValidator(_grammar(r"[A-Za-z_][A-Za-z0-9._-]*", 32, "a user name"))]
# Printable ASCII without spaces: tokens for YAML config files and command lines.
Token = Annotated[str, AfterValidator(_grammar(r"[!-~]+", 256, "printable ASCII without spaces"))]
HttpUrl = Annotated[
    str, AfterValidator(_grammar(r"https?://[!-~]+", 2048, "an http(s) URL without spaces"))
]
Duration = Annotated[str, AfterValidator(_check_duration)]
CronSchedule = Annotated[str, AfterValidator(_check_cron)]
UserName = Annotated[str, AfterValidator(_check_user_name)]
ImageVersion = Annotated[str, AfterValidator(_check_image_version)]


class _Model(BaseModel):
    """Every model refuses unknown keys: a misspelt key is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- sections ----------------------------------------------------------------------------------


_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_ENDPOINT_URL = re.compile(r"https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?/?")


def _check_bucket(text: str) -> str:
    if not _fullmatch(_BUCKET, text) or ".." in text:
        raise ValueError(
            f"must be an S3 bucket name: 3-63 lower-case letters, digits, dots and hyphens, got {text!r}"
        )
    return text


def _check_endpoint_url(text: str) -> str:
    if not _fullmatch(_ENDPOINT_URL, text):
        raise ValueError(f"must be http(s)://host[:port], got {text!r}")
    authority = text.split("://", 1)[1].rstrip("/")
    problem = endpoint_problem(authority, port_required=False)
    if problem:
        raise ValueError(problem)
    return text.rstrip("/")


def _is_clean_path(text: str, pattern: str, max_length: int) -> bool:
    """`text` matches `pattern` within `max_length` characters and has no '.' or '..' segment."""
    segments = text.strip("/").split("/")
    return (
        len(text) <= max_length
        and _fullmatch(pattern, text)
        and not any(segment in (".", "..") for segment in segments)
    )


def _check_root_directory(text: str) -> str:
    if not _is_clean_path(text, r"/?[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*/?", 512):
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


class S3StorageConfig(_Model):
    """An S3-compatible bucket (AWS, MinIO, SeaweedFS, Ceph RGW...) the registry keeps blobs in."""

    bucket: Annotated[str, AfterValidator(_check_bucket)] = Field(description="Bucket name.")
    region: Annotated[
        str, AfterValidator(_grammar(r"[A-Za-z0-9][A-Za-z0-9_.-]*", 64, "a region name"))
    ] = Field("us-east-1", description="Region (any for most servers).")
    endpoint: Annotated[str, AfterValidator(_check_endpoint_url)] | None = Field(
        None, description="Endpoint URL of an S3-compatible server; AWS when unset."
    )
    path_style: bool = Field(
        True,
        description="Path-style URLs (bucket in the path), as most S3-compatible servers need.",
    )
    tls_verify: bool = Field(True, description="Verify the endpoint's TLS certificate.")
    ca_bundle: Annotated[str, AfterValidator(_check_ca_bundle)] | None = Field(
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


class StorageConfig(_Model):
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
        "addon's `registry-claim` to keep its images. regstack never deletes it.",
    )


class ServiceConfig(_Model):
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
    if not (name and _fullmatch(_LABEL_NAME, name) and prefix_ok):
        raise ValueError(
            f"{text!r} is not a Kubernetes label key: [prefix/]name, the name 1-63 letters, "
            "digits, '-', '_' or '.', starting and ending with a letter or digit, the prefix a "
            "DNS subdomain"
        )
    return text


def _check_label_value(text: str) -> str:
    if not _fullmatch(_LABEL_NAME, text):
        raise ValueError(
            f"{text!r} is not a Kubernetes label value: at most 63 letters, digits, '-', '_' or "
            "'.', starting and ending with a letter or digit"
        )
    return text


LabelKey = Annotated[str, AfterValidator(_check_label_key)]
LabelValue = Annotated[str, AfterValidator(_check_label_value)]


class IngressConfig(_Model):
    """An optional Ingress in front of the registry, with TLS when TLS is on."""

    enabled: bool = Field(False, description="Create an Ingress for `registry.hostnames`.")
    class_name: DnsSubdomain | None = Field(
        None, description="IngressClass name (e.g. nginx, public)."
    )
    annotations: dict[LabelKey, str] = Field(
        default_factory=dict, description="Extra Ingress annotations."
    )


class ResourcesConfig(_Model):
    """Container resource requests and limits."""

    cpu_request: CpuQuantity = Field("50m", description="CPU request.")
    memory_request: MemoryQuantity = Field("128Mi", description="Memory request.")
    cpu_limit: CpuQuantity = Field("1", description="CPU limit.")
    memory_limit: MemoryQuantity = Field("512Mi", description="Memory limit.")


class CacheConfig(_Model):
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


class ProxyConfig(_Model):
    """Pull-through cache: the registry mirrors another one (e.g. Docker Hub) and keeps what it
    serves; it accepts no pushes and no deletes."""

    remote_url: Annotated[str, AfterValidator(_check_endpoint_url)] = Field(
        description="The upstream registry, e.g. https://registry-1.docker.io."
    )
    # Basic credentials: a colon would end the user name early (RFC 7617).
    username: (
        Annotated[
            str,
            AfterValidator(_grammar(r"[!-9;-~]+", 255, "printable ASCII without spaces or ':'")),
        ]
        | None
    ) = Field(None, description="Upstream login (token-auth registries such as Docker Hub).")
    password: PrintableSecret | None = Field(None, description="Upstream password (secret config).")


class TolerationConfig(_Model):
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


class PlacementConfig(_Model):
    """Which nodes regstack's pods (registry, GC, retention, cache) may run on."""

    node_selector: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Node labels the pods require, e.g. a storage node's."
    )
    tolerations: list[TolerationConfig] = Field(
        default_factory=list, description="Taints the pods tolerate, e.g. of dedicated nodes."
    )


class AutoscalingConfig(_Model):
    """A HorizontalPodAutoscaler for the registry pods, as the twuni chart's `autoscaling`."""

    enabled: bool = Field(False, description="Let CPU load set the number of registry pods.")
    min_replicas: int = Field(2, ge=1, le=20, description="Fewest registry pods.")
    max_replicas: int = Field(5, ge=1, le=20, description="Most registry pods.")
    target_cpu_percent: int = Field(
        70, ge=1, le=100, description="Average CPU use to keep, in percent of the CPU request."
    )


class RegistryConfig(_Model):
    """The registry itself (distribution backend; the addon uses namespace and storage size)."""

    namespace: DnsLabel = Field(
        "container-registry", description="Namespace (the addon's, so clients need no change)."
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
    hostnames: list[Hostname] = Field(
        default_factory=list, description="External host names (Ingress, certificate SANs)."
    )
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


class IssuerRef(_Model):
    """A cert-manager issuer that already exists in the cluster."""

    name: DnsSubdomain = Field(description="Issuer name, e.g. letsencrypt-prod.")
    kind: Literal["Issuer", "ClusterIssuer"] = Field("ClusterIssuer", description="Issuer kind.")


class TlsConfig(_Model):
    """Registry TLS via cert-manager."""

    mode: Literal["none", "self-signed", "issuer"] = Field(
        "none",
        description="`none`, `self-signed` (a lab CA chain made here) or `issuer` (existing one).",
    )
    issuer: IssuerRef | None = Field(None, description="Required when mode is `issuer`.")
    dns_names: list[Hostname] = Field(
        default_factory=list, description="Extra SANs besides the hostnames and service names."
    )
    ip_addresses: list[IpAddress] = Field(
        default_factory=list,
        description="IP address SANs besides 127.0.0.1, for clients that pull by a node's address.",
    )
    duration: Duration = Field("2160h", description="Certificate lifetime (90 days).")
    renew_before: Duration = Field("360h", description="Renew this long before expiry (15 days).")


class UserConfig(_Model):
    """A registry user; the password comes from secret config."""

    name: UserName = Field(description="Login name.")
    password: Annotated[SecretStr, AfterValidator(_check_password)] = Field(
        description="Set with `pulumi config set --secret --path 'auth.users[N].password'`."
    )


class AuthConfig(_Model):
    """htpasswd authentication."""

    enabled: bool = Field(False, description="Require a login for every request.")
    # Quoted in the WWW-Authenticate header: no quote, backslash or control character.
    realm: Annotated[
        str,
        AfterValidator(_grammar(r"[ !#-\[\]-~]+", 128, "printable ASCII without '\"' or '\\'")),
    ] = Field("regstack", description="Basic-auth realm.")
    users: list[UserConfig] = Field(default_factory=list, description="Users (htpasswd entries).")
    bcrypt_cost: int = Field(12, ge=10, le=15, description="bcrypt cost of htpasswd entries.")


class PullSecretsConfig(_Model):
    """`kubernetes.io/dockerconfigjson` secrets for workloads in other namespaces."""

    namespaces: list[DnsLabel] = Field(
        default_factory=list, description="Namespaces that get a pull secret."
    )
    create_namespaces: bool = Field(False, description="Create those namespaces too.")
    secret_name: DnsLabel = Field("regstack-pull", description="Name of each pull secret.")
    user: UserName | None = Field(None, description="Whose credentials; the first user if unset.")


class GcConfig(_Model):
    """Registry garbage collection: `registry garbage-collect` on a schedule, writes held out."""

    enabled: bool = Field(True, description="Run `registry garbage-collect` on a schedule.")
    schedule: CronSchedule = Field("0 2 * * 0", description="CronJob schedule (Sunday 02:00).")
    delete_untagged: bool = Field(
        True,
        description="Also remove untagged manifests (`--delete-untagged`); refused with a 2.x "
        "registry.version, whose GC then deletes the platform manifests of tagged indexes.",
    )
    window: Literal["auto", "read-only", "stop"] = Field(
        "auto",
        description="How GC holds pushes out: `read-only` pods keep serving pulls, `stop` "
        "scales to zero; `auto`: `stop` for a pull-through cache, else `read-only`.",
    )
    helper_image: PinnedImage = Field(
        "docker.io/library/python:3.13.1-alpine3.21",
        description="Pinned Python image that closes and reopens the registry around GC.",
    )


class RetentionRule(_Model):
    """One retention rule; the first rule whose `repositories` glob matches a repository wins."""

    repositories: list[str] = Field(description="Repository globs, e.g. `team/*`.")
    keep_last: int | None = Field(None, ge=0, description="Keep the newest N tags by created time.")
    max_age_days: int | None = Field(None, ge=0, description="Keep tags younger than this.")
    protected: list[str] = Field(
        default_factory=list, description="Tag globs (or `re:` regexes) never deleted."
    )
    default_protected: bool = Field(
        True, description="Also protect latest, stable, prod, staging and vX.Y.Z tags."
    )

    @model_validator(mode="after")
    def _the_engine_accepts_it(self) -> RetentionRule:
        # The in-cluster engine parses the same document on every run: its own parser here
        # refuses now what it would refuse there.
        try:
            parse_policy({"rules": [self.model_dump(exclude_none=True)]})
        except PolicyError as err:
            raise ValueError(str(err).removeprefix("rule 0: ")) from None
        return self


class RetentionConfig(_Model):
    """Tag retention: a CronJob running the retention engine through the registry API."""

    enabled: bool = Field(False, description="Run the retention job on a schedule.")
    schedule: CronSchedule = Field("0 1 * * 0", description="CronJob schedule (before GC).")
    apply: bool = Field(False, description="Really delete; otherwise the job only logs its plan.")
    rules: list[RetentionRule] = Field(default_factory=list, description="Retention rules.")
    protect_in_use: bool = Field(
        True, description="Keep every image a Pod in the cluster uses (lists pods read-only)."
    )
    user: UserName | None = Field(None, description="auth user the job logs in as; the first.")
    concurrency: int = Field(8, ge=1, le=64, description="Parallel registry requests.")
    image: PinnedImage = Field(
        "docker.io/library/python:3.13.1-alpine3.21",
        description="Pinned Python image that runs the (standard-library only) engine.",
    )


_PROM_DURATION = re.compile(
    r"(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?"
)
_PROM_UNIT_SECONDS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)


def prometheus_duration_seconds(text: str) -> float:
    """Seconds in a Prometheus duration such as `8d` or `1h30m` (whole numbers, units in order)."""
    match = _PROM_DURATION.fullmatch(text) if text.isascii() and len(text) <= 64 else None
    if not text or not match:
        raise ValueError(
            f"{text!r} is not a Prometheus duration; use whole numbers with units y, w, d, h, m, "
            "s, ms from largest to smallest, e.g. 5m, 4h, 8d or 1h30m"
        )
    parts = zip(match.groups(), _PROM_UNIT_SECONDS, strict=True)
    seconds = sum(int(number) * unit for number, unit in parts if number)
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return seconds


def _check_prometheus_duration(text: str) -> str:
    prometheus_duration_seconds(text)
    return text


# Prometheus, not Go, durations: rule files reject `1.5h` but accept `8d`.
PromDuration = Annotated[str, AfterValidator(_check_prometheus_duration)]


class AlertsConfig(_Model):
    """Alert thresholds and how long a condition must hold (`for:`) before an alert fires."""

    storage_free_ratio: float = Field(
        0.10, gt=0, lt=1, description="RegistryStorageAlmostFull below this free fraction."
    )
    storage_filling_horizon: PromDuration = Field(
        "4h", description="RegistryStorageFillingFast if the volume is predicted full within this."
    )
    storage_filling_window: PromDuration = Field(
        "6h", description="How much history the storage fill prediction (predict_linear) uses."
    )
    error_ratio_5xx: float = Field(
        0.05, gt=0, lt=1, description="RegistryHigh5xxRatio above this fraction of 5xx answers."
    )
    latency_p99_seconds: float = Field(
        2.0, gt=0, description="RegistryHighLatencyP99 above this p99 (blob transfers excluded)."
    )
    certificate_expiry_days: float = Field(
        14.0,
        gt=0,
        description="RegistryCertificateExpiringSoon within this many days; keep it below "
        "tls.renew_before so a healthy renewal never fires it.",
    )
    gc_stale_after: PromDuration = Field(
        "8d", description="RegistryGarbageCollectionNotSucceededRecently after this (weekly + 1d)."
    )
    retention_stale_after: PromDuration = Field(
        "8d", description="RegistryRetentionNotSucceededRecently after this (weekly + 1d)."
    )
    down_for: PromDuration = Field("5m", description="`for:` of RegistryDown and target missing.")
    storage_for: PromDuration = Field("15m", description="`for:` of the storage alerts.")
    http_for: PromDuration = Field("10m", description="`for:` of the 5xx and latency alerts.")
    jobs_for: PromDuration = Field("5m", description="`for:` of the GC and retention alerts.")
    certificate_for: PromDuration = Field("1h", description="`for:` of the certificate alert.")


class MonitoringConfig(_Model):
    """Prometheus Operator objects (ServiceMonitor, PrometheusRule) and a Grafana dashboard."""

    enabled: bool = Field(False, description="Create ServiceMonitor, PrometheusRule, dashboard.")
    namespace: DnsLabel = Field(
        "monitoring", description="Namespace of the dashboard ConfigMap (Grafana's sidecar)."
    )
    release_label: dict[LabelKey, LabelValue] = Field(
        default_factory=lambda: {"release": "kube-prometheus-stack"},
        description="Labels the Prometheus Operator selects ServiceMonitors and rules by "
        "(kube-prometheus-stack: `release: <helm release name>`).",
    )
    interval: PromDuration = Field("30s", description="Scrape interval of the registry metrics.")
    prometheus_namespace: DnsLabel | None = Field(
        None,
        description="Namespace of the Prometheus that scrapes the registry; `monitoring.namespace` "
        "when unset. Only its pods reach the registry's debug port (metrics, pprof, expvar).",
    )
    prometheus_pod_labels: dict[LabelKey, LabelValue] = Field(
        default_factory=lambda: {"app.kubernetes.io/name": "prometheus"},
        description="Labels of those Prometheus pods (kube-prometheus-stack's by default); `{}` "
        "admits every pod of that namespace.",
    )
    runbook_url: HttpUrl | None = Field(
        None,
        description="Where your copy of docs/runbook.md is served; each alert then links to "
        "`<runbook_url>#<alertname lowercase>`. Unset: no link, rather than one to nowhere.",
    )
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)

    @property
    def scraper_namespace(self) -> str:
        """Where the Prometheus allowed on the debug port runs."""
        return self.prometheus_namespace or self.namespace


_HOST_KEY = re.compile(
    r"^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/]+={0,2}( .*)?$"
)


def _check_host_key(text: str) -> str:
    if not _HOST_KEY.match(text.strip()):
        raise ValueError(
            "must be an SSH public host key line such as `ssh-ed25519 AAAA...` (a line of "
            "`ssh-keyscan -t ed25519 HOST` without the host name, or the node's "
            "/etc/ssh/ssh_host_ed25519_key.pub)"
        )
    return text.strip()


HostKey = Annotated[str, AfterValidator(_check_host_key)]
_HOST_KEY_HELP = (
    "The node's SSH host public key (`ssh-ed25519 AAAA...`); the connection is refused if the "
    "node shows another. Unset, any host key is accepted (refused in the prod profile)."
)


class MicroK8sConfig(_Model):
    """Where `microk8s enable registry` runs for the microk8s-addon backend."""

    host: HostOrAddress | None = Field(None, description="SSH host; run locally when unset.")
    user: SshUser = Field("ubuntu", description="SSH user.")
    private_key: SecretStr | None = Field(None, description="SSH private key (secret config).")
    port: int = Field(22, ge=1, le=65535, description="SSH port.")
    host_key: HostKey | None = Field(None, description=_HOST_KEY_HELP)


def _check_absolute_path(text: str) -> str:
    # Quoted into shell lines and into hosts.toml strings: names only, no '.' or '..' segments.
    if not _is_clean_path(text, r"/(?:[A-Za-z0-9._@+-]+/?)*", 1024):
        raise ValueError(
            f"must be an absolute path of letters, digits, '.', '_', '@', '+', '-' without '.' "
            f"or '..' segments, got {text!r}"
        )
    return text.rstrip("/") or "/"


class TrustedNode(_Model):
    """A node whose container runtime must trust the registry, reached over SSH."""

    host: HostOrAddress = Field(description="SSH host name or address.")
    user: SshUser = Field("ubuntu", description="SSH user (root, or passwordless sudo).")
    port: int = Field(22, ge=1, le=65535, description="SSH port.")
    host_key: HostKey | None = Field(None, description=_HOST_KEY_HELP)


class NodeTrustConfig(_Model):
    """containerd `certs.d/<host:port>/hosts.toml` on each node (plain HTTP, or the lab CA)."""

    nodes: list[TrustedNode] = Field(
        default_factory=list, description="Nodes to configure; none turns this off."
    )
    runtime: Literal["microk8s", "containerd", "docker"] = Field(
        "microk8s",
        description="Sets the default `certs_dir` and `restart_command`; `docker` (Docker "
        "Engine's certs.d) trusts a self-signed CA only.",
    )
    certs_dir: Annotated[str, AfterValidator(_check_absolute_path)] | None = Field(
        None,
        description="Hosts directory (microk8s: /var/snap/microk8s/current/args/certs.d, "
        "containerd: /etc/containerd/certs.d, docker: /etc/docker/certs.d).",
    )
    restart_command: (
        Annotated[str, AfterValidator(_grammar(r"[ -~]+", 1024, "one line of printable ASCII"))]
        | None
    ) = Field(
        None,
        description="Run after a file changed (microk8s: snap restart microk8s.daemon-containerd, "
        "containerd: systemctl restart containerd).",
    )
    endpoints: list[Endpoint] = Field(
        default_factory=list,
        description="Extra `host:port` names nodes pull by (e.g. a node IP); the node port on "
        "localhost and each registry host name are always included.",
    )
    private_key: SecretStr | None = Field(None, description="SSH private key (secret config).")


HARBOR_CHART_REPO = "https://helm.goharbor.io"
# Chart 1.19.1 ships Harbor 2.15.1: the release the end-to-end tests deploy (its source is in
# ../shared/vendor/). 1.19.2 (Harbor 2.15.2) exists but could not be obtained to test, so users
# get what was tested; `harbor.chart.version` moves it.
HARBOR_CHART_VERSION = "1.19.1"
_CHART_VERSION = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")


def _check_chart_version(text: str) -> str:
    if len(text) > 128 or not _fullmatch(_CHART_VERSION, text):
        raise ValueError(
            f"{text!r} is not a pinned chart version: give an exact semantic version such as "
            f"{HARBOR_CHART_VERSION} (ranges and 'latest' would change under you)"
        )
    return text


def _check_chart_repo(text: str) -> str:
    if len(text) > 2048 or not _fullmatch(r"(?:https?|oci)://[!-~]+", text):
        raise ValueError(
            f"{text!r} is not a chart repository: use an https:// Helm repository URL or an "
            "oci:// registry reference"
        )
    return text.rstrip("/")


ChartVersion = Annotated[str, AfterValidator(_check_chart_version)]
ChartRepo = Annotated[str, AfterValidator(_check_chart_repo)]
NodePort = Annotated[int, Field(ge=30000, le=32767)]


class HarborChartConfig(_Model):
    """Where the goharbor `harbor` chart comes from."""

    repo: ChartRepo = Field(
        HARBOR_CHART_REPO, description="Helm repository URL, or an oci:// registry holding it."
    )
    name: Annotated[
        str, AfterValidator(_grammar(r"[A-Za-z0-9][A-Za-z0-9_.-]*", 128, "a chart name"))
    ] = Field("harbor", description="Chart name in the repository.")
    version: ChartVersion = Field(HARBOR_CHART_VERSION, description="Pinned chart version.")
    path: (
        Annotated[str, AfterValidator(_grammar(r"[ -~]+", 4096, "a path of printable ASCII"))]
        | None
    ) = Field(None, description="A local chart directory or .tgz; replaces repo, name and version.")


class HarborIngressConfig(_Model):
    """The chart's Ingress (expose.type ingress)."""

    class_name: DnsSubdomain | None = Field(
        None, description="IngressClass name (e.g. nginx, public)."
    )
    annotations: dict[LabelKey, str] = Field(
        default_factory=dict, description="Extra Ingress annotations."
    )


class HarborNodePorts(_Model):
    """Node ports of the chart's nginx Service (expose.type nodePort); the chart's defaults."""

    http: NodePort = Field(30002, description="Node port for HTTP.")
    https: NodePort = Field(30003, description="Node port for HTTPS.")


class HarborExposeTlsConfig(_Model):
    """Which certificate the exposed endpoint serves when `tls.mode` is not `none`."""

    cert_source: Literal["secret", "none"] = Field(
        "secret",
        description="`secret`: the regstack certificate; `none`: the ingress controller's default "
        "certificate (Ingress only).",
    )


class HarborExposeConfig(_Model):
    """How clients reach Harbor."""

    type: Literal["ingress", "clusterIP", "nodePort", "loadBalancer"] = Field(
        "ingress", description="The chart's expose.type."
    )
    tls: HarborExposeTlsConfig = Field(default_factory=HarborExposeTlsConfig)
    ingress: HarborIngressConfig = Field(default_factory=HarborIngressConfig)
    node_ports: HarborNodePorts = Field(default_factory=HarborNodePorts)


class HarborVolumeConfig(_Model):
    """One PersistentVolumeClaim of the chart."""

    size: Quantity = Field(description="Volume size.")
    storage_class: DnsSubdomain | None = Field(
        None, description="StorageClass; cluster default if unset."
    )


def _volume(size: str) -> Any:
    return Field(default_factory=lambda: HarborVolumeConfig(size=size))


class HarborPersistenceConfig(_Model):
    """Volume per component; sizes are the chart's defaults except the registry's (regstack's)."""

    registry: HarborVolumeConfig = _volume("20Gi")
    jobservice: HarborVolumeConfig = _volume("1Gi")
    database: HarborVolumeConfig = _volume("1Gi")
    redis: HarborVolumeConfig = _volume("1Gi")
    trivy: HarborVolumeConfig = _volume("5Gi")


class HarborMetricsConfig(_Model):
    """Prometheus metrics of Harbor's components."""

    enabled: bool = Field(False, description="Expose /metrics on every component.")
    service_monitor: bool = Field(
        False, description="Create the chart's ServiceMonitor (needs the Prometheus Operator)."
    )


class HarborInternalTlsSecrets(_Model):
    """Existing `kubernetes.io/tls` Secrets (with `ca.crt`) per component."""

    core: DnsLabel | None = Field(None, description="TLS Secret for Harbor core.")
    jobservice: DnsLabel | None = Field(None, description="TLS Secret for Harbor jobservice.")
    registry: DnsLabel | None = Field(None, description="TLS Secret for Harbor registry.")
    portal: DnsLabel | None = Field(None, description="TLS Secret for Harbor portal.")
    trivy: DnsLabel | None = Field(None, description="TLS Secret for Harbor trivy.")


class HarborInternalTlsConfig(_Model):
    """TLS between Harbor's components, from Secrets you provide.

    The chart's `auto` source draws new certificates on every render, so it is not offered.
    """

    enabled: bool = Field(False, description="Encrypt traffic between Harbor's components.")
    secret_names: HarborInternalTlsSecrets = Field(default_factory=HarborInternalTlsSecrets)


# Unquoted PostgreSQL identifiers: Harbor puts them into connection settings as they are.
PgName = Annotated[
    str, AfterValidator(_grammar(r"[A-Za-z_][A-Za-z0-9_]*", 63, "a PostgreSQL name"))
]


class HarborDatabaseConfig(_Model):
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


class HarborRedisConfig(_Model):
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


class HarborConfig(_Model):
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


Backend = Literal["microk8s-addon", "distribution", "harbor"]
Profile = Literal["dev", "prod"]


class RegstackConfig(_Model):
    """One stack's configuration."""

    profile: Profile = Field("dev", description="`dev` (lab) or `prod` (production-like).")
    backend: Backend = Field("distribution", description="Which registry to deploy.")
    allow_insecure: bool = Field(
        False, description="Let a prod profile run without TLS or auth (explicit opt-out)."
    )
    skip_await: bool = Field(
        False, description="Don't wait for workloads to become ready (clusters without nodes)."
    )
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    tls: TlsConfig = Field(default_factory=TlsConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    pull_secrets: PullSecretsConfig = Field(default_factory=PullSecretsConfig)
    gc: GcConfig = Field(default_factory=GcConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    microk8s: MicroK8sConfig = Field(default_factory=MicroK8sConfig)
    harbor: HarborConfig = Field(default_factory=HarborConfig)
    node_trust: NodeTrustConfig = Field(default_factory=NodeTrustConfig)

    @property
    def protect_data(self) -> bool:
        """Production profiles protect registry storage from `pulumi destroy`."""
        return self.profile == "prod"

    @property
    def advertises_registry(self) -> bool:
        """Whether the stack publishes KEP-1755's ConfigMap: a lab's tools look for it."""
        advertise = self.registry.advertise
        return self.profile == "dev" if advertise is None else advertise


# --- errors and cross-field rules --------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a stack's config, at a dotted path below `regstack:`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"regstack:{self.path}: {self.message}" if self.path else f"regstack: {self.message}"


class ConfigError(Exception):
    """The config is invalid; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


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
        (cfg.auth.enabled, "auth.enabled",
         f"the microk8s-addon backend cannot do authentication; {_ADDON_ALTERNATIVE}"),
        (cfg.tls.mode != "none", "tls.mode",
         f"the microk8s-addon backend cannot serve TLS; {_ADDON_ALTERNATIVE}"),
        (not ADDON_SIZE.match(registry.storage.size), "registry.storage.size",
         f"the microk8s-addon takes whole Gi of at least 20Gi (e.g. 40Gi), got {registry.storage.size}"),
        (registry.replicas != 1, "registry.replicas",
         f"the microk8s-addon runs exactly one replica; {_ADDON_ALTERNATIVE}"),
        (registry.storage.type != "filesystem", "registry.storage.type",
         f"the microk8s-addon stores blobs on its own volume only; {_ADDON_ALTERNATIVE}"),
        (registry.service.node_port != 32000 or registry.service.type != "NodePort", "registry.service",
         "the microk8s-addon always listens on NodePort 32000; remove these settings or use backend: distribution"),
    )  # fmt: skip


def _host_key_problems(cfg: RegstackConfig) -> list[Problem]:
    """Prod: every SSH connection checks the node's host key."""
    unchecked = [(f"node_trust.nodes[{i}].host_key", node.host_key is None)
                 for i, node in enumerate(cfg.node_trust.nodes)]  # fmt: skip
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
        (cfg.tls.mode == "none", "tls.mode",
         "the prod profile needs TLS: set tls.mode to issuer (or self-signed), or set allow_insecure: true to accept plain HTTP"),
        (not cfg.auth.enabled and cfg.backend != "harbor", "auth.enabled",
         "the prod profile needs authentication: set auth.enabled: true with at least one user, or set allow_insecure: true"),
    )  # fmt: skip


def _storage_problems(cfg: RegstackConfig) -> list[Problem]:
    storage = cfg.registry.storage
    s3 = storage.s3
    return _failing(
        (storage.type == "s3" and s3 is None, "registry.storage.s3",
         "storage type s3 needs the bucket: {bucket: ..., endpoint: https://...}"),
        (storage.type != "s3" and s3 is not None, "registry.storage.type",
         "an s3 bucket is configured but the type is filesystem; set type: s3 or remove storage.s3"),
        (s3 is not None and (s3.access_key is None) != (s3.secret_key is None), "registry.storage.s3",
         "set both access_key and secret_key (secret config), or neither to use the pod's cloud identity"),
        (s3 is not None and cfg.profile == "prod" and not cfg.allow_insecure
         and ((s3.endpoint or "https:").startswith("http:") or not s3.tls_verify), "registry.storage.s3.endpoint",
         "the prod profile talks to object storage over verified HTTPS; use an https endpoint with "
         "tls_verify: true, or set allow_insecure: true"),
        (s3 is not None and s3.ca_bundle is not None and (s3.endpoint or "https:").startswith("http:"),
         "registry.storage.s3.ca_bundle", "a CA bundle is only used with an https endpoint"),
        (s3 is not None and s3.ca_bundle is not None and not s3.tls_verify, "registry.storage.s3.ca_bundle",
         "a CA bundle is used to verify the endpoint, but tls_verify is false; set tls_verify: true"),
        (storage.existing_claim is not None and storage.type == "s3", "registry.storage.existing_claim",
         "an existing claim is filesystem storage and the type is s3; remove one of them"),
        (storage.existing_claim is not None and bool(storage.model_fields_set & {"size", "storage_class"}),
         "registry.storage.existing_claim",
         "the existing claim keeps its own size and StorageClass; remove storage.size and storage.storage_class"),
    )  # fmt: skip


def _cache_problems(cfg: RegstackConfig) -> list[Problem]:
    cache = cfg.registry.cache
    return _failing(
        (cache.redis == "external" and cache.address is None, "registry.cache.address",
         "registry.cache.redis external needs the Redis address (host:port)"),
        (cache.redis != "external" and cache.address is not None, "registry.cache.address",
         f"an address is only used with redis: external (it is {cache.redis}); remove it or change redis"),
        (cache.redis == "none" and cache.password is not None, "registry.cache.password",
         "a Redis password is set but no Redis cache is configured (registry.cache.redis is none)"),
    )  # fmt: skip


def _registry_problems(cfg: RegstackConfig) -> list[Problem]:
    registry, autoscaling = cfg.registry, cfg.registry.autoscaling
    shared_volume = registry.storage.type == "s3" or registry.storage.access_mode == "ReadWriteMany"
    pods, path = (
        f"up to {registry.most_pods}" if autoscaling.enabled else str(registry.replicas),
        "registry.autoscaling.max_replicas" if autoscaling.enabled else "registry.replicas",
    )
    several = registry.most_pods > 1
    return _storage_problems(cfg) + _cache_problems(cfg) + _failing(
        (several and not shared_volume, path,
         f"{pods} replicas cannot share a ReadWriteOnce volume (only one node can mount it); "
         "use storage.type: s3 (or storage.access_mode: ReadWriteMany), or 1 replica"),
        (autoscaling.enabled and "replicas" in registry.model_fields_set, "registry.replicas",
         "the autoscaler sets the number of pods; remove registry.replicas and set "
         "registry.autoscaling.min_replicas instead"),
        (autoscaling.enabled and autoscaling.min_replicas > autoscaling.max_replicas,
         "registry.autoscaling.min_replicas",
         f"must not exceed max_replicas ({autoscaling.max_replicas}), got {autoscaling.min_replicas}"),
        (registry.ingress.enabled and not registry.hostnames, "registry.hostnames",
         "an Ingress needs at least one host name; list them here or set registry.ingress.enabled: false"),
    )  # fmt: skip


def _placement_problems(cfg: RegstackConfig) -> list[Problem]:
    path = "registry.placement.tolerations"
    return _failing(*[check for index, t in enumerate(cfg.registry.placement.tolerations) for check in (
        (t.operator == "Exists" and t.value != "", f"{path}[{index}].value",
         "operator Exists matches any value; remove the value or use operator: Equal"),
        (t.operator == "Equal" and t.key is None, f"{path}[{index}].key",
         "operator Equal needs the taint key (or use operator: Exists to tolerate every taint)"),
        (t.toleration_seconds is not None and t.effect != "NoExecute", f"{path}[{index}].toleration_seconds",
         "toleration_seconds only applies to effect NoExecute"),
    )])  # fmt: skip


def _proxy_problems(cfg: RegstackConfig) -> list[Problem]:
    proxy = cfg.registry.proxy
    if proxy is None:
        return []
    return _failing(
        ((proxy.username is None) != (proxy.password is None), "registry.proxy",
         "set both username and password (secret config), or neither for anonymous pulls"),
        (cfg.retention.enabled, "retention.enabled",
         "a pull-through cache refuses deletes through its API; what it caches expires by itself "
         "(after 7 days in Distribution 2.8), so turn retention off"),
        (cfg.profile == "prod" and not cfg.allow_insecure and proxy.remote_url.startswith("http:"),
         "registry.proxy.remote_url",
         "the prod profile mirrors over HTTPS only; use an https upstream, or set allow_insecure: true"),
    )  # fmt: skip


def _distribution_only(
    cfg: RegstackConfig, placement_hint: str, proxy_hint: str, claim_hint: str
) -> list[Problem]:
    """Problems for the registry settings only the distribution backend carries out."""
    placement = cfg.registry.placement
    return _failing(
        (bool(placement.node_selector or placement.tolerations), "registry.placement",
         f"placement applies to the distribution backend's pods; {placement_hint}"),
        (cfg.registry.proxy is not None, "registry.proxy",
         f"only the distribution backend runs as a pull-through cache; {proxy_hint}"),
        (cfg.registry.storage.existing_claim is not None, "registry.storage.existing_claim",
         f"only the distribution backend mounts an existing claim; {claim_hint}"),
        (cfg.registry.autoscaling.enabled, "registry.autoscaling.enabled",
         "only the distribution backend's pods are autoscaled by regstack"),
        (cfg.registry.advertise is True, "registry.advertise",
         "regstack publishes local-registry-hosting for the distribution backend only "
         "(the microk8s-addon publishes its own, Harbor none); remove it"),
    )  # fmt: skip


# Names only a private resolver answers, which a public ACME CA can never validate.
_PRIVATE_SUFFIXES = (".local", ".lan", ".internal", ".home.arpa", ".test", ".localhost", ".invalid")
_PUBLIC_ACME = re.compile(r"letsencrypt|lets-encrypt|zerossl|buypass", re.IGNORECASE)


def _tls_problems(cfg: RegstackConfig) -> list[Problem]:
    tls = cfg.tls
    issuer = tls.issuer.name if tls.mode == "issuer" and tls.issuer else ""
    private = [name for name in (*cfg.registry.hostnames, *tls.dns_names)
               if name.endswith(_PRIVATE_SUFFIXES) or "." not in name]  # fmt: skip
    return _failing(
        (bool(_PUBLIC_ACME.search(issuer)) and bool(private), "tls.issuer.name",
         f"{issuer!r} looks like a public ACME CA, which only issues for public DNS names and "
         f"never for {', '.join(private)}: use tls.mode self-signed or an issuer of your own CA"),
        (tls.mode == "issuer" and tls.issuer is None, "tls.issuer",
         "tls.mode issuer needs an issuer: {name: ..., kind: ClusterIssuer or Issuer}"),
        (tls.mode != "issuer" and tls.issuer is not None, "tls.issuer",
         f"an issuer is only used with tls.mode issuer (mode is {tls.mode}); remove it or change the mode"),
        (duration_seconds(tls.renew_before) >= duration_seconds(tls.duration), "tls.renew_before",
         f"must be shorter than tls.duration ({tls.duration}), got {tls.renew_before}"),
        # cert-manager's webhook refuses shorter ones.
        (duration_seconds(tls.duration) < 3600, "tls.duration",
         f"cert-manager needs at least 1h, got {tls.duration}"),
        (duration_seconds(tls.renew_before) < 300, "tls.renew_before",
         f"cert-manager needs at least 5m, got {tls.renew_before}"),
    )  # fmt: skip


def _auth_problems(cfg: RegstackConfig) -> list[Problem]:
    auth, pull = cfg.auth, cfg.pull_secrets
    names = [u.name for u in auth.users]
    duplicates = [
        (name in names[:index], f"auth.users[{index}].name", f"user {name!r} is listed twice")
        for index, name in enumerate(names)
    ]
    return _failing(
        # Harbor has its own logins; _harbor_problems refuses auth there.
        (bool(auth.users) and not auth.enabled and cfg.backend != "harbor", "auth.enabled",
         "users are listed but auth is off, so the registry lets everyone in: set "
         "auth.enabled: true (or remove auth.users)"),
        (auth.enabled and not auth.users, "auth.users",
         "auth is enabled but no user is listed; add {name: ..., password: <secret>}"),
        *duplicates,
        # Harbor has its own logins; _harbor_problems explains the pull secrets there.
        (bool(pull.namespaces) and not auth.enabled and cfg.backend != "harbor", "pull_secrets.namespaces",
         "pull secrets carry credentials, so they need auth.enabled: true; without auth, pulls need no secret"),
        (pull.user is not None and pull.user not in names, "pull_secrets.user",
         f"{pull.user!r} is not one of auth.users ({', '.join(names) or 'none'})"),
    )  # fmt: skip


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
        (expose.type in ("ingress", "loadBalancer") and not hostnames, "registry.hostnames",
         f"harbor.expose.type {expose.type} needs a host name for Harbor's externalURL "
         "(the address docker logs in to); list it here"),
        (bool(hostnames) and hostnames[0].startswith("*."), "registry.hostnames[0]",
         "the first host name becomes Harbor's externalURL and cannot be a wildcard"),
        (expose.type != "ingress" and expose.tls.cert_source == "none", "harbor.expose.tls.cert_source",
         "`none` means the ingress controller's default certificate, which only exists with "
         f"harbor.expose.type ingress (type is {expose.type}); use cert_source: secret"),
        (expose.type != "ingress" and bool(expose.ingress.model_fields_set), "harbor.expose.ingress",
         f"Ingress settings only apply to harbor.expose.type ingress (type is {expose.type}); "
         "remove them or change the type"),
        (expose.type != "nodePort" and bool(expose.node_ports.model_fields_set), "harbor.expose.node_ports",
         f"node ports only apply to harbor.expose.type nodePort (type is {expose.type}); "
         "remove them or change the type"),
        (expose.node_ports.http == expose.node_ports.https, "harbor.expose.node_ports.https",
         f"must differ from node_ports.http (both are {expose.node_ports.http})"),
        (cfg.registry.ingress.enabled, "registry.ingress.enabled",
         "the harbor chart creates its own Ingress: set harbor.expose.type: ingress "
         "(and harbor.expose.ingress) instead"),
    )  # fmt: skip


def _harbor_problems(cfg: RegstackConfig) -> list[Problem]:
    harbor = cfg.harbor
    external = [
        (settings.type == "external" and settings.host is None, f"harbor.{kind}.host",
         f"harbor.{kind}.type external needs the host of the external {kind}")
        for kind, settings in (("database", harbor.database), ("redis", harbor.redis))
    ]  # fmt: skip
    tls_names = harbor.internal_tls.secret_names
    tls_needed = ["core", "jobservice", "registry", "portal"] + (["trivy"] if harbor.trivy else [])
    internal_tls = [
        (harbor.internal_tls.enabled and getattr(tls_names, component) is None,
         f"harbor.internal_tls.secret_names.{component}",
         f"internal TLS needs the name of an existing TLS Secret (with ca.crt) for {component}")
        for component in tls_needed
    ]  # fmt: skip
    owned = [
        (_has_path(harbor.extra_values, path), f"harbor.extra_values.{path}",
         "regstack sets this value itself (pinned from secret config, never inline); remove it")
        for path in HARBOR_OWNED_VALUES
    ]  # fmt: skip
    return _harbor_expose_problems(cfg) + _storage_problems(cfg) + _failing(
        (cfg.registry.cache.redis != "none", "registry.cache.redis",
         "Harbor's registry uses Harbor's Redis (harbor.redis); remove registry.cache"),
        (cfg.registry.http_secret is not None, "registry.http_secret",
         "Harbor's registry secret derives from harbor.secret_seed; remove registry.http_secret"),
        (harbor.admin_password is None, "harbor.admin_password",
         "required by the harbor backend: pulumi config set --secret --path harbor.admin_password"),
        (harbor.secret_seed is None, "harbor.secret_seed",
         "required by the harbor backend (Harbor's internal secrets derive from it): "
         'pulumi config set --secret --path harbor.secret_seed "$(openssl rand -base64 32)"'),
        (cfg.auth.enabled, "auth.enabled",
         "Harbor has its own users and logins: set auth.enabled: false and give the "
         "initial admin password as harbor.admin_password"),
        (bool(cfg.pull_secrets.namespaces), "pull_secrets.namespaces",
         "the harbor backend does not create pull secrets: create a Harbor robot account "
         "and its pull secrets, or remove this list"),
        (harbor.chart.path is not None and bool(harbor.chart.model_fields_set & {"repo", "name", "version"}),
         "harbor.chart.path", "a local chart path replaces repo, name and version; remove those or the path"),
        *external,
        (harbor.database.type == "external" and harbor.database.password is None, "harbor.database.password",
         "an external database needs a password: pulumi config set --secret --path harbor.database.password"),
        (harbor.metrics.service_monitor and not harbor.metrics.enabled, "harbor.metrics.service_monitor",
         "a ServiceMonitor scrapes metrics that are off: set harbor.metrics.enabled: true"),
        *internal_tls,
        *owned,
        (_has_key(harbor.extra_values, "chartmuseum"), "harbor.extra_values",
         f"chartmuseum values do nothing: {_REMOVED_KEYS['chartmuseum']}"),
        (bool(harbor.extra_values.get("enableMigrateHelmHook")), "harbor.extra_values.enableMigrateHelmHook",
         "the chart is rendered by Pulumi, which does not run Helm hooks, so the migration "
         "would silently never run; leave it off (Harbor core migrates on start)"),
    )  # fmt: skip


def _retention_problems(cfg: RegstackConfig) -> list[Problem]:
    retention, names = cfg.retention, [u.name for u in cfg.auth.users]
    if not retention.enabled:
        return []
    return _failing(
        (not retention.rules, "retention.rules",
         "retention is enabled but has no rule: add {repositories: ['*'], keep_last: 10}"),
        (cfg.gc.enabled and retention.schedule == cfg.gc.schedule, "retention.schedule",
         "must differ from gc.schedule: retention deletes tags first, GC then frees their blobs"),
        (retention.user is not None and retention.user not in names, "retention.user",
         f"{retention.user!r} is not one of auth.users ({', '.join(names) or 'none'})"),
        (cfg.backend == "harbor", "retention.enabled",
         "Harbor has its own tag retention (project policies); turn this off for the harbor backend"),
        (cfg.backend == "microk8s-addon", "retention.enabled",
         "the addon's registry does not enable deletes; use backend: distribution for retention"),
    )  # fmt: skip


def _node_trust_problems(cfg: RegstackConfig) -> list[Problem]:
    trust = cfg.node_trust
    hosts = [node.host for node in trust.nodes]
    return _failing(
        (bool(trust.nodes) and trust.private_key is None, "node_trust.private_key",
         "nodes are reached over SSH: set the key with `cat ~/.ssh/id_ed25519 | "
         "pulumi config set --secret --path node_trust.private_key`"),
        (bool(trust.nodes) and trust.runtime == "docker" and cfg.tls.mode == "none", "node_trust.runtime",
         "Docker Engine trusts a plain-HTTP registry only through insecure-registries in "
         "daemon.json, which regstack does not edit on nodes: use tls.mode self-signed, or the "
         "docker_daemon_json_dev_only output by hand"),
        (bool(trust.nodes) and cfg.tls.mode == "issuer", "node_trust.nodes",
         "with tls.mode issuer the nodes already trust the certificate; node_trust is for plain "
         "HTTP and self-signed lab registries, remove it"),
        *[(host in hosts[:index], f"node_trust.nodes[{index}].host", f"node {host!r} is listed twice")
          for index, host in enumerate(hosts)],
    )  # fmt: skip


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
        return [Problem("registry.version",
                        f"regstack renders config.yml for Distribution 2.x or 3.x and cannot tell "
                        f"the line from {tag!r}; pin a release tag such as 3.1.2")]  # fmt: skip
    s3 = cfg.registry.storage.type == "s3"
    return _failing(
        (numbers[:2] == (3, 0), "registry.version",
         f"Distribution {tag} ignores every REGISTRY_REDIS_* variable (a Redis password would be "
         "lost) and its S3 driver drops tags from tags/list; use 3.1.2"),
        (numbers[0] == 2 and cfg.gc.enabled and cfg.gc.delete_untagged, "gc.delete_untagged",
         f"Distribution {tag} `garbage-collect --delete-untagged` deletes the platform manifests "
         "(and their layers) of tagged multi-arch images and buildx attestation indexes "
         "(distribution/distribution#3178, fixed in 3.0.0); set gc.delete_untagged: false, "
         "or registry.version: 3.1.2"),
        (cfg.retention.enabled and s3 and numbers in _S3_LISTS_WRONGLY, "registry.version",
         f"Distribution {tag} on S3 drops tags from tags/list (0.1.2 next to 0.1.20) and "
         "skips repositories in catalog pages, so retention would delete tags it cannot see; "
         "pin 3.1.2, or turn retention off"),
    )  # fmt: skip


def _resource_problems(cfg: RegstackConfig) -> list[Problem]:
    res = cfg.registry.resources
    return _failing(*[
        (resource_quantity(request) > resource_quantity(limit), f"registry.resources.{kind}_request",
         f"must not exceed {kind}_limit ({limit}), got {request}: Kubernetes refuses the pod")
        for kind, request, limit in (("cpu", res.cpu_request, res.cpu_limit),
                                     ("memory", res.memory_request, res.memory_limit))
    ])  # fmt: skip


# The registry.* keys the other backends carry out, or refuse with a reason of their own.
_REGISTRY_KEYS_USED = {
    "microk8s-addon": ("storage.size", "storage.storage_class", "storage.type", "storage.s3", "service",
                       "replicas", "placement", "proxy", "storage.existing_claim", "autoscaling",
                       "advertise"),
    "harbor": ("namespace", "hostnames", "storage.type", "storage.s3", "storage.size", "service",
               "placement", "proxy", "storage.existing_claim", "autoscaling", "advertise", "cache",
               "http_secret", "ingress"),
}  # fmt: skip
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
        ("node_port" in service.model_fields_set and service.type != "NodePort" and not addon,
         "registry.service.node_port",
         f"a node port is only used with service type NodePort (type is {service.type}); remove it"),
        (addon and gc_asked, "gc",
         "regstack runs no garbage collection for the microk8s-addon's registry (the addon's "
         "own deployment); set gc.enabled: false, or use backend: distribution, whose GC "
         "CronJob runs the chapter's garbage-collect"),
        (addon and cfg.monitoring.enabled, "monitoring.enabled",
         "the microk8s-addon's registry exposes no metrics; set monitoring.enabled: false, or use "
         "backend: distribution"),
        (harbor and gc_asked, "gc",
         "Harbor schedules its own garbage collection (Administration > Clean Up); set "
         "gc.enabled: false"),
        (harbor and cfg.monitoring.enabled, "monitoring.enabled",
         "regstack's rules and dashboard read Distribution's metrics; for Harbor use "
         "harbor.metrics.enabled and harbor.metrics.service_monitor"),
        (harbor and "size" in cfg.registry.storage.model_fields_set, "registry.storage.size",
         "Harbor's registry volume is harbor.persistence.registry.size; move the size there"),
        (harbor and bool(service.model_fields_set), "registry.service",
         "Harbor is reached through harbor.expose (type, node_ports); remove registry.service"),
    )  # fmt: skip


def _cross_field_problems(cfg: RegstackConfig) -> list[Problem]:
    problems = _profile_problems(cfg) + _tls_problems(cfg) + _auth_problems(cfg)
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


# --- loading -----------------------------------------------------------------------------------


def _dotted(loc: tuple[int | str, ...]) -> str:
    path = ""
    # pydantic ends the location of a bad mapping key with "[key]"; the key itself says enough.
    for part in (p for p in loc if p != "[key]"):
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _field_model(annotation: Any) -> type[BaseModel] | None:
    candidates = [annotation, *getattr(annotation, "__args__", ())]
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model that holds the key at the end of `loc`."""
    current: type[BaseModel] | None = RegstackConfig
    for part in (p for p in loc[:-1] if not isinstance(p, int)):
        field = current.model_fields.get(part) if current else None
        current = _field_model(field.annotation) if field else None
    return current


def _key_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every key below `model`, dotted: where a misplaced key may belong."""
    paths = []
    for name, field in model.model_fields.items():
        paths.append(prefix + name)
        nested = _field_model(field.annotation)
        if nested is not None:
            paths += _key_paths(nested, f"{prefix}{name}.")
    return paths


# Keys users bring from other registries' settings that regstack has no place for.
_REMOVED_KEYS = {
    "chartmuseum": "Harbor 2.8 removed ChartMuseum (Helm charts are pushed as OCI artifacts to "
    "any project); remove it",
}


def _unknown_key_message(loc: tuple[int | str, ...]) -> str:
    key, model = str(loc[-1]), _model_at(loc)
    if key in _REMOVED_KEYS:
        return f"unknown key: {_REMOVED_KEYS[key]}"
    allowed = sorted(model.model_fields) if model else []
    parent = _dotted(tuple(p for p in loc[:-1] if not isinstance(p, int)))

    def plain(text: str) -> str:
        return text.lower().replace("_", "").replace("-", "")

    paths = _key_paths(model) if model else []
    matches = [p for p in paths if plain(p.rsplit(".", 1)[-1]) == plain(key)]
    matches = matches or difflib.get_close_matches(key, allowed, n=1, cutoff=0.75)
    hint = f"did you mean {parent + '.' if parent else ''}{matches[0]}? " if matches else ""
    return f"unknown key; {hint}allowed keys here: {', '.join(allowed)}"


def _message(error: Any) -> str:
    kind, message, given = error["type"], error["msg"], error.get("input")
    if kind == "extra_forbidden":
        return _unknown_key_message(error["loc"])
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    if kind in ("model_type", "dict_type"):
        return "must be a mapping of keys to values"
    if kind == "string_type" and isinstance(given, int | float) and not isinstance(given, bool):
        return f'YAML reads an unquoted {given!r} as a number; quote it: "{given}"'
    return f"{message[0].lower()}{message[1:]} (got {given!r})"


def _secrets(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, value) of every secret the config gives, at any depth."""
    if isinstance(value, SecretStr):
        yield path, value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in sorted(value.model_fields_set):
            yield from _secrets(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secrets(item, f"{path}[{index}]")


def _secret_problems(cfg: RegstackConfig, secret_sections: Collection[str]) -> list[Problem]:
    problems = []
    for path, value in _secrets(cfg):
        how = f"pulumi config set --secret --path '{path}'"
        if value == SECRET_UNSET:
            problems.append(Problem(path, f"is a placeholder, not an encrypted value: `{how}`"))
        elif value != SECRET_PLACEHOLDER and re.split(r"[.\[]", path)[0] not in secret_sections:
            problems.append(
                Problem(
                    path,
                    f"is in plaintext in the stack config, so it would be committed in "
                    f"clear: encrypt it with `{how}`",
                )
            )
    return problems


def _without(raw: dict[str, Any], locations: list[tuple[int | str, ...]]) -> dict[str, Any]:
    """`raw` without the values at `locations` (a list item goes whole), to check the rest."""
    rest = copy.deepcopy(raw)
    dropped = object()
    for loc in locations:
        parts = [p for p in loc if p != "[key]"]
        items = [i for i, p in enumerate(parts) if isinstance(p, int)]
        parts = parts[: items[-1] + 1] if items else parts
        container: Any = rest
        for part in parts[:-1]:
            ok = isinstance(container, dict) and part in container
            ok = ok or (
                isinstance(container, list) and isinstance(part, int) and part < len(container)
            )
            if not ok:
                break
            container = container[part]
        else:
            if isinstance(container, dict):
                container.pop(parts[-1], None)
            elif isinstance(container, list) and isinstance(parts[-1], int):
                container[parts[-1]] = dropped

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value if v is not dropped]
        return value

    return cast(dict[str, Any], clean(rest))


def _related(path: str, paths: set[str]) -> bool:
    return any(
        path == other
        or other.startswith((path + ".", path + "["))
        or path.startswith((other + ".", other + "["))
        for other in paths
    )  # fmt: skip


def load_config(raw: Any, secret_sections: Collection[str] | None = None) -> RegstackConfig:
    """Validate the `regstack:` config mapping; raise ConfigError naming every problem.

    `secret_sections`: the top-level keys whose values Pulumi holds encrypted (a stack file's
    `secure:` values arrive as SECRET_PLACEHOLDER: pass `()`); a secret anywhere else is in
    plaintext and refused. None skips that check, for config built in code.
    """
    if not isinstance(raw, dict):
        raise ConfigError([Problem("", "the config must be a mapping of keys to values")])
    # components/stack_config passes a near miss of the `regstack:` namespace through as is.
    stray = [key for key in raw if ":" in str(key)]
    problems = [
        Problem(
            "",
            f"`{key}` is not read (its namespace is not regstack): did you mean "
            f"regstack:{str(key).partition(':')[2]}?",
        )
        for key in stray
    ]
    raw = {key: value for key, value in raw.items() if key not in stray}
    try:
        cfg: RegstackConfig | None = RegstackConfig.model_validate(raw)
    except ValidationError as err:
        problems += [Problem(_dotted(e["loc"]), _message(e)) for e in err.errors()]
        # The rest may still break cross-field rules: report those in the same round.
        try:
            cfg = RegstackConfig.model_validate(_without(raw, [e["loc"] for e in err.errors()]))
        except ValidationError:
            cfg = None
    if cfg is not None:
        reported = {p.path for p in problems}
        later = _cross_field_problems(cfg)
        if secret_sections is not None:
            later += _secret_problems(cfg, secret_sections)
        problems += [p for p in later if not _related(p.path, reported)]
    if problems or cfg is None:
        raise ConfigError(problems)
    return cfg
