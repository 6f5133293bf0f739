"""Generated Pods for the Pod Security tests: a compliant base, then controls broken alone or
together, and valid edge cases (NET_BIND_SERVICE, Localhost profiles, safe sysctls, settings on
the pod rather than the container, Windows pods).

Every Pod is one the API server accepts as valid, so that its Pod Security verdict is what a
server-side dry run answers: the mutations draw only valid field values, and `api_valid` drops
the combinations validation refuses (e.g. `hostUsers: false` beside a host namespace).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

IMAGE = "registry.example.com/app:1.2.3"
Draw = Callable[[st.SearchStrategy[Any]], Any]

RESTRICTED_CONTAINER = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def base_pod(style: str, init_container: bool) -> dict[str, Any]:
    """`container`/`pod`: restricted, set on each container or (where allowed) on the pod;
    `bare`: no securityContext (baseline only); `windows`: a restricted Windows pod."""
    pod_context: dict[str, Any] = {}
    context: dict[str, Any] | None = RESTRICTED_CONTAINER
    if style == "pod":
        pod_context = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
        context = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    elif style == "bare":
        context = None
    elif style == "windows":
        pod_context, context = {"runAsNonRoot": True}, None
    names = ["init", "app"] if init_container else ["app"]
    containers = [
        {
            "name": name,
            "image": IMAGE,
            **({"securityContext": copy.deepcopy(context)} if context else {}),
        }
        for name in names
    ]
    spec: dict[str, Any] = {"containers": containers[-1:], "automountServiceAccountToken": False}
    if init_container:
        spec["initContainers"] = containers[:1]
    if pod_context:
        spec["securityContext"] = pod_context
    if style == "windows":
        spec["os"] = {"name": "windows"}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "generated"}, "spec": spec}


def _target(draw: Draw, pod: dict[str, Any]) -> dict[str, Any]:
    spec = pod["spec"]
    return draw(st.sampled_from(spec.get("initContainers", []) + spec["containers"]))


def _context(container_or_spec: dict[str, Any]) -> dict[str, Any]:
    return container_or_spec.setdefault("securityContext", {})


def _where(draw: Draw, pod: dict[str, Any]) -> dict[str, Any]:
    """The pod's or one container's securityContext."""
    if draw(st.booleans()):
        return _context(pod["spec"])
    return _context(_target(draw, pod))


# --- mutations: each draws its own values and changes the pod in place ------------------------


def host_process(draw: Draw, pod: dict[str, Any]) -> None:
    # Validation wants hostNetwork beside it; every container then inherits it from the pod.
    pod["spec"]["hostNetwork"] = True
    _context(pod["spec"])["windowsOptions"] = {"hostProcess": True}


def host_namespaces(draw: Draw, pod: dict[str, Any]) -> None:
    for field in draw(st.lists(st.sampled_from(["hostNetwork", "hostPID", "hostIPC"]),
                               min_size=1, unique=True)):  # fmt: skip
        pod["spec"][field] = draw(st.booleans())


def privileged(draw: Draw, pod: dict[str, Any]) -> None:
    context = _context(_target(draw, pod))
    context["privileged"] = draw(st.booleans())
    if context["privileged"]:
        context.pop("allowPrivilegeEscalation", None)  # validation: privileged escalates


CAPABILITIES = ["NET_BIND_SERVICE", "CHOWN", "SETUID", "KILL", "SYS_CHROOT", "AUDIT_WRITE",
                "SYS_ADMIN", "NET_RAW", "NET_ADMIN", "SYS_PTRACE", "ALL", "chown"]  # fmt: skip


def capabilities(draw: Draw, pod: dict[str, Any]) -> None:
    caps = _context(_target(draw, pod)).setdefault("capabilities", {})
    if draw(st.booleans()):
        caps["add"] = draw(st.lists(st.sampled_from(CAPABILITIES), min_size=1, max_size=2,
                                    unique=True))  # fmt: skip
    if draw(st.booleans()):
        caps["drop"] = draw(st.sampled_from([[], ["NET_RAW"], ["all"], ["ALL", "NET_RAW"]]))


VOLUMES = {
    "configMap": {"name": "settings"},
    "secret": {"secretName": "creds"},
    "emptyDir": {},
    "csi": {"driver": "csi.example.com"},
    "persistentVolumeClaim": {"claimName": "data"},
    "projected": {"sources": []},
    "downwardAPI": {"items": []},
    "ephemeral": {"volumeClaimTemplate": {"spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}},
    "hostPath": {"path": "/var/log"},
    "nfs": {"server": "nfs.example.com", "path": "/exports"},
    "gitRepo": {"repository": "https://git.example.com/repo.git"},
    "cephfs": {"monitors": ["10.0.0.1:6789"]},
    "azureFile": {"secretName": "azure", "shareName": "share"},
    "flexVolume": {"driver": "example.com/flex"},
    None: None,  # no source at all: the API server makes it an emptyDir
}  # fmt: skip


def volumes(draw: Draw, pod: dict[str, Any]) -> None:
    kinds = draw(st.lists(st.sampled_from(list(VOLUMES)), min_size=1, max_size=2, unique=True))
    pod["spec"]["volumes"] = [
        {"name": f"v{i}", **({kind: VOLUMES[kind]} if kind else {})} for i, kind in enumerate(kinds)
    ]


def host_ports(draw: Draw, pod: dict[str, Any]) -> None:
    port: dict[str, Any] = {"containerPort": 8080}
    host_port = draw(st.sampled_from([None, 0, 8080, 80, 30000, 65535]))
    if host_port is not None:
        port["hostPort"] = host_port
    _target(draw, pod)["ports"] = [port]


def probe_hosts(draw: Draw, pod: dict[str, Any]) -> None:
    container = pod["spec"]["containers"][0]  # an init container may have no probe or hook
    host = draw(st.sampled_from(["", "10.0.0.1", "example.com", "localhost"]))
    place = draw(st.sampled_from(["livenessProbe", "readinessProbe", "startupProbe",
                                  "postStart", "preStop"]))  # fmt: skip
    if place in ("postStart", "preStop"):
        container["lifecycle"] = {place: {"httpGet": {"port": 8080, "host": host}}}
    else:
        action = draw(st.sampled_from(["httpGet", "tcpSocket"]))
        container[place] = {action: {"port": 8080, "host": host}}


PROFILES = [{"type": "RuntimeDefault"}, {"type": "Unconfined"},
            {"type": "Localhost", "localhostProfile": "profiles/audit.json"}]  # fmt: skip


def app_armor(draw: Draw, pod: dict[str, Any]) -> None:
    if draw(st.booleans()):
        profile = dict(draw(st.sampled_from(PROFILES)))
        _where(draw, pod)["appArmorProfile"] = profile
        return
    # The annotation of a container with no field of its own (validation wants both to agree).
    container = draw(st.sampled_from(pod["spec"].get("initContainers", []) +
                                     pod["spec"]["containers"]))  # fmt: skip
    container.get("securityContext", {}).pop("appArmorProfile", None)
    value = draw(st.sampled_from(["runtime/default", "localhost/audit", "unconfined"]))
    key = f"container.apparmor.security.beta.kubernetes.io/{container['name']}"
    pod["metadata"].setdefault("annotations", {})[key] = value


def selinux(draw: Draw, pod: dict[str, Any]) -> None:
    options: dict[str, str] = {}
    kind = draw(st.sampled_from(["", "container_t", "container_init_t", "container_kvm_t",
                                 "container_engine_t", "spc_t", "unconfined_t"]))  # fmt: skip
    if kind:
        options["type"] = kind
    if draw(st.integers(0, 3)) == 0:
        options["user"] = "system_u"
    if draw(st.integers(0, 3)) == 0:
        options["role"] = "system_r"
    _where(draw, pod)["seLinuxOptions"] = options


def proc_mount(draw: Draw, pod: dict[str, Any]) -> None:
    mount = draw(st.sampled_from(["Default", "Unmasked"]))
    if mount == "Unmasked":
        pod["spec"]["hostUsers"] = False  # validation allows Unmasked in a user namespace only
    _context(_target(draw, pod))["procMount"] = mount


def seccomp(draw: Draw, pod: dict[str, Any]) -> None:
    for context in draw(st.lists(st.sampled_from(["pod", "container", "none"]), min_size=1,
                                 max_size=2, unique=True)):  # fmt: skip
        where = _context(pod["spec"]) if context == "pod" else _context(_target(draw, pod))
        if context == "none":
            where.pop("seccompProfile", None)
        else:
            where["seccompProfile"] = dict(draw(st.sampled_from(PROFILES)))


# Safe and unsafe interleaved: Hypothesis leans towards the first of a list.
SYSCTLS = ["kernel.shm_rmid_forced", "kernel.msgmax", "net.ipv4.ip_local_port_range",
           "net.core.somaxconn", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
           "kernel.sem", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports",
           "net.ipv4.tcp_keepalive_time", "vm.swappiness", "net.ipv4.tcp_fin_timeout",
           "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem",
           "net.ipv4.tcp_wmem"]  # fmt: skip
SYSCTL_VALUES = {"net.ipv4.ip_local_port_range": "32768 60999", "net.ipv4.tcp_rmem": "4096 87380 6291456",
                 "net.ipv4.tcp_wmem": "4096 16384 4194304", "kernel.sem": "250 32000 32 128",
                 "net.ipv4.ping_group_range": "0 2147483647"}  # fmt: skip


def sysctls(draw: Draw, pod: dict[str, Any]) -> None:
    names = draw(st.lists(st.sampled_from(SYSCTLS), min_size=1, max_size=2, unique=True))
    _context(pod["spec"])["sysctls"] = [
        {"name": name, "value": SYSCTL_VALUES.get(name, "1")} for name in names
    ]


def _true_false_or_unset(draw: Draw, context: dict[str, Any], field: str) -> None:
    value = draw(st.sampled_from([True, False, None]))
    context.pop(field, None)
    if value is not None:
        context[field] = value


def privilege_escalation(draw: Draw, pod: dict[str, Any]) -> None:
    _true_false_or_unset(draw, _context(_target(draw, pod)), "allowPrivilegeEscalation")


def run_as_non_root(draw: Draw, pod: dict[str, Any]) -> None:
    _true_false_or_unset(draw, _where(draw, pod), "runAsNonRoot")


def run_as_user(draw: Draw, pod: dict[str, Any]) -> None:
    _where(draw, pod)["runAsUser"] = draw(st.sampled_from([0, 1000, 65534]))


Mutation = Callable[[Draw, dict[str, Any]], None]
# Mutations that set fields a Windows pod may not have.
LINUX_ONLY: tuple[Mutation, ...] = (privileged, capabilities, app_armor, selinux, proc_mount,
                                    seccomp, sysctls, privilege_escalation, run_as_user)  # fmt: skip
# Hypothesis leans towards the first: the rarer controls come first, hostProcess (never alone)
# last.
MUTATIONS: tuple[Mutation, ...] = (sysctls, volumes, host_ports, probe_hosts, run_as_non_root,
                                   privileged, capabilities, app_armor, selinux, proc_mount,
                                   seccomp, privilege_escalation, run_as_user, host_namespaces,
                                   host_process)  # fmt: skip


def api_valid(pod: dict[str, Any]) -> bool:
    """False for combinations API validation refuses, whatever Pod Security would say."""
    spec = pod["spec"]
    context = spec.get("securityContext", {})
    host_namespace = any(spec.get(f) for f in ("hostNetwork", "hostPID", "hostIPC"))
    if spec.get("hostUsers") is False and host_namespace:
        return False
    sysctl_names = [s["name"] for s in context.get("sysctls", [])]
    if spec.get("hostNetwork") and any(n.startswith("net.") for n in sysctl_names):
        return False
    if spec.get("hostIPC") and any(n.startswith(("kernel.shm", "kernel.msg", "kernel.sem"))
                                   for n in sysctl_names):  # fmt: skip
        return False
    host_process = (context.get("windowsOptions") or {}).get("hostProcess")
    if host_process and (not spec.get("hostNetwork") or spec.get("hostUsers") is False):
        return False
    if spec.get("hostNetwork") and any(
        port.get("hostPort") not in (None, 0, port["containerPort"])
        for c in spec.get("initContainers", []) + spec["containers"]
        for port in c.get("ports", [])
    ):
        return False  # under hostNetwork, a hostPort is its containerPort
    for c in spec.get("initContainers", []) + spec["containers"]:
        context = c.get("securityContext", {})
        added = context.get("capabilities", {}).get("add", [])
        if context.get("allowPrivilegeEscalation") is False and "SYS_ADMIN" in added:
            return False  # validation: CAP_SYS_ADMIN escalates
    windows = spec.get("os", {}).get("name") == "windows"
    return not (windows and (spec.get("hostPID") or spec.get("hostIPC")))


@st.composite
def pods(draw: Draw, alone: Mutation | None = None) -> dict[str, Any]:
    """A Pod manifest: a base, then as many different mutations as drawn (mostly one or two);
    with `alone`, that mutation only, on a base that meets `restricted`."""
    if alone is None:
        styles = ["container", "pod", "windows", "bare"]
    else:
        styles = ["container", "pod"] + (["windows"] if alone not in LINUX_ONLY else [])
    style = draw(st.sampled_from(styles))
    pod = base_pod(style, init_container=draw(st.booleans()))
    if alone is not None:
        alone(draw, pod)
        return pod
    allowed = [m for m in MUTATIONS if style != "windows" or m not in LINUX_ONLY]
    count = draw(st.sampled_from([1, 2, 0, 3]))
    for mutation in draw(st.lists(st.sampled_from(allowed), min_size=count, max_size=count,
                                  unique=True)):  # fmt: skip
        mutation(draw, pod)
    return pod


def valid_pods(alone: Mutation | None = None) -> st.SearchStrategy[dict[str, Any]]:
    return pods(alone).filter(api_valid)


# Mutations an ephemeral container can carry: no ports, probes or hooks; pod fields stay as the
# running pod has them, so what a mutation sets on the pod is dropped.
EPHEMERAL_MUTATIONS: tuple[Mutation, ...] = (privileged, capabilities, app_armor, selinux,
                                             seccomp, privilege_escalation, run_as_non_root,
                                             run_as_user)  # fmt: skip


@st.composite
def ephemeral_containers(draw: Draw) -> dict[str, Any]:
    """A debugging container to add to a running pod (the `ephemeralcontainers` subresource)."""
    scratch = base_pod(draw(st.sampled_from(["container", "bare"])), init_container=False)
    for mutation in draw(st.lists(st.sampled_from(EPHEMERAL_MUTATIONS), max_size=3, unique=True)):
        mutation(draw, scratch)
    debug = {**scratch["spec"]["containers"][0], "name": "debug"}
    # What a mutation meant for the pod goes on the container instead.
    for key, value in scratch["spec"].get("securityContext", {}).items():
        debug.setdefault("securityContext", {}).setdefault(key, value)
    return debug
