"""The runbook's kubectl commands, run against the test API server with the dev stack deployed
(retention on, so that both CronJobs exist): each names objects, kinds and flags that exist.

The test cluster runs no kubelet and only a few controllers (scripts/cluster.sh), so a command
about what they would make is run against the object they would make it from (STAND_INS: a
container's `logs` or `exec` -> its Deployment or Job, pods by label -> the Deployment carrying
those labels, Endpoints -> their Service, `edit` -> `get`). What cannot be asked of this
cluster at all is in NOT_HERE with the reason; tests/unit/test_doc_snippets.py still checks
those commands' flags, and tests/unit/test_runbook.py the names and labels they use."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine import REPO, Engine
from regstack_project import RegstackProject

from devkit.snippets import inline_commands

pytestmark = pytest.mark.e2e

RUNBOOK = REPO / "docs" / "runbook.md"
COMMANDS = [c for c in inline_commands(RUNBOOK) if c.startswith("kubectl ")]
NOT_HERE = {
    "top": "needs metrics-server, which serves the metrics API from kubelets",
    "get prometheus": "needs the Prometheus Operator's own CRD; the test cluster has only the "
    "ServiceMonitor, PodMonitor and PrometheusRule CRDs that regstack's objects use",
    "-n cert-manager": "the cluster's cert-manager is the reader's, not one regstack deploys",
    "get lease": "the GC Job's pod takes the Lease when it runs; no pod runs here",
}
STAND_INS = [
    (r"kubectl -n (\S+) (?:logs|exec) (\S+)\b.*", r"kubectl -n \1 get \2"),
    (r"kubectl -n (\S+) (?:get pods|describe pod) (-l \S+).*", r"kubectl -n \1 get deploy \2"),
    (r"kubectl -n (\S+) get endpoints (\S+).*", r"kubectl -n \1 get service \2"),
    (r"kubectl -n (\S+) edit (\S+) (\S+)", r"kubectl -n \1 get \2 \3"),
]
# Events come from controllers and kubelets: none here, and an empty answer is still an answer.
MAY_BE_EMPTY = ("get events",)
# Placeholders the runbook's reader fills in, and what they are on the dev stack.
FILLED = {"<claim>": "registry-data", "<name>": "regstack-certificate-tls"}
PASSWORD = "runbook-e2e-password-7f1c"


@pytest.fixture(scope="module")
def runbook_stack(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine.cluster.create_namespace("observability")
    project = RegstackProject.copy(engine, tmp_path_factory.mktemp("runbook"), "runbook",
                                   source=REPO / "Pulumi.dev.yaml")  # fmt: skip
    project.set_secret("regstack:auth.users[0].password", PASSWORD)
    project.set_path("regstack:retention.enabled", "true")
    project.set_path("regstack:retention.rules[0].repositories[0]", "**")
    project.set_path("regstack:retention.rules[0].keep_last", "10")
    project.up()
    for cronjob in ("registry-gc", "registry-retention"):  # a run each, as their schedules make
        subprocess.run(["kubectl", "-n", "container-registry", "create", "job",
                        f"--from=cronjob/{cronjob}", f"{cronjob}-first"],
                       env=engine.env, check=True, capture_output=True)  # fmt: skip
    yield engine
    project.destroy(check=False)
    project.remove()
    for namespace in ("container-registry", "dev", "staging"):
        engine.cluster.delete_namespace(namespace)


def as_run_here(command: str) -> str | None:
    """The command as this cluster can answer it, or None when it names a placeholder left."""
    command = command.split(" | ")[0]  # a grep that finds nothing here is not the runbook's fault
    for placeholder, value in FILLED.items():
        command = command.replace(placeholder, value)
    if "<" in command:
        return None
    for pattern, stand_in in STAND_INS:
        if re.fullmatch(pattern, command):
            return re.sub(pattern, stand_in, command)
    return command


def test_the_runbook_s_kubectl_commands_are_found() -> None:
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("command", COMMANDS)
def test_a_runbook_command_succeeds_against_the_deployed_dev_stack(
    runbook_stack: Engine, command: str, tmp_path: Path
) -> None:
    reason = next((why for part, why in NOT_HERE.items() if f" {part}" in command), None)
    if reason:
        pytest.skip(reason)
    here = as_run_here(command)
    if here is None:
        pytest.skip("names an object the reader picks (a failed Job)")
    result = subprocess.run(["bash", "-c", here], capture_output=True, text=True, cwd=tmp_path,
                            env=runbook_stack.env, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, (here, result.stderr)
    if not any(f" {part}" in here for part in MAY_BE_EMPTY):
        assert "No resources found" not in result.stderr, here
