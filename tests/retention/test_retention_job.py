"""The retention CronJob as rendered (Pulumi mocks): a hung run cannot block later ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devkit.pulumi_mocks import platform

RETENTION = {
    "retention": {"enabled": True, "rules": [{"repositories": ["team/*"], "keep_last": 5}]}
}


def test_a_retention_run_ends_within_its_deadline_before_the_default_gc_starts() -> None:
    cron = platform(RETENTION).named("rs-retention-cronjob").inputs["spec"]
    job = cron["jobTemplate"]["spec"]

    assert cron["concurrencyPolicy"] == "Forbid"  # why a hung run would block all later ones
    # Default schedules: retention 01:00 Sunday, GC 02:00 Sunday.
    assert 0 < job["activeDeadlineSeconds"] < 3600


def test_the_engine_runs_from_what_its_job_mounts_and_the_standard_library(
    tmp_path: Path,
) -> None:
    """The stock Python image has nothing installed: the ConfigMap's files are all it gets."""
    rec = platform(RETENTION)
    data = rec.named("rs-retention-code").inputs["data"]
    pod = rec.named("rs-retention-cronjob").inputs["spec"]["jobTemplate"]["spec"]["template"]
    (code,) = [v for v in pod["spec"]["volumes"] if v["name"] == "code"]
    for item in code["configMap"]["items"]:
        (tmp_path / item["path"]).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / item["path"]).write_text(data[item["key"]])
    (container,) = pod["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "code"]
    assert env["PYTHONPATH"] == mount["mountPath"]
    python, *line = container["command"]
    assert (python, line[0]) == ("python", "-m")
    # -S: no site-packages, as in the stock image; --help imports every module the engine uses.
    done = subprocess.run(
        [sys.executable, "-S", "-m", line[1], "--help"],
        env={"PYTHONPATH": str(tmp_path)}, cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
