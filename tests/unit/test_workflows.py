"""The CI/CD definitions: GitHub workflows and .gitlab-ci.yml, read as data and checked for the
promises the README makes about them (previews under the policy pack, deploys only from main)."""

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def load(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f"{path} is not a mapping"
    return document


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1, which PyYAML speaks, reads the bare key `on` as the boolean True.
    on = workflow.get("on", workflow.get(True))
    assert isinstance(on, dict)
    return on


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    found = job["steps"]
    assert isinstance(found, list)
    return found


def run_lines(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in steps(job))


def uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"] for step in steps(job) if "uses" in step]


def gitlab() -> dict[str, Any]:
    return load(ROOT / ".gitlab-ci.yml")


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda path: path.name)
def test_every_workflow_has_a_name_triggers_and_jobs_that_run_something(path: Path) -> None:
    workflow = load(path)
    assert workflow["name"]
    assert triggers(workflow)
    for job in workflow["jobs"].values():
        # A job either calls a reusable workflow or runs its own steps on a runner.
        if "uses" not in job:
            assert job["runs-on"]
            assert all("run" in step or "uses" in step for step in steps(job))


@pytest.mark.parametrize(
    "path", sorted(ROOT.glob(".github/**/*.yml")), ids=lambda path: str(path.relative_to(ROOT))
)
def test_every_local_action_or_workflow_a_workflow_uses_exists(path: Path) -> None:
    document = load(path)
    # A workflow's jobs, or a composite action's single list of steps.
    jobs = document["jobs"].values() if "jobs" in document else [document["runs"]]
    for job in jobs:
        for reference in [
            job.get("uses", ""),
            *(step.get("uses", "") for step in job.get("steps", [])),
        ]:
            if reference.startswith("./"):
                assert (ROOT / reference).exists(), f"{path.name} uses missing {reference}"


def test_the_shared_action_installs_the_official_cli_at_the_tested_version_and_builds_nothing() -> (
    None
):
    action = load(ROOT / ".github" / "actions" / "pulumi" / "action.yml")
    runs = "\n".join(step.get("run", "") for step in action["runs"]["steps"])
    cli = next(
        s for s in action["runs"]["steps"] if s.get("uses", "").startswith("pulumi/actions@")
    )
    assert "make setup" in runs and "make toolchain" not in runs
    assert cli["with"]["pulumi-version"] == tested_cli_version()


def tested_cli_version() -> str:
    """The CLI the engine tests run: the one scripts/toolchain.sh builds."""
    pin = next(
        line for line in (ROOT / "scripts" / "versions.env").read_text().splitlines()
        if line.startswith("PULUMI_VERSION=")
    )  # fmt: skip
    return pin.split("=")[1]


def every_policy_run() -> list[str]:
    """Each CI command line that runs the policy pack, GitHub's and GitLab's."""
    lines = [
        line
        for path in WORKFLOWS.glob("*.yml")
        for job in load(path)["jobs"].values()
        if "steps" in job
        for line in run_lines(job).replace("\\\n", " ").splitlines()
    ]
    lines += [line for job in gitlab().values() if isinstance(job, dict)
              for line in job.get("script", [])]  # fmt: skip
    return [line for line in lines if "--policy-pack policy" in line]


def test_every_policy_run_passes_the_stack_s_own_pack_config() -> None:
    runs = every_policy_run()
    assert len(runs) == 4  # preview and up, on GitHub and GitLab
    for line in runs:
        assert '--policy-pack-config "policy/config/$STACK.json"' in " ".join(line.split())
    for stack in ("dev", "prod"):
        assert (ROOT / "policy" / "config" / f"{stack}.json").is_file()


def test_gitlab_jobs_use_the_official_cli_image_at_the_tested_version() -> None:
    assert gitlab()[".pulumi"]["image"] == f"pulumi/pulumi-python:{tested_cli_version()}"


def test_the_preview_runs_on_pull_requests_for_the_dev_and_prod_stacks() -> None:
    workflow = load(WORKFLOWS / "preview.yml")
    job = workflow["jobs"]["preview"]
    assert "pull_request" in triggers(workflow)
    assert job["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    assert "./.github/actions/pulumi" in uses(job)


def test_the_preview_runs_pulumi_preview_under_the_policy_pack() -> None:
    job = load(WORKFLOWS / "preview.yml")["jobs"]["preview"]
    assert 'pulumi preview -s "$STACK" --policy-pack policy' in run_lines(job)
    assert job["env"]["STACK"] == "${{ matrix.stack }}"


def test_the_preview_is_commented_on_the_pull_request_even_when_it_fails() -> None:
    workflow = load(WORKFLOWS / "preview.yml")
    comment = next(
        step
        for step in steps(workflow["jobs"]["preview"])
        if step.get("uses", "").startswith("actions/github-script@")
    )
    assert "always()" in comment["if"]
    assert "createComment" in comment["with"]["script"]
    assert workflow["permissions"]["pull-requests"] == "write"


def test_deploys_run_only_on_pushes_to_main() -> None:
    workflow = load(WORKFLOWS / "deploy.yml")
    assert triggers(workflow) == {"push": {"branches": ["main"]}}
    for job in workflow["jobs"].values():
        assert job["if"] == "github.ref == 'refs/heads/main'"


def test_prod_is_deployed_only_after_dev() -> None:
    jobs = load(WORKFLOWS / "deploy.yml")["jobs"]
    assert [jobs["dev"]["with"]["stack"], jobs["prod"]["with"]["stack"]] == ["dev", "prod"]
    assert jobs["prod"]["needs"] == "dev"
    assert "needs" not in jobs["dev"]


def test_a_deploy_runs_pulumi_up_in_the_stacks_environment_under_the_policy_pack() -> None:
    job = load(WORKFLOWS / "pulumi-up.yml")["jobs"]["up"]
    assert job["environment"] == "${{ inputs.stack }}"
    assert 'pulumi up --yes -s "$STACK" --policy-pack policy' in run_lines(job)


def test_the_app_image_is_tagged_by_the_images_command_and_pushed() -> None:
    job = load(WORKFLOWS / "app-image.yml")["jobs"]["image"]
    assert "python -m components.images tags" in run_lines(job)
    push = next(step for step in steps(job) if step.get("uses", "").startswith("docker/build-push"))
    assert push["with"]["push"] is True
    assert push["with"]["tags"] == "${{ steps.tags.outputs.references }}"


def test_app_image_sends_version_tags_to_prod_and_branches_to_dev() -> None:
    workflow = load(WORKFLOWS / "app-image.yml")
    assert triggers(workflow)["push"]["tags"] == ["v*"]
    stack = workflow["jobs"]["image"]["strategy"]["matrix"]["stack"]
    assert stack == ["${{ startsWith(github.ref, 'refs/tags/v') && 'prod' || 'dev' }}"]


def test_gitlab_previews_every_stack_only_in_merge_request_pipelines() -> None:
    config = gitlab()
    preview = config[".preview"]
    for stack in ("dev", "prod"):
        job = config[f"preview-{stack}"]
        assert job["extends"] == ".preview" and job["variables"] == {"STACK": stack}
        assert [rule["if"] for rule in job["rules"]] == [
            '$CI_PIPELINE_SOURCE == "merge_request_event"'
        ]
    assert any("--policy-pack policy" in line for line in preview["script"])
    assert any(
        "merge_requests/$CI_MERGE_REQUEST_IID/notes" in line for line in preview["after_script"]
    )


def test_gitlab_deploys_only_from_main_and_prod_only_after_dev() -> None:
    config = gitlab()
    assert config[".deploy"]["rules"] == [{"if": '$CI_COMMIT_BRANCH == "main"'}]
    assert any("pulumi up --yes" in line for line in config[".deploy"]["script"])
    assert config["deploy-dev"]["extends"] == config["deploy-prod"]["extends"] == ".deploy"
    assert config["deploy-prod"]["needs"] == ["deploy-dev"]


def test_gitlab_jobs_set_up_pulumi_and_the_app_image_uses_the_images_command() -> None:
    config = gitlab()
    assert ".venv/bin/pip install -q -c constraints.txt -e ." in config[".pulumi"]["before_script"]
    for name in (".preview", ".deploy"):
        assert config[name]["extends"] == ".pulumi"
    assert config["app-image"]["extends"] == [".pulumi", ".app"]
    assert any("python -m components.images tags" in line for line in config["app-image"]["script"])


# Prod's secrets (KUBECONFIG_PROD, PULUMI_CONFIG_PASSPHRASE_PROD, ...) live in the `prod`
# environment, behind its reviewers (GitHub) or its protection (GitLab). A job that a pull or
# merge request starts runs the request's code: it may reach them only from inside that environment.
SECRET = re.compile(
    r"secrets\s*(?:\.\s*(\w+)|\[\s*format\(\s*'(\w*)\{0\}(\w*)'\s*,\s*matrix\.(\w+)\s*\)\s*\])"
)


def matrix_runs(job: dict[str, Any]) -> list[dict[str, str]]:
    """Each combination of the job's matrix (one empty one without a matrix)."""
    matrix = {k: v for k, v in job.get("strategy", {}).get("matrix", {}).items()
              if k not in ("include", "exclude")}  # fmt: skip
    return [
        dict(zip(matrix, values, strict=True)) for values in itertools.product(*matrix.values())
    ]


def github_secrets(text: str, run: dict[str, str]) -> set[str]:
    """The names of the secrets `text` reads in one matrix run (GitHub's are case-insensitive:
    upper case here); a reference this cannot resolve fails."""
    found = SECRET.findall(text)
    assert text.count("secrets") == len(found), f"a secret read that is not resolved: {text}"
    return {(name or prefix + run[key] + suffix).upper() for name, prefix, suffix, key in found}


def github_pull_request_jobs() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    found = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = load(path)
        if {"pull_request", "pull_request_target"} & set(triggers(workflow)):
            found += [
                (f"{path.name}:{name}", workflow, job) for name, job in workflow["jobs"].items()
            ]
    return found


def test_no_pull_request_job_reads_a_prod_secret_outside_the_prod_environment() -> None:
    jobs = github_pull_request_jobs()
    assert jobs
    for where, workflow, job in jobs:
        assert "secrets" not in job, f"{where} hands secrets to a reusable workflow"
        environment = job.get("environment", "")
        environment = environment.get("name", "") if isinstance(environment, dict) else environment
        for run in matrix_runs(job):
            text = yaml.safe_dump({"env": workflow.get("env", {}), "job": job}, width=1 << 16)
            named = environment
            for key, value in run.items():
                named = named.replace(f"${{{{ matrix.{key} }}}}", value)
            for secret in github_secrets(text, run):
                if secret.endswith("_PROD"):
                    assert named == "prod", (
                        f"{where} ({run}) reads {secret} in environment {named!r}"
                    )


def gitlab_job(name: str) -> dict[str, Any]:
    """A job with the templates it `extends` merged in (theirs first), as GitLab does."""
    document = gitlab()
    job = document[name]
    merged: dict[str, Any] = {}
    extends = job.get("extends", [])
    for template in [extends] if isinstance(extends, str) else extends:
        merged |= gitlab_job(template)
    return merged | job


def merge_request_rules(job: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The job's rules that can match in a merge-request pipeline; None: it has no rules."""
    if "rules" not in job:
        return None
    return [rule for rule in job["rules"] if "merge_request_event" in rule.get("if", "")]


def test_no_merge_request_job_reaches_prod_unless_a_prod_deployer_starts_it() -> None:
    document = gitlab()
    checked = 0
    for name, job in ((n, gitlab_job(n)) for n, j in document.items()
                      if isinstance(j, dict) and not n.startswith(".") and "script" in gitlab_job(n)):  # fmt: skip
        rules = merge_request_rules(job)
        if rules == []:
            continue
        environment = job.get("environment", {})
        environment = environment.get("name", "") if isinstance(environment, dict) else environment
        stacks = [job.get("variables", {}).get("STACK", "")]
        for matrix in job.get("parallel", {}).get("matrix", []):
            stacks = matrix.get("STACK", stacks)
        for stack in stacks:
            if environment.replace("$STACK", stack) != "prod":
                continue
            checked += 1
            # Prod's variables are scoped to the protected `prod` environment: only its allowed
            # deployers may run the job, and `when: manual` makes one of them start it.
            assert rules, f"{name} runs in merge-request pipelines with prod's variables"
            assert all(rule.get("when") == "manual" for rule in rules), name
            assert "parallel" not in job, f"{name}: a matrix would run prod beside dev"
    assert checked == 1  # the prod preview
