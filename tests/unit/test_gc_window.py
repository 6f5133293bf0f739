"""The GC window's rules that need no API server: which pods count, which window each layout
gets, and the bounds that order the Job's steps. tests/e2e/test_gc_window_e2e.py runs the
script itself against a real kube-apiserver."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from components import garbage_collection as gc
from components.config import GcConfig, RegistryConfig
from components.jobs import gc_window
from devkit.pulumi_mocks import platform

S3 = {
    "storage": {"type": "s3", "s3": {"bucket": "registry-blobs", "endpoint": "https://s3.lab:9000"}}
}


def pod(phase: str, env: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "registry-x"}, "status": {"phase": phase},
            "spec": {"containers": [{"name": "registry", "env": env}]}}  # fmt: skip


@pytest.mark.parametrize("phase", ["Failed", "Succeeded"])
def test_pods_that_ended_never_hold_the_window_open(phase: str) -> None:
    assert not gc_window.can_serve(pod(phase))


@pytest.mark.parametrize("phase", ["Pending", "Running", "Unknown"])
def test_pods_that_may_still_answer_count_as_serving(phase: str) -> None:
    assert gc_window.can_serve(pod(phase))


def test_a_pod_is_read_only_only_with_the_variable_distribution_reads() -> None:
    exact = [{"name": gc_window.READ_ONLY_ENV, "value": gc_window.READ_ONLY_VALUE}]
    ignored = [{"name": gc_window.READ_ONLY_ENV + "_ENABLED", "value": "true"}]
    assert gc_window.is_read_only(pod("Running", exact), "registry")
    assert not gc_window.is_read_only(pod("Running", ignored), "registry")


def test_an_expired_lease_is_free_and_a_live_one_is_not() -> None:
    now = datetime.now(UTC)

    def spec(age: float) -> dict[str, object]:
        renewed = (now - timedelta(seconds=age)).strftime(gc_window.MICRO_TIME)
        return {"holderIdentity": "other", "renewTime": renewed, "leaseDurationSeconds": 60}

    assert gc_window._held_by_other(spec(61), "me", now) is None
    assert gc_window._held_by_other(spec(10), "me", now) is not None


@pytest.mark.parametrize(
    ("registry", "window"),
    [
        (S3, ("read-only", False)),
        ({"storage": {"access_mode": "ReadWriteMany"}}, ("read-only", False)),
        ({}, ("read-only", True)),  # one ReadWriteOnce volume: the read-only pod joins GC's node
        ({"proxy": {"remote_url": "https://registry-1.docker.io"}}, ("stop", False)),
    ],
)
def test_each_layout_gets_its_window(registry: dict[str, Any], window: tuple[str, bool]) -> None:
    assert gc.window_mode(GcConfig(), RegistryConfig.model_validate(registry)) == window


def test_the_window_can_be_forced_to_stop() -> None:
    assert gc.window_mode(GcConfig(window="stop"), RegistryConfig()) == ("stop", False)


def gc_pod(config: dict[str, Any]) -> dict[str, Any]:
    cron = platform(config).named("rs-gc-cronjob").inputs["spec"]
    return dict(cron["jobTemplate"]["spec"])


def test_gc_ends_itself_before_the_job_deadline_could_end_it() -> None:
    job = gc_pod({})
    script = job["template"]["spec"]["containers"][0]["command"][2]
    assert f"timeout -s KILL {gc.GC_SECONDS} registry garbage-collect" in script
    stop_bound = gc.START_SECONDS + gc.STOP_SECONDS
    assert stop_bound + gc.GC_SECONDS + gc.RESTORE_SECONDS <= job["activeDeadlineSeconds"]


def flags(container: dict[str, Any]) -> list[str]:
    words = shlex.split(container["args"][0])
    return words[words.index(container["name"]) + 1 :]


def test_restore_has_no_deadline_of_its_own_and_stop_one_shorter_than_the_job() -> None:
    spec = gc_pod({})["template"]["spec"]
    stop, restore = spec["initContainers"][0], spec["containers"][1]
    assert f"--timeout={gc.STOP_SECONDS}" in flags(stop)
    assert not [f for f in flags(restore) if f.startswith(("--timeout", "--retry-for"))]


def test_the_lease_outlives_any_run_of_the_job() -> None:
    stop = gc_pod({})["template"]["spec"]["initContainers"][0]
    assert f"--lease-seconds={gc.LEASE_SECONDS}" in flags(stop)
    assert gc.LEASE_SECONDS > gc.JOB_SECONDS


def test_an_s3_registry_gets_the_read_only_window_without_a_pinned_node() -> None:
    stop = gc_pod({"registry": S3})["template"]["spec"]["initContainers"][0]
    assert "--mode=read-only" in flags(stop) and "--pin-node" not in flags(stop)


def test_the_steps_know_their_pod_and_node_from_the_downward_api() -> None:
    stop = gc_pod({})["template"]["spec"]["initContainers"][0]
    fields = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in stop["env"]
              if "valueFrom" in e}  # fmt: skip
    assert fields == {"POD_NAME": "metadata.name", "NODE_NAME": "spec.nodeName"}


def test_an_unreachable_api_fails_cleanly_without_a_traceback(tmp_path: Path, capsys) -> None:
    api = gc_window.Api("http://127.0.0.1:9", "token", None)
    argv = ["stop", "--namespace=ns", "--deployment=registry", "--selector=app=registry",
            f"--shared={tmp_path}", "--holder=me"]  # fmt: skip
    assert gc_window.main(argv, api=api) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_the_rendered_gc_script_ends_an_overrunning_collection_and_still_reports(
    tmp_path: Path,
) -> None:
    """The gc container's own script under a real shell and `timeout`, with a `registry` that
    never finishes and the bound shortened from GC_SECONDS to one second."""
    script = gc_pod({"registry": S3})["template"]["spec"]["containers"][0]["command"][2]
    script = script.replace(f"KILL {gc.GC_SECONDS} ", "KILL 1 ").replace(gc.SHARED, str(tmp_path))
    fake = tmp_path / "bin" / "registry"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nsleep 60\n")
    fake.chmod(0o755)
    env = {"PATH": f"{fake.parent}:/usr/bin:/bin"}
    done = subprocess.run(["sh", "-c", script], env=env, timeout=30, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "gc-exit").read_text().strip() == "137"


def test_a_terminated_gc_container_ends_the_collection_at_once_and_still_reports(
    tmp_path: Path,
) -> None:
    """SIGTERM, as the kubelet sends it, to the gc container's script running as PID 1 of its
    own PID namespace (as in the container, where PID 1 ignores an untrapped SIGTERM), with a
    `registry` that never finishes: the collection ends now, not at the grace period's end,
    and an exit code tells restore it may reopen."""
    script = gc_pod({"registry": S3})["template"]["spec"]["containers"][0]["command"][2]
    script = script.replace(gc.SHARED, str(tmp_path))
    fake = tmp_path / "bin" / "registry"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho $$ > {tmp_path}/gc.pid\nexec sleep 600\n")
    fake.chmod(0o755)
    env = {"PATH": f"{fake.parent}:/usr/bin:/bin"}
    container = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--user", "--map-root-user", "sh", "-c",
         f"echo $$ > {tmp_path}/init.pid; {script}"],
        env=env, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        while not (tmp_path / "gc.pid").exists():
            assert container.poll() is None, container.stderr
            time.sleep(0.05)
        assert (tmp_path / "init.pid").read_text().strip() == "1"
        shell = _pid_of_namespace_init(container.pid)
        subprocess.run(["kill", "-TERM", str(shell)], check=True)
        container.wait(timeout=30)  # the grace period here is the 600 s sleep: not reached
    finally:
        container.kill()
    assert (tmp_path / "gc-exit").read_text().strip() != "0"


def _pid_of_namespace_init(unshare_pid: int) -> int:
    """The host pid of the shell `unshare --fork` started (PID 1 inside)."""
    children = Path(f"/proc/{unshare_pid}/task/{unshare_pid}/children")
    for _ in range(200):
        text = children.read_text().split()
        if text:
            return int(text[0])
        time.sleep(0.05)
    raise AssertionError("unshare started no process")


def test_the_window_runs_from_what_its_job_mounts_and_the_standard_library(
    tmp_path: Path,
) -> None:
    """The stock Python image has nothing installed: the ConfigMap's files are all it gets."""
    rec = platform({})
    data = rec.named("rs-gc-scripts").inputs["data"]
    pod = gc_pod({})["template"]["spec"]
    (code,) = [v for v in pod["volumes"] if v["name"] == "code"]
    for item in code["configMap"]["items"]:
        (tmp_path / item["path"]).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / item["path"]).write_text(data[item["key"]])
    stop = pod["initContainers"][0]
    env = {e["name"]: e["value"] for e in stop["env"] if "value" in e}
    (mount,) = [m for m in stop["volumeMounts"] if m["name"] == "code"]
    assert env["PYTHONPATH"] == mount["mountPath"]
    # -S: no site-packages, as in the stock image; --help imports every module the steps use.
    done = subprocess.run(
        [sys.executable, "-S", "-m", "components.jobs.gc_window", "--help"],
        env={"PYTHONPATH": str(tmp_path)}, cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
