"""The Baseline and Restricted Pod Security Standards, control for control, as Kubernetes 1.34's
Pod Security Admission checks them (k8s.io/pod-security-admission/policy at v0.34.4).

Each control reads the fields its check reads, with the same allowed values, so the pack refuses
exactly what an API server would refuse in a namespace labelled `enforce: restricted` (or
`baseline`); tests/e2e/test_pod_security_e2e.py proves it on generated pods. The API server's own
choices this mirrors: `ProbeHostPodSecurityStandards` is on (GA, locked in 1.34);
`UserNamespacesPodSecurityStandards` is off (alpha), so `hostUsers: false` relaxes nothing; seccomp
annotations have done nothing since 1.27, so only the fields count. Where Kubernetes checks
workload pod templates, so does this: its messages name the field and the fix instead of the
check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Level = Literal["baseline", "restricted"]

# Container lists in the order the admission checks visit them.
CONTAINER_KINDS = (
    ("initContainers", "initContainer"),
    ("containers", "container"),
    ("ephemeralContainers", "ephemeralContainer"),
)

BASELINE_CAPABILITIES = ("AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                         "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID",
                         "SYS_CHROOT")  # fmt: skip
# Namespaced to the pod and isolated from other pods (the 1.32+ list).
SAFE_SYSCTLS = ("kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
                "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
                "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem")  # fmt: skip
SELINUX_TYPES = ("container_t", "container_init_t", "container_kvm_t", "container_engine_t")
PROFILE_TYPES = ("RuntimeDefault", "Localhost")  # seccomp and AppArmor alike
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
RESTRICTED_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
                      "persistentVolumeClaim", "projected", "secret")  # fmt: skip
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
HOOKS = ("postStart", "preStop")
VOLUME_ALTERNATIVES = "a PersistentVolumeClaim, emptyDir, ConfigMap or Secret volume"


def get_in(value: Any, *path: str) -> Any:
    """`value[path[0]][path[1]]...`, or None where a step is missing or not a mapping."""
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _is_zero(value: Any) -> bool:
    """0 as JSON or protobuf sends it (0 or 0.0), but never `False`."""
    return isinstance(value, int | float) and not isinstance(value, bool) and value == 0


@dataclass(frozen=True)
class PodTemplate:
    """A pod's metadata and spec, wherever its workload keeps them, and how to name it."""

    where: str
    metadata: Mapping[str, Any]
    spec: Mapping[str, Any]

    @property
    def context(self) -> Mapping[str, Any]:
        return self.spec.get("securityContext") or {}

    @property
    def windows(self) -> bool:
        return get_in(self.spec, "os", "name") == "windows"

    def containers(
        self, keys: tuple[str, ...] = ("initContainers", "containers", "ephemeralContainers")
    ) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """(`"<where>, <kind> <name>"`, container) for every container, init and ephemeral too."""
        for key, kind in CONTAINER_KINDS:
            if key not in keys:
                continue
            for container in self.spec.get(key) or []:
                if isinstance(container, Mapping):
                    yield f"{self.where}, {kind} {container.get('name')}", container


def _context(container: Mapping[str, Any]) -> Mapping[str, Any]:
    return container.get("securityContext") or {}


# --- baseline controls -------------------------------------------------------------------------


def host_process(pod: PodTemplate) -> Iterator[str]:
    fix = "remove securityContext.windowsOptions.hostProcess: true (it runs on the node itself)"
    if get_in(pod.context, "windowsOptions", "hostProcess") is True:
        yield f"{pod.where}: {fix}"
    for where, container in pod.containers():
        if get_in(_context(container), "windowsOptions", "hostProcess") is True:
            yield f"{where}: {fix}"


def host_namespaces(pod: PodTemplate) -> Iterator[str]:
    for field, what in (("hostNetwork", "network"), ("hostPID", "processes"),
                        ("hostIPC", "IPC namespace")):  # fmt: skip
        if pod.spec.get(field) is True:
            yield f"{pod.where}: remove {field}: true (the pod would share the node's {what})"


def privileged(pod: PodTemplate) -> Iterator[str]:
    for where, container in pod.containers():
        if _context(container).get("privileged") is True:
            yield f"{where}: remove securityContext.privileged: true"


def capabilities_baseline(pod: PodTemplate) -> Iterator[str]:
    for where, container in pod.containers():
        added = get_in(_context(container), "capabilities", "add") or []
        for capability in added:
            if capability not in BASELINE_CAPABILITIES:
                yield (f"{where}: remove {capability} from securityContext.capabilities.add "
                       f"(baseline allows only {', '.join(BASELINE_CAPABILITIES)})")  # fmt: skip


def host_path_volumes(pod: PodTemplate) -> Iterator[str]:
    for volume in pod.spec.get("volumes") or []:
        if isinstance(volume, Mapping) and volume.get("hostPath") is not None:
            yield (f"{pod.where}: volume {volume.get('name')} is a hostPath; use "
                   f"{VOLUME_ALTERNATIVES} instead")  # fmt: skip


def _number(value: Any) -> Any:
    """protobuf sends every number as a double: 8080.0 reads better as 8080."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def host_ports(pod: PodTemplate) -> Iterator[str]:
    # The API server defaults a pod's hostPort to its containerPort under hostNetwork, so the
    # pods a workload makes have one even where its template does not.
    host_network = pod.spec.get("hostNetwork") is True
    for where, container in pod.containers():
        for index, port in enumerate(container.get("ports") or []):
            host_port = get_in(port, "hostPort")
            if host_port is not None and not _is_zero(host_port):
                yield (f"{where}: remove ports[{index}].hostPort: {_number(host_port)} (reach "
                       "the container through a Service instead)")  # fmt: skip
            elif host_network and get_in(port, "containerPort") is not None:
                yield (f"{where}: ports[{index}] becomes hostPort "
                       f"{_number(get_in(port, 'containerPort'))} under hostNetwork: true; remove "
                       "hostNetwork")  # fmt: skip


def app_armor(pod: PodTemplate) -> Iterator[str]:
    fix = "use RuntimeDefault or Localhost, or leave it unset"
    kind = get_in(pod.context, "appArmorProfile", "type")
    if get_in(pod.context, "appArmorProfile") is not None and kind not in PROFILE_TYPES:
        yield f"{pod.where}: securityContext.appArmorProfile.type {kind} is not allowed; {fix}"
    for where, container in pod.containers():
        profile = get_in(_context(container), "appArmorProfile")
        if profile is not None and get_in(profile, "type") not in PROFILE_TYPES:
            yield (f"{where}: securityContext.appArmorProfile.type {get_in(profile, 'type')} is not "
                   f"allowed; {fix}")  # fmt: skip
    for key, value in sorted((pod.metadata.get("annotations") or {}).items()):
        if not key.startswith(APPARMOR_ANNOTATION):
            continue
        if value in ("", "runtime/default") or str(value).startswith("localhost/"):
            continue
        yield (
            f"{pod.where}: annotation {key}: {value} is not allowed; set "
            "securityContext.appArmorProfile.type RuntimeDefault or Localhost instead"
        )


def _selinux_problems(options: Any) -> Iterator[str]:
    if not isinstance(options, Mapping):
        return
    kind = options.get("type") or ""
    if kind and kind not in SELINUX_TYPES:
        yield (f"securityContext.seLinuxOptions.type {kind} is not allowed; leave it unset or "
               f"use {', '.join(SELINUX_TYPES)}")  # fmt: skip
    for field in ("user", "role"):
        if options.get(field):
            yield f"remove securityContext.seLinuxOptions.{field} (custom SELinux {field}s are not allowed)"


def selinux(pod: PodTemplate) -> Iterator[str]:
    for problem in _selinux_problems(pod.context.get("seLinuxOptions")):
        yield f"{pod.where}: {problem}"
    for where, container in pod.containers():
        for problem in _selinux_problems(_context(container).get("seLinuxOptions")):
            yield f"{where}: {problem}"


def proc_mount(pod: PodTemplate) -> Iterator[str]:
    for where, container in pod.containers():
        mount = _context(container).get("procMount")
        if mount is not None and mount != "Default":
            yield (f"{where}: securityContext.procMount {mount} unmasks /proc; remove it "
                   "(or set Default)")  # fmt: skip


def _seccomp_type(context: Mapping[str, Any]) -> tuple[bool, Any]:
    profile = context.get("seccompProfile")
    return profile is not None, get_in(profile, "type")


def seccomp_baseline(pod: PodTemplate) -> Iterator[str]:
    fix = "use RuntimeDefault or Localhost"
    is_set, kind = _seccomp_type(pod.context)
    if is_set and kind not in PROFILE_TYPES:
        yield f"{pod.where}: securityContext.seccompProfile.type {kind} is not allowed; {fix}"
    for where, container in pod.containers():
        is_set, kind = _seccomp_type(_context(container))
        if is_set and kind not in PROFILE_TYPES:
            yield f"{where}: securityContext.seccompProfile.type {kind} is not allowed; {fix}"


def sysctls(pod: PodTemplate) -> Iterator[str]:
    for sysctl in pod.context.get("sysctls") or []:
        name = get_in(sysctl, "name")
        if name not in SAFE_SYSCTLS:
            yield (f"{pod.where}: remove {name} from securityContext.sysctls (it is not isolated "
                   f"to the pod; allowed: {', '.join(SAFE_SYSCTLS)})")  # fmt: skip


def probe_hosts(pod: PodTemplate) -> Iterator[str]:
    for where, container in pod.containers():
        places = [(probe, container.get(probe)) for probe in PROBES]
        places += [(f"lifecycle.{hook}", get_in(container, "lifecycle", hook)) for hook in HOOKS]
        for place, handler in places:
            for action in ("httpGet", "tcpSocket"):
                host = get_in(handler, action, "host")
                if host:
                    yield (f"{where}: remove {place}.{action}.host: {host} (probes and hooks "
                           "may only reach the pod itself)")  # fmt: skip


# --- restricted controls -----------------------------------------------------------------------


def restricted_volumes(pod: PodTemplate) -> Iterator[str]:
    for volume in pod.spec.get("volumes") or []:
        if not isinstance(volume, Mapping):
            continue
        sources = [k for k, v in volume.items() if k != "name" and v is not None]
        # No source at all is defaulted to emptyDir by the API server.
        if not sources or any(s in RESTRICTED_VOLUMES for s in sources):
            continue
        if "hostPath" in sources:
            yield from host_path_volumes(PodTemplate(pod.where, {}, {"volumes": [volume]}))
            continue
        yield (
            f"{pod.where}: volume {volume.get('name')} is a {sources[0]} volume, which "
            f"restricted does not allow; use {VOLUME_ALTERNATIVES} (a CSI driver for "
            "network storage) instead"
        )


def allow_privilege_escalation(pod: PodTemplate) -> Iterator[str]:
    if pod.windows:
        return
    for where, container in pod.containers():
        if _context(container).get("allowPrivilegeEscalation") is not False:
            yield f"{where}: set securityContext.allowPrivilegeEscalation: false"


def run_as_non_root(pod: PodTemplate) -> Iterator[str]:
    on_pod = pod.context.get("runAsNonRoot")
    if on_pod is False:
        yield f"{pod.where}: remove securityContext.runAsNonRoot: false (set it true)"
    for where, container in pod.containers():
        value = _context(container).get("runAsNonRoot")
        if value is False:
            yield f"{where}: remove securityContext.runAsNonRoot: false (set it true)"
        elif value is None and on_pod is not True:
            yield f"{where}: set securityContext.runAsNonRoot: true (on the container or the pod)"


def run_as_user(pod: PodTemplate) -> Iterator[str]:
    fix = "securityContext.runAsUser: 0 runs as root; use a non-zero UID or leave it unset"
    if _is_zero(pod.context.get("runAsUser")):
        yield f"{pod.where}: {fix}"
    for where, container in pod.containers():
        if _is_zero(_context(container).get("runAsUser")):
            yield f"{where}: {fix}"


def seccomp_restricted(pod: PodTemplate) -> Iterator[str]:
    if pod.windows:
        return
    yield from seccomp_baseline(pod)
    is_set, kind = _seccomp_type(pod.context)
    if is_set and kind in PROFILE_TYPES:
        return
    for where, container in pod.containers():
        if not _seccomp_type(_context(container))[0]:
            yield (f"{where}: set securityContext.seccompProfile.type: RuntimeDefault (on the "
                   "container or the pod; or Localhost)")  # fmt: skip


def capabilities_restricted(pod: PodTemplate) -> Iterator[str]:
    if pod.windows:
        return
    for where, container in pod.containers():
        capabilities = get_in(_context(container), "capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            yield f"{where}: set securityContext.capabilities.drop: [ALL]"
        for capability in capabilities.get("add") or []:
            if capability != "NET_BIND_SERVICE":
                yield (f"{where}: remove {capability} from securityContext.capabilities.add "
                       "(restricted allows only NET_BIND_SERVICE)")  # fmt: skip


# --- the standards -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Control:
    name: str
    check_id: str
    """The ID of the same check in k8s.io/pod-security-admission."""
    level: Level
    fields: str
    fix: str
    """What a message says, for the README (messages also name the workload and container)."""
    check: Callable[[PodTemplate], Iterator[str]]
    replaces: str | None = None
    """A baseline check this restricted one takes the place of, as in Kubernetes."""


# Stands for containers[*], initContainers[*] and ephemeralContainers[*] alike.
C = "*containers[*]"
CONTROLS = (
    Control("HostProcess", "windowsHostProcess", "baseline",
            f"securityContext.windowsOptions.hostProcess of the pod and {C}",
            "remove securityContext.windowsOptions.hostProcess: true (it runs on the node itself)",
            host_process),
    Control("Host namespaces", "hostNamespaces", "baseline", "hostNetwork, hostPID, hostIPC",
            "remove hostNetwork: true (the pod would share the node's network)",
            host_namespaces),
    Control("Privileged containers", "privileged", "baseline",
            f"{C}.securityContext.privileged", "remove securityContext.privileged: true",
            privileged),
    Control("Capabilities", "capabilities_baseline", "baseline",
            f"{C}.securityContext.capabilities.add",
            "remove SYS_ADMIN from securityContext.capabilities.add (baseline allows only "
            f"{', '.join(BASELINE_CAPABILITIES)})", capabilities_baseline),
    Control("HostPath volumes", "hostPathVolumes", "baseline", "volumes[*].hostPath",
            f"volume logs is a hostPath; use {VOLUME_ALTERNATIVES} instead", host_path_volumes),
    Control("Host ports", "hostPorts", "baseline",
            f"{C}.ports[*].hostPort (and containerPort under hostNetwork)",
            "remove ports[0].hostPort: 8080 (reach the container through a Service instead)",
            host_ports),
    Control("Host probes and lifecycle hooks", "hostProbesAndHostLifecycle", "baseline",
            f"{C}: livenessProbe, readinessProbe, startupProbe, lifecycle.postStart, "
            "lifecycle.preStop: httpGet.host, tcpSocket.host",
            "remove livenessProbe.httpGet.host: 10.0.0.1 (probes and hooks may only reach the "
            "pod itself)", probe_hosts),
    Control("AppArmor", "appArmorProfile", "baseline",
            f"securityContext.appArmorProfile.type of the pod and {C}; pod annotations "
            f"{APPARMOR_ANNOTATION}*",
            "securityContext.appArmorProfile.type Unconfined is not allowed; use RuntimeDefault "
            "or Localhost, or leave it unset", app_armor),
    Control("SELinux", "seLinuxOptions", "baseline",
            f"securityContext.seLinuxOptions.type, .user, .role of the pod and {C}",
            "securityContext.seLinuxOptions.type spc_t is not allowed; leave it unset or use "
            f"{', '.join(SELINUX_TYPES)} / remove securityContext.seLinuxOptions.user", selinux),
    Control("/proc mount type", "procMount", "baseline", f"{C}.securityContext.procMount",
            "securityContext.procMount Unmasked unmasks /proc; remove it (or set Default)",
            proc_mount),
    Control("Seccomp", "seccompProfile_baseline", "baseline",
            f"securityContext.seccompProfile.type of the pod and {C}",
            "securityContext.seccompProfile.type Unconfined is not allowed; use RuntimeDefault "
            "or Localhost", seccomp_baseline),
    Control("Sysctls", "sysctls", "baseline", "securityContext.sysctls[*].name",
            "remove kernel.msgmax from securityContext.sysctls (it is not isolated to the pod; "
            f"allowed: {', '.join(SAFE_SYSCTLS)})", sysctls),
    Control("Volume types", "restrictedVolumes", "restricted",
            "volumes[*]: every source but " + ", ".join(RESTRICTED_VOLUMES),
            f"volume share is a nfs volume, which restricted does not allow; use "
            f"{VOLUME_ALTERNATIVES} (a CSI driver for network storage) instead",
            restricted_volumes, replaces="hostPathVolumes"),
    Control("Privilege escalation", "allowPrivilegeEscalation", "restricted",
            f"{C}.securityContext.allowPrivilegeEscalation (not on Windows pods)",
            "set securityContext.allowPrivilegeEscalation: false", allow_privilege_escalation),
    Control("Running as non-root", "runAsNonRoot", "restricted",
            f"securityContext.runAsNonRoot of the pod and {C}",
            "set securityContext.runAsNonRoot: true (on the container or the pod) / remove "
            "securityContext.runAsNonRoot: false (set it true)", run_as_non_root),
    Control("Running as non-root user", "runAsUser", "restricted",
            f"securityContext.runAsUser of the pod and {C}",
            "securityContext.runAsUser: 0 runs as root; use a non-zero UID or leave it unset",
            run_as_user),
    Control("Seccomp (restricted)", "seccompProfile_restricted", "restricted",
            f"securityContext.seccompProfile.type of the pod, or of every one of {C} (not on "
            "Windows pods)",
            "set securityContext.seccompProfile.type: RuntimeDefault (on the container or the "
            "pod; or Localhost)", seccomp_restricted, replaces="seccompProfile_baseline"),
    Control("Capabilities (restricted)", "capabilities_restricted", "restricted",
            f"{C}.securityContext.capabilities.drop and .add (not on Windows pods)",
            "set securityContext.capabilities.drop: [ALL] / remove CHOWN from "
            "securityContext.capabilities.add (restricted allows only NET_BIND_SERVICE)",
            capabilities_restricted, replaces="capabilities_baseline"),
)  # fmt: skip


def controls(level: Level) -> tuple[Control, ...]:
    """The controls of a standard: restricted is baseline with three checks made stricter."""
    if level == "baseline":
        return tuple(c for c in CONTROLS if c.level == "baseline")
    replaced = {c.replaces for c in CONTROLS}
    return tuple(c for c in CONTROLS if c.check_id not in replaced)


def findings(pod: PodTemplate, level: Level) -> list[tuple[str, str]]:
    """(check ID, message) for every control of `level` that `pod` breaks."""
    return [(c.check_id, message) for c in controls(level) for message in c.check(pod)]


def controls_table() -> str:
    """The README's table of the controls, so that it cannot drift from them."""
    rows = ["| Control | Kubernetes check | Standard | Fields | Message (example) |",
            "|---|---|---|---|---|"]  # fmt: skip
    for control in CONTROLS:
        replaces = f", replaces `{control.replaces}`" if control.replaces else ""
        rows.append(f"| {control.name} | `{control.check_id}`{replaces} | {control.level} | "
                    f"{control.fields} | {control.fix} |")  # fmt: skip
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(controls_table(), end="")
