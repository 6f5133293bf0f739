"""Hypothesis strategies that draw config values from each field's grammar (the grammar of the
file, label, object name or header the value ends up in), and whole configs built from them.

The property tests feed these to `validate` and, in e2e, render what it accepts and send every
object to the real API server (server-side dry run).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def regex(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True)


# Kubernetes names and labels (apimachinery's validation), kept short so examples stay readable.
DNS_LABEL = regex(r"[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?")
DNS_SUBDOMAIN = st.lists(DNS_LABEL, min_size=1, max_size=3).map(".".join)
LABEL_NAME = regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,14}[A-Za-z0-9])?")
LABEL_KEY = st.one_of(LABEL_NAME, st.tuples(DNS_SUBDOMAIN, LABEL_NAME).map("/".join))
LABEL_VALUE = st.one_of(st.just(""), LABEL_NAME)
LABELS = st.dictionaries(LABEL_KEY, LABEL_VALUE, max_size=3)

# Host names (RFC 1123, a non-numeric top label), wildcards as certificates and Ingresses take.
HOST_LABEL = regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?")
TOP_LABEL = regex(r"[a-z]([a-z0-9-]{0,6}[a-z0-9])?")
HOSTNAME = st.tuples(st.lists(HOST_LABEL, min_size=1, max_size=3), TOP_LABEL).map(
    lambda parts: ".".join([*parts[0], parts[1]])
)
HOSTNAMES = st.lists(st.one_of(HOSTNAME, HOSTNAME.map("*.".__add__)), max_size=2, unique=True)

# Kubernetes quantities: CPU in cores or millicores, memory in binary or decimal units.
CPU = st.one_of(st.integers(1, 4000).map("{}m".format), st.integers(1, 8).map(str),
                st.sampled_from(["0.5", "1.5", "2e0"]))  # fmt: skip
MEMORY = st.one_of(st.integers(64, 4096).map("{}Mi".format), st.integers(1, 4).map("{}Gi".format),
                   st.integers(100, 900).map("{}M".format), st.just("129e6"))  # fmt: skip
SIZE = st.one_of(st.integers(1, 500).map("{}Gi".format), st.integers(1, 2).map("{}Ti".format))

# robfig/cron v3 (Kubernetes CronJob): numbers, names in any case, ranges, steps, lists, `?`.
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


@st.composite
def cron_field(draw: st.DrawFn, low: int, high: int, names: list[str], question: bool) -> str:
    def value(at_least: int = low) -> tuple[int, str]:
        number = draw(st.integers(at_least, high))
        if len(names) > 0 and draw(st.booleans()):
            name = names[number - low]
            return number, draw(st.sampled_from([name, name.upper(), name.title()]))
        return number, str(number)

    kind = draw(
        st.sampled_from(["*", "value", "range", "step", "list"] + (["?"] if question else []))
    )
    if kind in ("*", "?"):
        return kind
    if kind == "value":
        return value()[1]
    if kind == "range":
        start, first = value()
        return f"{first}-{value(start)[1]}"
    if kind == "step":
        return f"{draw(st.sampled_from(['*', value()[1]]))}/{draw(st.integers(1, high))}"
    return ",".join(value()[1] for _ in range(draw(st.integers(2, 3))))


SCHEDULE = st.one_of(
    st.tuples(cron_field(0, 59, [], False), cron_field(0, 23, [], False),
              cron_field(1, 31, [], True), cron_field(1, 12, _MONTHS, False),
              cron_field(0, 6, _DAYS, True)).map(" ".join),
    st.sampled_from(["@daily", "@weekly", "@monthly", "@hourly", "@midnight", "@yearly"]),
)  # fmt: skip

TAG = regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}").filter(lambda t: t != "latest")
RELEASE = regex(r"3\.(1\.[2-9]|[2-9]\.[0-9])")
USER = regex(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,15}")
PASSWORD = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\x7f"),
                   min_size=1, max_size=24)  # fmt: skip
REDIS_PASSWORD = regex(r"[!#-&(-~]{1,24}")
REALM = regex(r"[ !#-\[\]-~]{1,24}")
PROM_DURATION = st.sampled_from(["30s", "1m", "2m30s", "1h", "15s"])
GLOB = regex(r"[a-z0-9*/_.-]{1,16}")


@st.composite
def distribution_config(draw: st.DrawFn) -> dict[str, Any]:
    """A distribution-backend config whose every string comes from its field's grammar."""
    users = draw(st.lists(USER, min_size=1, max_size=2, unique=True))
    hostnames = draw(HOSTNAMES)
    ingress = bool(hostnames) and draw(st.booleans())
    cpu = sorted([draw(CPU), draw(CPU)], key=_cores)
    memory = sorted([draw(MEMORY), draw(MEMORY)], key=_bytes)
    raw: dict[str, Any] = {
        "profile": "dev",
        "skip_await": True,
        "registry": {
            "namespace": draw(DNS_LABEL),
            # A release regstack renders config.yml for (validation refuses other tags).
            "version": draw(RELEASE),
            "hostnames": hostnames,
            "ingress": {"enabled": ingress, "class_name": draw(st.none() | DNS_SUBDOMAIN),
                        "annotations": draw(st.dictionaries(LABEL_KEY, st.text(max_size=12), max_size=2))},
            "storage": {"size": draw(SIZE), "storage_class": draw(st.none() | DNS_SUBDOMAIN)},
            # NodePorts away from the other e2e stacks' (32000, 30002, 30003).
            "service": draw(st.sampled_from([{"type": "ClusterIP"},
                                             {"type": "NodePort", "node_port": 30400}])),
            "resources": {"cpu_request": cpu[0], "cpu_limit": cpu[1],
                          "memory_request": memory[0], "memory_limit": memory[1]},
            "placement": {"node_selector": draw(LABELS),
                          "tolerations": draw(st.lists(st.fixed_dictionaries({
                              "key": LABEL_KEY, "operator": st.just("Equal"), "value": LABEL_VALUE,
                              "effect": st.sampled_from(["NoSchedule", "NoExecute"])}), max_size=2))},
            "cache": draw(st.sampled_from(["none", "deploy"]).flatmap(
                lambda kind: st.just({"redis": "none"}) if kind == "none"
                else st.fixed_dictionaries({"redis": st.just("deploy"), "password": REDIS_PASSWORD}))),
        },
        "tls": {"mode": draw(st.sampled_from(["none", "self-signed"])),
                "dns_names": draw(st.lists(HOSTNAME, max_size=2, unique=True))},
        "auth": {"enabled": True, "realm": draw(REALM), "bcrypt_cost": 10,
                 "users": [{"name": user, "password": draw(PASSWORD)} for user in users]},
        "pull_secrets": {"namespaces": draw(st.lists(DNS_LABEL, max_size=2, unique=True)),
                         "secret_name": draw(DNS_LABEL)},
        "gc": {"schedule": draw(SCHEDULE)},
        "retention": {"enabled": draw(st.booleans()), "schedule": draw(SCHEDULE),
                      "rules": [{"repositories": draw(st.lists(GLOB, min_size=1, max_size=2)),
                                 "keep_last": draw(st.integers(0, 50))}]},
        "monitoring": {"enabled": draw(st.booleans()), "namespace": draw(DNS_LABEL),
                       "release_label": draw(LABELS), "prometheus_pod_labels": draw(LABELS),
                       "interval": draw(PROM_DURATION)},
    }  # fmt: skip
    return raw


def _cores(text: str) -> float:
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def _bytes(text: str) -> float:
    units = {"Mi": 2**20, "Gi": 2**30, "M": 10**6}
    for suffix, scale in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * scale
    return float(text)
