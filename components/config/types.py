"""Value types of the config: host names, quantities, durations, cron schedules, user
names and secrets, each an `Annotated` string whose validator says what is wrong and
how to fix it. `_Model` is the base of every section: unknown keys are refused."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, SecretStr

from ..images import ImageReference, InvalidImageReference


def fullmatch(pattern: str | re.Pattern[str], text: str) -> bool:
    compiled = re.compile(pattern, re.ASCII) if isinstance(pattern, str) else pattern
    return text.isascii() and compiled.fullmatch(text) is not None


def matching(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    """A validator admitting `pattern` in full (ASCII); a refusal says `'<text>' is not <what>`."""

    def check(text: str) -> str:
        if not fullmatch(pattern, text):
            raise ValueError(f"{text!r} is not {what}")
        return text

    return check


def grammar(pattern: str, max_length: int, what: str) -> Callable[[str], str]:
    """A validator admitting `pattern` (ASCII, in full, at most `max_length` characters)."""
    compiled = re.compile(pattern, re.ASCII)

    def check(text: str) -> str:
        if len(text) > max_length or not fullmatch(compiled, text):
            raise ValueError(f"{text!r} is not {what} (at most {max_length} characters)")
        return text

    return check


_QUANTITY = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?")


_SUFFIX_BYTES = {
    None: 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


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


_SI: dict[str | None, Decimal] = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    None: Decimal(1),
    **{k: Decimal(v) for k, v in _SUFFIX_BYTES.items() if k is not None},
}


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


_check_dns_label = matching(
    _DNS_LABEL,
    "an RFC 1123 label: 1-63 lowercase letters, digits or '-', starting and ending with a "
    "letter or digit",
)


def is_dns_subdomain(text: str) -> bool:
    """Kubernetes' DNS-1123 subdomain: the names of most objects (StorageClass, IngressClass...)."""
    return len(text) <= 253 and all(fullmatch(_DNS_LABEL, part) for part in text.split("."))


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
    return len(text) <= 253 and all(fullmatch(_HOST_LABEL, label) for label in labels)


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


# OCI distribution-spec: a repository name is lowercase letters and digits, separated by
# `.`, `_`, `__`, `-` and `/`. A glob that needs any other character matches no repository.
_REPOSITORY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-/")
# Glob syntax the retention engine reads; a backslash escapes the next character.
_GLOB_SYNTAX = frozenset("*?{},")


def _class_end(glob: str, start: int) -> int:
    """Index of the `]` closing the class opened at `start` (a first `]` is a member), or -1."""
    first = start + 1 + (glob[start + 1 : start + 2] in ("!", "^"))
    return glob.find("]", first + 1)


def repository_glob_problem(glob: str) -> str | None:
    """Why `glob` can never match a repository name, or None. Only that: the engine reads it."""
    if glob.lower() != glob:
        return (
            f"{glob!r} can never match: repository names are lowercase (OCI distribution "
            f"spec); write {glob.lower()!r}"
        )
    index = 0
    while index < len(glob):
        char = glob[index]
        if char == "[":
            end = _class_end(glob, index)
            if end < 0:
                return (
                    f"{glob!r} can never match: its '[' opens a character class that never "
                    "closes (a repository name holds no '['); write the class out, e.g. [ab]"
                )
            members = glob[index : end + 1]
            if not any(re.fullmatch(_class_regex(members), c) for c in _REPOSITORY_CHARS):
                return (
                    f"{glob!r} can never match: {members} admits no character of a repository name"
                )
            index = end + 1
            continue
        if char == "\\" and index + 1 < len(glob):
            index += 1
            char = glob[index]
        elif char in _GLOB_SYNTAX:
            index += 1
            continue
        if char not in _REPOSITORY_CHARS:
            return (
                f"{glob!r} can never match: a repository name holds only lowercase letters, "
                f"digits, '.', '_', '-' and '/', not {char!r}"
            )
        index += 1
    if glob.startswith("/") or glob.endswith("/") or "//" in glob:
        return f"{glob!r} can never match: a repository name neither starts nor ends with '/' nor holds '//'"
    return None


def _class_regex(members: str) -> str:
    body = members[1:-1]
    negated = body[:1] in ("!", "^")
    body = body[1:] if negated else body
    return f"[{'^' if negated else ''}{body.replace(chr(92), chr(92) * 2)}]"


def _check_repository_glob(text: str) -> str:
    problem = repository_glob_problem(text)
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
    if len(text) > 64 or not fullmatch(_DURATION, text):
        raise ValueError(f"{text!r} is not a duration; use Go duration units h, m, s, e.g. 2160h")
    return sum(float(n) * _DURATION_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))


def _check_duration(text: str) -> str:
    duration_seconds(text)
    return text


# Kubernetes parses schedules with robfig/cron v3's ParseStandard: five fields, day-of-week 0-6,
# month and day names in any case, `?` for "any", `N/step` meaning N-max/step, and the @ macros.
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


_DAYS = {
    name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}


_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 6, _DAYS),
)


_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def _cron_number(text: str, name: str, names: dict[str, int]) -> int:
    if fullmatch(r"[0-9]{1,2}", text):
        return int(text)
    if text.lower() in names and text.isascii():
        return names[text.lower()]
    allowed = f"a number or a name ({', '.join(n.upper() for n in names)})" if names else "a number"
    raise ValueError(f"{name} {text!r} must be {allowed}")


def _check_cron_field(field: str, name: str, low: int, high: int, names: dict[str, int]) -> None:
    for part in field.split(","):
        value, slash, step = part.partition("/")
        if slash and not (fullmatch(r"[0-9]{1,2}", step) and int(step) > 0):
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
    if len(text) > 128 or not fullmatch(r"[!-~]+(?: +[!-~]+){4}", text):
        raise ValueError(
            f"{text!r} is not a cron schedule: five fields (minute hour day-of-month month "
            f"day-of-week), e.g. '0 2 * * 0', or one of {', '.join(sorted(_CRON_MACROS))}"
        )
    for field, (name, low, high, names) in zip(text.split(), _CRON_FIELDS, strict=True):
        _check_cron_field(field, name, low, high, names)
    return text


_USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


_check_user_name = matching(
    _USER_NAME,
    "a valid user name: 1-64 of letters, digits, '.', '_', '@', '-', starting with a letter or "
    "digit (':' would break the htpasswd format)",
)


def _check_image_version(text: str) -> str:
    if text == "latest" or not fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", text):
        raise ValueError(
            f"{text!r} is not a pinned image tag: give an explicit version such as 3.1.2 "
            "('latest' would change under you)"
        )
    return text


BCRYPT_MAX_BYTES = 72


def check_password(secret: SecretStr) -> SecretStr:
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
        if len(value) > max_length or not fullmatch(compiled, value):
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


RepositoryGlob = Annotated[str, AfterValidator(_check_repository_glob)]


ImageRepository = Annotated[str, AfterValidator(_check_image_repository)]


PinnedImage = Annotated[str, AfterValidator(_check_pinned_image)]


RedisPassword = Annotated[SecretStr, AfterValidator(_check_redis_password)]


PrintableSecret = Annotated[SecretStr, AfterValidator(_check_printable_secret)]


# An SSH login (POSIX user names).
SshUser = Annotated[str, AfterValidator(grammar(r"[A-Za-z_][A-Za-z0-9._-]*", 32, "a user name"))]


# Printable ASCII without spaces: tokens for YAML config files and command lines.
Token = Annotated[str, AfterValidator(grammar(r"[!-~]+", 256, "printable ASCII without spaces"))]


HttpUrl = Annotated[
    str, AfterValidator(grammar(r"https?://[!-~]+", 2048, "an http(s) URL without spaces"))
]


Duration = Annotated[str, AfterValidator(_check_duration)]


CronSchedule = Annotated[str, AfterValidator(_check_cron)]


UserName = Annotated[str, AfterValidator(_check_user_name)]


ImageVersion = Annotated[str, AfterValidator(_check_image_version)]


@dataclass(frozen=True)
class MayBeOutput:
    """Marks a field (or a list's items) whose value may come from another resource as a pulumi
    Output (a namespace, an issuer made in the same program): config/deferred.py checks the rest
    of the config with `placeholder` in the Output's place, and the value once it resolves, by
    the field's own rules and by `refuse`. Pydantic ignores this metadata; config/args.py makes
    the field (or each item) an Input."""

    placeholder: str
    """A valid value of the field that no decision depends on: what the checks see meanwhile."""
    refuse: Callable[[str], str | None] | None = None
    """Why a resolved value cannot be taken though the field's rules admit it (a decision made
    on the placeholder that value would have changed), else None."""
    secret_ok: bool = False
    """Whether a secret Output is taken too, and kept a secret: a CA certificate read from a
    Kubernetes Secret. Otherwise a secret is refused, as the value is shown in plain."""


class Section(BaseModel):
    """Every model refuses unknown keys: a misspelt key is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True)
