"""`restricted-pod-security` is the Pod Security Standard, control for control.

The proof that it agrees with Kubernetes is tests/e2e/test_pod_security_e2e.py; these say what
each control refuses and how its message reads, and that every workload kind is read alike.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy.pod_security import CONTROLS, controls, controls_table
from policy.rules import POD_SPEC_PATHS, Settings, pod_security_findings, restricted_pod_security
from tests.policy.manifests import DEPLOYMENT, SAFE_CONTEXT, container, deployment
from tests.policy.pod_strategies import pods
from tests.policy.support import ROOT

BASELINE = Settings(baseline_namespaces=("harbor",))
CONTEXT = {k: v for k, v in SAFE_CONTEXT.items() if k != "readOnlyRootFilesystem"}


def broken(
    context: dict[str, Any] | None = None,
    pod: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A restricted Deployment with `context` merged into its container's securityContext,
    `pod` into its pod spec, `fields` into its container."""
    props = deployment(container(securityContext={**CONTEXT, **(context or {})}, **fields),
                       **(pod or {}))  # fmt: skip
    if annotations:
        props["spec"]["template"]["metadata"] = {"annotations": annotations}
    return props


def messages(props: dict[str, Any], settings: Settings | None = None) -> list[str]:
    return restricted_pod_security(DEPLOYMENT, props, settings or Settings())


def in_namespace(props: dict[str, Any], namespace: str) -> dict[str, Any]:
    props = copy.deepcopy(props)
    props["metadata"]["namespace"] = namespace
    return props


# Each breaks one control of `baseline` (so of `restricted` too): the list and more.
BASELINE_BREAKS = {
    "hostProcess": (broken(pod={"securityContext": {"windowsOptions": {"hostProcess": True}}}),
                    "Deployment app: remove securityContext.windowsOptions.hostProcess: true"),
    "hostPort": (broken(ports=[{"containerPort": 8080, "hostPort": 8080}]),
                 "container app: remove ports[0].hostPort: 8080 (reach the container through a "
                 "Service instead)"),
    "SYS_ADMIN": (broken({"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}),
                  "container app: remove SYS_ADMIN from securityContext.capabilities.add"),
    "kernel.msgmax": (broken(pod={"securityContext": {"sysctls": [
                          {"name": "kernel.msgmax", "value": "1"}]}}),
                      "Deployment app: remove kernel.msgmax from securityContext.sysctls"),
    "spc_t": (broken({"seLinuxOptions": {"type": "spc_t"}}),
              "container app: securityContext.seLinuxOptions.type spc_t is not allowed"),
    "SELinux user": (broken(pod={"securityContext": {"seLinuxOptions": {"user": "system_u"}}}),
                     "Deployment app: remove securityContext.seLinuxOptions.user"),
    "procMount": (broken({"procMount": "Unmasked"}),
                  "container app: securityContext.procMount Unmasked unmasks /proc"),
    "seccomp Unconfined over the pod's RuntimeDefault": (
        broken({"seccompProfile": {"type": "Unconfined"}},
               pod={"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}}),
        "container app: securityContext.seccompProfile.type Unconfined is not allowed; use "
        "RuntimeDefault or Localhost"),
    "AppArmor Unconfined": (broken({"appArmorProfile": {"type": "Unconfined"}}),
                            "container app: securityContext.appArmorProfile.type Unconfined is "
                            "not allowed"),
    "AppArmor annotation": (
        broken(annotations={"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}),
        "Deployment app: annotation container.apparmor.security.beta.kubernetes.io/app: "
        "unconfined is not allowed"),
    "probe host": (broken(livenessProbe={"httpGet": {"port": 8080, "host": "10.0.0.1"}}),
                   "container app: remove livenessProbe.httpGet.host: 10.0.0.1"),
    "lifecycle host": (broken(lifecycle={"preStop": {"tcpSocket": {"port": 1, "host": "a"}}}),
                       "container app: remove lifecycle.preStop.tcpSocket.host: a"),
    "privileged": (broken({"privileged": True}),
                   "container app: remove securityContext.privileged: true"),
    "hostPID": (broken(pod={"hostPID": True}),
                "Deployment app: remove hostPID: true (the pod would share the node's processes)"),
    "hostPath": (broken(pod={"volumes": [{"name": "logs", "hostPath": {"path": "/var/log"}}]}),
                 "Deployment app: volume logs is a hostPath; use a PersistentVolumeClaim, "
                 "emptyDir, ConfigMap or Secret volume instead"),
}  # fmt: skip

# Each breaks one control that only `restricted` has.
RESTRICTED_BREAKS = {
    "nfs": (broken(pod={"volumes": [{"name": "share", "nfs": {"server": "s", "path": "/"}}]}),
            "Deployment app: volume share is a nfs volume, which restricted does not allow"),
    "runAsUser 0 beside runAsNonRoot": (broken({"runAsUser": 0}),
                                        "container app: securityContext.runAsUser: 0 runs as "
                                        "root; use a non-zero UID"),
    "runAsNonRoot false on the pod": (broken(pod={"securityContext": {"runAsNonRoot": False}}),
                                      "Deployment app: remove securityContext.runAsNonRoot: false"),
    "CHOWN": (broken({"capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}}),
              "container app: remove CHOWN from securityContext.capabilities.add (restricted "
              "allows only NET_BIND_SERVICE)"),
    "drop all in lower case": (broken({"capabilities": {"drop": ["all"]}}),
                               "container app: set securityContext.capabilities.drop: [ALL]"),
    "no seccomp": (broken({"seccompProfile": None}),
                   "container app: set securityContext.seccompProfile.type: RuntimeDefault"),
    "privilege escalation": (broken({"allowPrivilegeEscalation": True}),
                             "container app: set securityContext.allowPrivilegeEscalation: false"),
}  # fmt: skip

# Meet `restricted`: the edges of what it allows.
ALLOWED = {
    "NET_BIND_SERVICE": broken({"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}),
    "Localhost seccomp": broken({"seccompProfile": {"type": "Localhost",
                                                    "localhostProfile": "audit.json"}}),
    "seccomp on the pod only": broken({"seccompProfile": None},
                                      pod={"securityContext": {"seccompProfile": {
                                          "type": "RuntimeDefault"}}}),
    "runAsNonRoot on the pod only": broken({"runAsNonRoot": None},
                                           pod={"securityContext": {"runAsNonRoot": True}}),
    "a safe sysctl": broken(pod={"securityContext": {"sysctls": [
        {"name": "net.ipv4.tcp_keepalive_time", "value": "60"}]}}),
    "container_engine_t": broken({"seLinuxOptions": {"type": "container_engine_t",
                                                     "level": "s0:c1"}}),
    "procMount Default": broken({"procMount": "Default"}),
    "AppArmor Localhost": broken({"appArmorProfile": {"type": "Localhost",
                                                      "localhostProfile": "k8s-app"}}),
    "AppArmor annotation localhost/": broken(annotations={
        "container.apparmor.security.beta.kubernetes.io/app": "localhost/k8s-app"}),
    "runAsUser 1000": broken({"runAsUser": 1000}, pod={"securityContext": {"runAsUser": 1000}}),
    "hostPort 0": broken(ports=[{"containerPort": 8080, "hostPort": 0}]),
    "an empty probe host": broken(readinessProbe={"tcpSocket": {"port": 8080, "host": ""}}),
    "hostNetwork false": broken(pod={"hostNetwork": False, "hostIPC": False}),
    "allowed volumes": broken(pod={"volumes": [
        {"name": "a", "csi": {"driver": "d"}}, {"name": "b", "ephemeral": {}},
        {"name": "c", "image": {"reference": "r"}}, {"name": "d", "projected": {"sources": []}},
        {"name": "e"}]}),  # no source at all: the API server makes it an emptyDir
}  # fmt: skip


@pytest.mark.parametrize("case", BASELINE_BREAKS | RESTRICTED_BREAKS)
def test_a_restricted_deployment_is_refused_when_it_breaks_one_control(case: str) -> None:
    props, expected = (BASELINE_BREAKS | RESTRICTED_BREAKS)[case]
    (message,) = messages(props)
    assert expected in message


@pytest.mark.parametrize("case", ALLOWED)
def test_restricted_allows_its_edge_cases(case: str) -> None:
    assert messages(ALLOWED[case]) == []


@pytest.mark.parametrize("case", BASELINE_BREAKS)
def test_a_baseline_namespace_refuses_what_baseline_refuses(case: str) -> None:
    props, expected = BASELINE_BREAKS[case]
    (message,) = messages(in_namespace(props, "harbor"), BASELINE)
    assert expected in message


@pytest.mark.parametrize("case", RESTRICTED_BREAKS)
def test_a_baseline_namespace_allows_what_only_restricted_refuses(case: str) -> None:
    props, _ = RESTRICTED_BREAKS[case]
    assert messages(in_namespace(props, "harbor"), BASELINE) == []


def test_baseline_names_the_capabilities_it_allows() -> None:
    props = broken({"capabilities": {"add": ["NET_RAW"]}})
    (message,) = messages(in_namespace(props, "harbor"), BASELINE)
    assert "(baseline allows only AUDIT_WRITE, CHOWN, DAC_OVERRIDE," in message


def test_a_container_without_a_security_context_gets_one_fix_per_control() -> None:
    props = deployment({"name": "app", "image": "a"})
    assert [m.split(": ", 1)[1] for m in messages(props)] == [
        "set securityContext.allowPrivilegeEscalation: false",
        "set securityContext.runAsNonRoot: true (on the container or the pod)",
        "set securityContext.seccompProfile.type: RuntimeDefault (on the container or the pod; "
        "or Localhost)",
        "set securityContext.capabilities.drop: [ALL]",
    ]


def test_a_pod_level_false_is_refused_even_where_the_container_says_true() -> None:
    props = broken(pod={"securityContext": {"runAsNonRoot": False,
                                            "seccompProfile": {"type": "Unconfined"}}})  # fmt: skip
    assert len(messages(props)) == 2


@pytest.mark.parametrize("kind", ["initContainers", "ephemeralContainers"])
def test_every_kind_of_container_is_checked(kind: str) -> None:
    other = container(name="other", securityContext={**CONTEXT, "privileged": True})
    props = deployment(container(), **{kind: [other]})
    (message,) = messages(props)
    assert message == f"Deployment app, {kind[:-1]} other: remove securityContext.privileged: true"


def test_a_windows_pod_is_not_asked_for_linux_only_settings() -> None:
    props = deployment({"name": "app", "image": "a"}, os={"name": "windows"},
                       securityContext={"runAsNonRoot": True})  # fmt: skip
    assert messages(props) == []


def test_host_network_makes_every_container_port_a_host_port() -> None:
    props = broken(pod={"hostNetwork": True}, ports=[{"containerPort": 5000}])
    assert any(
        "ports[0] becomes hostPort 5000 under hostNetwork: true" in m for m in messages(props)
    )


def test_restricted_replaces_three_baseline_checks_and_adds_six() -> None:
    baseline = {c.check_id for c in controls("baseline")}
    restricted = {c.check_id for c in controls("restricted")}
    assert baseline - restricted == {"capabilities_baseline", "hostPathVolumes",
                                     "seccompProfile_baseline"}  # fmt: skip
    assert len(baseline) == 12 and len(restricted) == 15


def test_the_policy_page_lists_every_control() -> None:
    assert controls_table() in (ROOT / "docs" / "development" / "policy.md").read_text()
    assert all(f"`{c.check_id}`" in controls_table() for c in CONTROLS)


# --- every workload kind reads its pod template alike -----------------------------------------


def wrap(resource_type: str, pod: dict[str, Any]) -> dict[str, Any]:
    """`pod`'s metadata and spec where `resource_type` keeps its pod template."""
    path = POD_SPEC_PATHS[resource_type]
    props: dict[str, Any] = {"metadata": {"name": "w"}}
    template = props
    for key in path[:-1]:
        template = template.setdefault(key, {})
    template[path[-1]] = pod["spec"]
    if pod["metadata"].get("annotations"):
        template.setdefault("metadata", {})["annotations"] = pod["metadata"]["annotations"]
    return props


@settings(max_examples=150, derandomize=True, database=None, deadline=None)
@given(pod=pods(), resource_type=st.sampled_from(sorted(POD_SPEC_PATHS)))
def test_every_workload_kind_gets_the_findings_of_its_pod(
    pod: dict[str, Any], resource_type: str
) -> None:
    expected = pod_security_findings("kubernetes:core/v1:Pod", wrap("kubernetes:core/v1:Pod", pod),
                                     Settings())  # fmt: skip
    kind = resource_type.rsplit(":", 1)[-1]
    found = pod_security_findings(resource_type, wrap(resource_type, pod), Settings())
    assert [(i, m.replace(f"{kind} w", "Pod w", 1)) for i, m in found] == expected


@settings(max_examples=150, derandomize=True, database=None, deadline=None)
@given(pod=pods())
def test_whatever_baseline_refuses_restricted_refuses(pod: dict[str, Any]) -> None:
    props = wrap("kubernetes:core/v1:Pod", pod)
    props["metadata"]["namespace"] = "harbor"
    if pod_security_findings("kubernetes:core/v1:Pod", props, BASELINE):
        assert pod_security_findings("kubernetes:core/v1:Pod", props, Settings())
