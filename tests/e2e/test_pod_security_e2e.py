"""Differential proof: the pack's `restricted-pod-security` gives Kubernetes' own verdict.

Generated pods (tests/policy/pod_strategies.py: each control broken alone, in pairs and threes,
valid edge cases) go to the test cluster's kube-apiserver as server-side dry runs
(`?dryRun=All`) in two namespaces, labelled `pod-security.kubernetes.io/enforce: restricted` and
`baseline` (pinned to v1.34). The pack, configured to hold the second to baseline (the
`baseline_namespaces` setting), must refuse exactly the pods the API server
refuses, for exactly the controls (check IDs) the server names. One HTTPS connection carries
every request, so a few hundred pods per standard take seconds.
"""

from __future__ import annotations

import copy
import http.client
import json
import ssl
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

from policy.pod_security import Level, controls
from policy.rules import Settings, pod_security_findings
from tests.policy.pod_strategies import (
    MUTATIONS,
    Mutation,
    base_pod,
    ephemeral_containers,
    privilege_escalation,
    run_as_non_root,
    run_as_user,
    valid_pods,
)

# What these break only `restricted` refuses.
ONLY_RESTRICTED = (privilege_escalation, run_as_non_root, run_as_user)

pytestmark = pytest.mark.e2e

ALONE_EXAMPLES = 25  # per mutation: 15 of them
EXAMPLES = 400
EPHEMERAL_EXAMPLES = 150
VERSION = "v1.34"
NAMESPACES: dict[Level, str] = {"restricted": "psa-restricted", "baseline": "psa-baseline"}
# As a pack config holds a namespace to baseline (`baseline_namespaces`).
PACK = Settings.from_config({"baseline_namespaces": [NAMESPACES["baseline"]]})

# The ForbiddenReason of each check of k8s.io/pod-security-admission/policy.
REASONS = {
    "allowPrivilegeEscalation != false": "allowPrivilegeEscalation",
    "forbidden AppArmor profile": "appArmorProfile",
    "forbidden AppArmor profiles": "appArmorProfile",
    "non-default capabilities": "capabilities_baseline",
    "unrestricted capabilities": "capabilities_restricted",
    "host namespaces": "hostNamespaces",
    "hostPath volumes": "hostPathVolumes",
    "hostPort": "hostPorts",
    "probe or lifecycle host": "hostProbesAndHostLifecycle",
    "privileged": "privileged",
    "procMount": "procMount",
    "restricted volume types": "restrictedVolumes",
    "runAsNonRoot != true": "runAsNonRoot",
    "runAsUser=0": "runAsUser",
    "seLinuxOptions": "seLinuxOptions",
    "forbidden sysctls": "sysctls",
    "hostProcess": "windowsHostProcess",
}


class DryRunClient:
    """Server-side dry runs of Pod creation over one kept-alive HTTPS connection."""

    def __init__(self, api: str, token: str, ca: str) -> None:
        self._url = urlsplit(api)
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._ssl = ssl.create_default_context(cafile=ca)
        self._connection = self._connect()

    def _connect(self) -> http.client.HTTPSConnection:
        assert self._url.hostname is not None
        return http.client.HTTPSConnection(
            self._url.hostname, self._url.port, context=self._ssl, timeout=30
        )

    def request(
        self, method: str, path: str, body: dict[str, Any] | None
    ) -> tuple[int, dict[str, Any]]:
        for attempt in (1, 2):
            try:
                data = None if body is None else json.dumps(body)
                self._connection.request(method, path, data, self._headers)
                response = self._connection.getresponse()
                return response.status, json.loads(response.read() or b"{}")
            except (http.client.HTTPException, ConnectionError):
                self._connection.close()
                self._connection = self._connect()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def running_pod(self, level: Level) -> dict[str, Any]:
        """A restricted pod, created for real (no kubelet runs it), as the server stores it."""
        pod = base_pod("container", init_container=False)
        pod["metadata"]["name"] = "running"
        collection = f"/api/v1/namespaces/{NAMESPACES[level]}/pods"
        status, body = self.request("POST", collection, pod)
        assert status in (201, 409), body
        status, body = self.request("GET", f"{collection}/running", None)
        assert status == 200, body
        return body

    def refused_checks(
        self, level: Level, pod: dict[str, Any], subresource: str | None = None
    ) -> set[str]:
        """The check IDs Pod Security Admission refuses `pod` for (empty: admitted): a dry-run
        create, or with `subresource`, a dry-run update of it."""
        path = f"/api/v1/namespaces/{NAMESPACES[level]}/pods"
        if subresource:
            path += f"/{pod['metadata']['name']}/{subresource}"
        status, body = self.request("PUT" if subresource else "POST", path + "?dryRun=All", pod)
        if status in (200, 201):
            return set()
        message = body.get("message", "")
        marker = f'violates PodSecurity "{level}:{VERSION}": '
        assert status == 403 and marker in message, (
            f"not a Pod Security answer ({status}): {message}\n{json.dumps(pod)}"
        )
        return {check_id(reason, level) for reason in reasons(message.split(marker, 1)[1])}


def reasons(detail: str) -> list[str]:
    """`a (x, y), b, c (z)` -> [a, b, c]: the reasons, without their parenthesised details."""
    found, depth, current = [], 0, ""
    for char in detail:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            found.append(current)
            current = ""
        else:
            current += char
    found.append(current)
    return [item.strip().split(" (", 1)[0] for item in found]


def check_id(reason: str, level: Level) -> str:
    if reason == "seccompProfile":  # both seccomp checks give this reason
        return f"seccompProfile_{level}"
    return REASONS[reason]


@pytest.fixture(scope="module")
def api(engine: Any) -> DryRunClient:
    cluster = engine.cluster
    for level, namespace in NAMESPACES.items():
        labels = {"pod-security.kubernetes.io/enforce": level,
                  "pod-security.kubernetes.io/enforce-version": VERSION}  # fmt: skip
        cluster.create(
            "/api/v1/namespaces",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": namespace, "labels": labels},
            },
        )
        # Pod admission looks the service account up; the controller may not have made it yet.
        cluster.create(f"/api/v1/namespaces/{namespace}/serviceaccounts",
                       {"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": "default"}})  # fmt: skip
    return DryRunClient(cluster.api, cluster.token, str(cluster.ca))


class Tally:
    """What one run compared: the pack's check IDs must be the server's for every pod."""

    def __init__(self, level: Level) -> None:
        self.level, self.compared, self.admitted, self.pairs = level, 0, 0, 0
        self.refused, self.refused_alone = Counter[str](), Counter[str]()

    def compare(self, server: set[str], pod: dict[str, Any]) -> None:
        pack = pod_security_findings("kubernetes:core/v1:Pod", pod, PACK)
        assert {check for check, _ in pack} == server, (
            f"API server refuses for {sorted(server)}, the pack says {pack}"
        )
        self.compared += 1
        self.admitted += not server
        self.pairs += len(server) > 1
        self.refused.update(server)
        if len(server) == 1:
            self.refused_alone.update(server)

    def report(self, what: str) -> str:
        COMPARED[self.level] += self.compared
        return (f"\n{self.level}: {self.compared} generated {what} compared "
                f"({COMPARED[self.level]} in all so far), {self.admitted} admitted, {self.pairs} "
                f"refused for 2+ controls; refusals per check: {dict(sorted(self.refused.items()))}")  # fmt: skip


SEEDED = hypothesis_settings(
    derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)  # fmt: skip


LEVELS: tuple[Level, ...] = ("restricted", "baseline")
# Pods compared per standard, over all the tests of this module.
COMPARED: Counter[str] = Counter()


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.__name__)
def test_the_pack_gives_kubernetes_verdict_on_each_control_alone(
    api: DryRunClient, level: Level, mutation: Mutation, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally(level)

    @hypothesis_settings(SEEDED, max_examples=ALONE_EXAMPLES)
    @given(pod=valid_pods(alone=mutation))
    def agree(pod: dict[str, Any]) -> None:
        pod["metadata"]["namespace"] = NAMESPACES[level]
        tally.compare(api.refused_checks(level, pod), pod)

    agree()
    with capsys.disabled():
        print(tally.report(f"pods ({mutation.__name__} alone)"))
    assert tally.refused or (mutation in ONLY_RESTRICTED and level == "baseline")


@pytest.mark.parametrize("level", LEVELS)
def test_the_pack_gives_kubernetes_verdict_on_controls_broken_together(
    api: DryRunClient, level: Level, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally(level)

    @hypothesis_settings(SEEDED, max_examples=EXAMPLES)
    @given(pod=valid_pods())
    def agree(pod: dict[str, Any]) -> None:
        pod["metadata"]["namespace"] = NAMESPACES[level]
        tally.compare(api.refused_checks(level, pod), pod)

    agree()
    with capsys.disabled():
        print(tally.report("pods"))
    # The generator reached every control of the standard, and pods it admits.
    assert set(tally.refused) == {c.check_id for c in controls(level)}
    assert tally.admitted > 0 and tally.pairs > 0


@pytest.mark.parametrize("level", LEVELS)
def test_the_pack_refuses_exactly_the_ephemeral_containers_pod_security_admission_refuses(
    api: DryRunClient, level: Level, capsys: pytest.CaptureFixture[str]
) -> None:
    """`kubectl debug` adds an ephemeral container to a running pod; admission checks it too."""
    running = api.running_pod(level)
    tally = Tally(level)

    @hypothesis_settings(SEEDED, max_examples=EPHEMERAL_EXAMPLES)
    @given(debug=ephemeral_containers())
    def agree(debug: dict[str, Any]) -> None:
        pod = copy.deepcopy(running)
        pod["spec"]["ephemeralContainers"] = [debug]
        tally.compare(api.refused_checks(level, pod, subresource="ephemeralcontainers"), pod)

    agree()
    with capsys.disabled():
        print(tally.report("ephemeral containers"))
    container_checks = {"allowPrivilegeEscalation", "appArmorProfile", "capabilities_baseline",
                        "capabilities_restricted", "privileged", "runAsNonRoot", "runAsUser",
                        "seLinuxOptions", "seccompProfile_baseline", "seccompProfile_restricted"}  # fmt: skip
    assert set(tally.refused) == container_checks & {c.check_id for c in controls(level)}
    assert tally.admitted > 0
