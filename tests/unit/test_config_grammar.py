"""Every config string is checked against the grammar of where it ends up (a file, a shell line,
a URL, a label, an object name, an HTTP header), in full, in ASCII, within length limits, so that
`validate` never accepts what breaks a deployment later (issue 14, defect 5).

Each refused case here was accepted before; each accepted case is one a consumer takes.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from components.config import ConfigError, load_config
from devkit import config_grammar as grammar

AUTH = {"enabled": True, "users": [{"name": "dev", "password": "a-password"}]}
RULE = {"repositories": ["*"], "keep_last": 5}


def refused(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_config(raw)
    return {p.path: p.message for p in caught.value.problems}


def at(path: str, value: Any) -> dict[str, Any]:
    """The config with `value` at dotted `path` (list indexes as `name[0]`)."""
    raw: dict[str, Any] = {}
    node = raw
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return raw


def merged(*raws: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for raw in raws:
        for key, value in raw.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merged(out[key], value)
            else:
                out[key] = value
    return out


# (why, config, the path named in the error)
REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("a user name ending in a newline breaks the whole htpasswd file",
     {"auth": {"enabled": True, "users": [{"name": "alice\n", "password": "pw-alice"}]}}, "auth.users[0].name"),
    ("a namespace ending in a newline", at("registry.namespace", "registry\n"), "registry.namespace"),
    ("a storage size ending in a newline", at("registry.storage.size", "20Gi\n"), "registry.storage.size"),
    ("a hostname with a dotless i", at("registry.hostnames", ["reg\u0131stry.lab"]), "registry.hostnames[0]"),
    ("a hostname with a Kelvin sign", at("registry.hostnames", ["\u212aube.lab"]), "registry.hostnames[0]"),
    ("a hostname ending in a newline", at("registry.hostnames", ["registry.lab\n"]), "registry.hostnames[0]"),
    ("an IP address as a host name (an Ingress host is a DNS name)",
     at("registry.hostnames", ["10.0.0.5"]), "registry.hostnames[0]"),
    ("an arabic-indic digit in the registry version", at("registry.version", "2.8.\u0663"), "registry.version"),
    ("a unicode letter in the cache version", at("registry.cache.version", "7.4.\u00e9"), "registry.cache.version"),
    ("a version ending in a newline", at("registry.version", "2.8.3\n"), "registry.version"),
    ("day-of-week 7 (Kubernetes: 0-6)", at("gc.schedule", "0 2 * * 7"), "gc.schedule"),
    ("a schedule with a time zone", at("gc.schedule", "CRON_TZ=UTC 0 2 * * 0"), "gc.schedule"),
    ("a schedule ending in a newline", at("gc.schedule", "0 2 * * 0\n"), "gc.schedule"),
    ("an unknown day name", at("gc.schedule", "0 2 * * FUN"), "gc.schedule"),
    ("a unicode digit in a schedule", at("gc.schedule", "\u0660 2 * * 0"), "gc.schedule"),
    ("a free-form CPU request", at("registry.resources.cpu_request", "lots"), "registry.resources.cpu_request"),
    ("a negative memory limit", at("registry.resources.memory_limit", "-1Gi"), "registry.resources.memory_limit"),
    ("a request above its limit", at("registry.resources", {"memory_request": "1Gi", "memory_limit": "512Mi"}),
     "registry.resources.memory_request"),
    ("a label value with a newline", at("registry.placement.node_selector", {"disk": "ssd\n"}),
     "registry.placement.node_selector.disk"),
    ("a label value with a unicode letter", at("registry.placement.node_selector", {"disk": "s\u00e9d"}),
     "registry.placement.node_selector.disk"),
    ("a StorageClass with capitals", at("registry.storage.storage_class", "Fast SSD"), "registry.storage.storage_class"),
    ("a StorageClass ending in a newline", at("registry.storage.storage_class", "fast\n"), "registry.storage.storage_class"),
    ("a Harbor StorageClass with an underscore", at("harbor.persistence.registry.storage_class", "fast_ssd"),
     "harbor.persistence.registry.storage_class"),
    ("an IngressClass with a slash", at("registry.ingress.class_name", "nginx/public"), "registry.ingress.class_name"),
    ("an Ingress annotation key with a space", at("registry.ingress.annotations", {"my key": "x"}),
     "registry.ingress.annotations.my key"),
    ("a release label value Kubernetes refuses", at("monitoring.release_label", {"release": "kube prometheus"}),
     "monitoring.release_label.release"),
    ("a Redis password with a space",
     at("registry.cache", {"redis": "deploy", "password": "two words"}), "registry.cache.password"),
    ("a Redis password with a newline that would add a directive",
     at("registry.cache", {"redis": "deploy", "password": "pw\nrename-command CONFIG ''"}), "registry.cache.password"),
    ("a Redis password with a quote",
     at("registry.cache", {"redis": "deploy", "password": 'pw"x'}), "registry.cache.password"),
    ("a Redis address ending in a newline",
     at("registry.cache", {"redis": "external", "address": "redis.db:6379\n"}), "registry.cache.address"),
    ("retention with an empty repository list",
     {"auth": AUTH, "retention": {"enabled": True, "rules": [{"repositories": [], "keep_last": 3}]}},
     "retention.rules[0]"),
    ("a retention rule without a limit",
     {"auth": AUTH, "retention": {"enabled": True, "rules": [{"repositories": ["*"]}]}}, "retention.rules[0]"),
    ("a retention rule with a broken regex",
     {"auth": AUTH, "retention": {"enabled": True, "rules": [{**RULE, "protected": ["re:("]}]}},
     "retention.rules[0].protected"),
    ("a retention regex that backtracks for hours on a chosen tag",
     {"auth": AUTH, "retention": {"enabled": True, "rules": [{**RULE, "protected": ["re:(a+)+$"]}]}},
     "retention.rules[0].protected"),
    ("a retention repository glob with an unclosed class",
     {"auth": AUTH, "retention": {"enabled": True, "rules": [{**RULE, "repositories": ["team/[ab"]}]}},
     "retention.rules[0].repositories[0]"),
    ("a node-trust endpoint '..' (a folder above certs.d)",
     at("node_trust.endpoints", [".."]), "node_trust.endpoints[0]"),
    ("a node-trust endpoint with a slash", at("node_trust.endpoints", ["a/../../etc"]), "node_trust.endpoints[0]"),
    ("a node-trust endpoint ending in a newline", at("node_trust.endpoints", ["registry.lab:5000\n"]),
     "node_trust.endpoints[0]"),
    ("a node-trust endpoint with port 0", at("node_trust.endpoints", ["registry.lab:0"]), "node_trust.endpoints[0]"),
    ("a certs_dir with '..'", at("node_trust.certs_dir", "/etc/containerd/../../tmp"), "node_trust.certs_dir"),
    ("a certs_dir with a quote (breaks hosts.toml)", at("node_trust.certs_dir", '/etc/"x'), "node_trust.certs_dir"),
    ("a realm with a quote (breaks the WWW-Authenticate header)", at("auth.realm", 'a"b'), "auth.realm"),
    ("a realm with a newline", at("auth.realm", "regstack\n"), "auth.realm"),
    ("a user password with a NUL byte (bcrypt refuses it)",
     {"auth": {"enabled": True, "users": [{"name": "dev", "password": "pw\x00"}]}}, "auth.users[0].password"),
    ("an upstream user name with a colon (Basic auth splits there)",
     at("registry.proxy", {"remote_url": "https://registry-1.docker.io", "username": "a:b", "password": "pw"}),
     "registry.proxy.username"),
    ("an image with a tag in the repository field", at("registry.image", "docker.io/library/registry:2"),
     "registry.image"),
    ("an image with a space", at("gc.helper_image", "python 3"), "gc.helper_image"),
    ("an S3 region with a newline",
     at("registry.storage", {"type": "s3", "s3": {"bucket": "images", "region": "eu\n"}}),
     "registry.storage.s3.region"),
    ("an S3 root directory with '..'",
     at("registry.storage", {"type": "s3", "s3": {"bucket": "images", "root_directory": "/a/../b"}}),
     "registry.storage.s3.root_directory"),
    ("an S3 endpoint ending in a newline",
     at("registry.storage", {"type": "s3", "s3": {"bucket": "images", "endpoint": "http://minio:9000\n"}}),
     "registry.storage.s3.endpoint"),
    ("a bucket ending in a newline",
     at("registry.storage", {"type": "s3", "s3": {"bucket": "images\n"}}), "registry.storage.s3.bucket"),
    ("a certificate duration cert-manager refuses (under 1h)", at("tls.duration", "30m"), "tls.duration"),
    ("a duration ending in a newline", at("tls.duration", "2160h\n"), "tls.duration"),
    ("an SSH user with a space", at("microk8s.user", "ubuntu admin"), "microk8s.user"),
    ("a node's SSH host with a newline", at("node_trust.nodes", [{"host": "node1\n"}]), "node_trust.nodes[0].host"),
    ("a runbook URL with a space", at("monitoring.runbook_url", "https://x/run book"), "monitoring.runbook_url"),
    ("a Harbor seed shorter than 32 characters",
     {"backend": "harbor", "registry": {"hostnames": ["harbor.lab"]},
      "harbor": {"admin_password": "Harbor12345", "secret_seed": "short"}}, "harbor.secret_seed"),
    ("a chart version ending in a newline", at("harbor.chart.version", "1.19.2\n"), "harbor.chart.version"),
    ("a Prometheus duration ending in a newline", at("monitoring.interval", "30s\n"), "monitoring.interval"),
    ("a toleration key ending in a newline",
     at("registry.placement.tolerations", [{"key": "dedicated\n", "operator": "Exists"}]),
     "registry.placement.tolerations[0].key"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "path"), [(raw, path) for _, raw, path in REFUSED],
                         ids=[why for why, _, _ in REFUSED])  # fmt: skip
def test_input_that_breaks_a_deployment_is_refused_at_its_path(
    raw: dict[str, Any], path: str
) -> None:
    assert path in refused(raw)


ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("day names in any case, as robfig/cron reads them", at("gc.schedule", "0 2 * * SUN")),
    ("lower-case day and month names", at("gc.schedule", "30 3 1 jan sun")),
    ("a range of day names with a step", at("gc.schedule", "0 2 * * MON-FRI/2")),
    ("a month range by name", at("gc.schedule", "0 0 1 JAN-JUN *")),
    ("question marks for day fields", at("gc.schedule", "0 2 ? * 0")),
    ("N/step, which robfig reads as N-max/step", at("gc.schedule", "5/15 * * * *")),
    ("a macro", at("gc.schedule", "@weekly")),
    ("CPU in millicores and memory in binary units",
     at("registry.resources", {"cpu_request": "250m", "cpu_limit": "1.5", "memory_request": "256Mi"})),
    ("an exponent quantity", at("registry.resources", {"memory_request": "128974848", "memory_limit": "129e6"})),
    ("a dotted StorageClass", at("registry.storage.storage_class", "ebs.csi.aws.com")),
    ("a node-trust endpoint that is an IP and port", at("node_trust.endpoints", ["10.0.0.5:32000"])),
    ("a node-trust endpoint that is an IPv6 address and port", at("node_trust.endpoints", ["[fd00::5]:32000"])),
    ("an SSH host that is an address", at("microk8s.host", "192.168.1.20")),
    ("a wildcard host name", at("registry.hostnames", ["*.lab.example"])),
    ("a Redis password of printable ASCII", at("registry.cache", {"redis": "deploy", "password": "p@ss!w0rd#$%"})),
    ("a realm with spaces", at("auth.realm", "Lab registry")),
    ("an image on a registry with a port", at("registry.image", "registry.lab:5000/mirror/registry")),
    ("a retention rule governing a whole tree (Harbor's doublestar)",
     {"auth": AUTH, "retention": {"enabled": True, "rules": [{**RULE, "repositories": ["team/**", "{a,b}/*"]}]}}),
    ("a retention rule with a glob and a regex",
     {"auth": AUTH, "retention": {"enabled": True,
                                  "rules": [{**RULE, "protected": ["release-*", "re:^hotfix-[0-9]+$"]}]}}),
]  # fmt: skip


@pytest.mark.parametrize("raw", [raw for _, raw in ACCEPTED], ids=[why for why, _ in ACCEPTED])
def test_input_the_consumers_take_is_accepted(raw: dict[str, Any]) -> None:
    load_config(raw)


def test_a_hostname_is_kept_in_lower_case() -> None:
    assert load_config(at("registry.hostnames", ["Registry.LAB"])).registry.hostnames == [
        "registry.lab"
    ]


def test_retention_errors_are_the_engines_own() -> None:
    raw = {"auth": AUTH, "retention": {"enabled": True, "rules": [{"repositories": ["*"]}]}}
    assert "set keep_last, max_age_days or both" in refused(raw)["retention.rules[0]"]


def test_every_problem_is_reported_at_once() -> None:
    raw = merged(at("registry.namespace", "registry\n"), at("gc.schedule", "0 2 * * 7"))
    assert {"registry.namespace", "gc.schedule"} <= set(refused(raw))


# --- the grammar, drawn -------------------------------------------------------------------------

FIELDS = [
    ("registry.namespace", grammar.DNS_LABEL),
    ("registry.storage.storage_class", grammar.DNS_SUBDOMAIN),
    ("registry.storage.size", grammar.SIZE),
    ("registry.version", grammar.RELEASE),
    ("registry.ingress.class_name", grammar.DNS_SUBDOMAIN),
    ("gc.schedule", grammar.SCHEDULE),
    ("auth.realm", grammar.REALM),
    ("pull_secrets.secret_name", grammar.DNS_LABEL),
    ("monitoring.namespace", grammar.DNS_LABEL),
    ("tls.dns_names", grammar.HOSTNAME.map(lambda host: [host])),
    ("registry.placement.node_selector", grammar.LABELS),
]


@settings(max_examples=150, derandomize=True, deadline=None)
@given(st.sampled_from(FIELDS).flatmap(lambda field: st.tuples(st.just(field[0]), field[1])))
def test_a_value_from_its_fields_grammar_is_accepted(drawn: tuple[str, Any]) -> None:
    path, value = drawn
    load_config(at(path, value))


def _spoiled(value: Any, spoil: str) -> Any:
    if isinstance(value, str):
        return value + spoil
    if isinstance(value, list):
        return [_spoiled(item, spoil) for item in value]
    return {key: _spoiled(item, spoil) for key, item in value.items()}


@settings(max_examples=150, derandomize=True, deadline=None)
@given(
    st.sampled_from([f for f in FIELDS if f[0] != "auth.realm"]).flatmap(
        lambda field: st.tuples(st.just(field[0]), field[1].filter(bool))
    ),
    st.sampled_from(["\n", "\u0131", "\u0663", " ", "\t"]),
)
def test_the_same_value_with_a_newline_or_a_non_ascii_character_is_refused(
    drawn: tuple[str, Any], spoil: str
) -> None:
    path, value = drawn
    assume(value not in ({}, []) and not (path == "gc.schedule" and spoil == " "))
    assert refused(at(path, _spoiled(value, spoil)))
