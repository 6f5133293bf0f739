"""The chapter's remaining steps in the CI examples: alias tags, a registry build cache, a Trivy
scan of the pushed digest and a deploy stage; and a Node.js image that follows its practice.

No Docker, Trivy or CI runner here: the pipelines are read as data, the Dockerfile as
instructions, and the Node.js application runs under the machine's node."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
from typing import Any

import pytest
import yaml

from devkit.pulumi_mocks import ROOT

GITHUB = yaml.safe_load((ROOT / ".github" / "workflows" / "app-image.yml").read_text())["jobs"]
GITLAB = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
NODE_APP = ROOT / "examples" / "node-app"


def run_text(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def step_using(job: dict[str, Any], action: str) -> dict[str, Any]:
    return next(step for step in job["steps"] if step.get("uses", "").startswith(action))


def test_github_tags_carry_the_environment_aliases() -> None:
    assert '--environment "$APP_ENVIRONMENT"' in run_text(GITHUB["image"])
    assert GITHUB["image"]["env"]["APP_ENVIRONMENT"] == "${{ matrix.app_environment }}"


def test_github_builds_with_a_registry_cache_in_the_same_repository() -> None:
    build = step_using(GITHUB["image"], "docker/build-push-action")["with"]
    cache = (
        "type=registry,ref=${{ steps.registry.outputs.host }}/${{ env.APP_REPOSITORY }}:buildcache"
    )
    assert (build["cache-from"], build["cache-to"]) == (cache, cache + ",mode=max")


def test_github_scans_the_pushed_digest_and_fails_on_fixable_high_vulnerabilities() -> None:
    scan = GITHUB["scan"]
    assert scan["needs"] == "image"
    trivy = step_using(scan, "aquasecurity/trivy-action")["with"]
    assert trivy["image-ref"] == "${{ needs.image.outputs.reference }}"
    assert (trivy["exit-code"], trivy["severity"], trivy["ignore-unfixed"]) == (
        "1",
        "HIGH,CRITICAL",
        True,
    )
    assert GITHUB["image"]["outputs"]["reference"].endswith("@${{ steps.push.outputs.digest }}")


def test_github_deploys_the_scanned_digest_only_after_the_scan() -> None:
    deploy = GITHUB["deploy"]
    assert deploy["needs"] == ["image", "scan"]
    assert deploy["env"]["REFERENCE"] == "${{ needs.image.outputs.reference }}"
    assert 'sed "s|APP_IMAGE|$REFERENCE|" examples/app/deployment.yaml' in run_text(deploy)
    assert "rollout status deployment/app" in run_text(deploy)


def test_gitlab_runs_image_scan_and_release_in_order_with_the_same_rules() -> None:
    assert GITLAB["stages"][-3:] == ["image", "scan", "release"]
    assert GITLAB["app-scan"]["needs"] == ["app-image"]
    assert GITLAB["app-deploy"]["needs"] == ["app-image", "app-scan"]
    for job in ("app-scan", "app-deploy"):
        assert GITLAB[job]["extends"] == ".app"
    environments = [rule["variables"]["APP_ENVIRONMENT"] for rule in GITLAB[".app"]["rules"]]
    assert environments == ["staging", "prod", "dev"]


def test_gitlab_builds_with_a_cache_scans_and_deploys_the_digest() -> None:
    image = "\n".join(GITLAB["app-image"]["script"])
    assert '--environment "$APP_ENVIRONMENT"' in image
    assert '--cache-from "$CACHE" --build-arg BUILDKIT_INLINE_CACHE=1' in image
    assert GITLAB["app-image"]["artifacts"]["reports"]["dotenv"] == "app.env"
    assert "--exit-code 1" in GITLAB["app-scan"]["script"][0]
    assert '"$APP_REFERENCE"' in GITLAB["app-scan"]["script"][0]
    assert "APP_IMAGE|$APP_REFERENCE" in GITLAB["app-deploy"]["script"][0]


def test_the_deployment_pulls_with_the_stacks_pull_secret_as_a_restricted_pod() -> None:
    deployment = yaml.safe_load((ROOT / "examples" / "app" / "deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["imagePullSecrets"] == [{"name": "regstack-pull"}]
    assert container["image"] == "APP_IMAGE"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = (NODE_APP / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_node_image_is_multi_stage_on_one_pinned_base() -> None:
    bases = [args for op, args in instructions() if op == "FROM"]
    assert bases[0].endswith(" AS builder") and len(bases) == 2
    images = {base.split()[0] for base in bases}
    assert len(images) == 1 and (image := images.pop()).count(":") == 1
    assert not image.endswith(":latest")


def test_dependencies_are_installed_before_the_code_is_copied() -> None:
    ops = instructions()
    install = next(i for i, (op, args) in enumerate(ops) if op == "RUN" and "npm ci" in args)
    assert ops[install - 1] == ("COPY", "package.json package-lock.json ./")
    assert "--omit=dev" in ops[install][1]
    assert any(op == "COPY" and "server.js" in args for op, args in ops[install:])


def test_the_node_image_runs_as_a_numeric_non_root_user_with_a_health_check() -> None:
    ops = dict(instructions())
    user = ops["USER"].split(":")
    assert all(part.isdigit() and int(part) > 0 for part in user)
    assert json.loads(ops["HEALTHCHECK"].split("CMD", 1)[1]) == ["node", "healthcheck.js"]
    assert json.loads(ops["CMD"]) == ["node", "server.js"]
    assert "org.opencontainers.image.source" in ops["LABEL"]


def test_the_build_context_holds_only_what_the_image_copies() -> None:
    ignore = [line for line in (NODE_APP / ".dockerignore").read_text().splitlines()
              if line and not line.startswith("#")]  # fmt: skip
    assert ignore[0] == "*"
    allowed = {entry.removeprefix("!") for entry in ignore[1:]}
    assert allowed == {"package.json", "package-lock.json", "server.js", "healthcheck.js"}
    assert allowed == {path.name for path in NODE_APP.iterdir()} - {"Dockerfile", ".dockerignore"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_the_health_check_passes_while_the_server_runs_and_sigterm_stops_it() -> None:
    env = {**os.environ, "PORT": str(free_port())}

    def healthy() -> bool:
        return (
            subprocess.run(["node", "healthcheck.js"], cwd=NODE_APP, env=env, timeout=10).returncode
            == 0
        )

    assert not healthy()
    server = subprocess.Popen(
        ["node", "server.js"], cwd=NODE_APP, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None and "listening" in server.stdout.readline()
        assert healthy()
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
    finally:
        server.kill()
        server.wait()
    assert not healthy()
