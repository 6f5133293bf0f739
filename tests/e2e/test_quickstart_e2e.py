"""The README's Quickstart, executed as written: a MicroK8s reader with their own Pulumi CLI.

The commands are read from the README's first bash block under "Quickstart on a MicroK8s lab"
and run by bash in a copy of the checkout, so the README cannot drift from what works. What
stands in for the reader's machine, and only that:
- `microk8s` is a STAND-IN script (the real CLI is a snap): `enable` records the addons asked
  for and, for `observability`, creates the namespace that addon owns; `config` prints the test
  control plane's kubeconfig. The control plane already serves cert-manager's and the Prometheus
  Operator's CRDs, as those addons would install them.
- the "own Pulumi CLI" is the one `make toolchain` built, first on PATH, with the machine's
  network rules set in the environment (no update check, no plugin download);
- the test control plane has no kubelet, so the checkout's dev stack file, which the reader copies, gets
  `regstack:skip_await: true`: the only line that differs from the repository.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
import yaml
from engine import REPO, Engine

from devkit.readme import quickstart_commands

pytestmark = pytest.mark.e2e

LAB_PASSWORD = "quickstart-lab-password-51c2"
HTPASSWD = "/api/v1/namespaces/container-registry/secrets/regstack-auth-htpasswd"
STAND_IN = """#!/bin/sh
# STAND-IN for the MicroK8s CLI (a snap, not runnable here); see test_quickstart_e2e.py.
echo "microk8s $*" >> "{log}"
case "$1" in
  enable)
    for addon in "$@"; do
      [ "$addon" = observability ] && kubectl --kubeconfig "{kubeconfig}" create namespace \\
        observability --dry-run=client -o yaml | kubectl --kubeconfig "{kubeconfig}" apply -f - >/dev/null
    done
    exit 0 ;;
  config) cat "{kubeconfig}" ;;
  *) echo "stand-in microk8s: $1 is not modelled" >&2; exit 1 ;;
esac
"""


def readme_passphrase() -> str:
    match = re.search(r"^export PULUMI_CONFIG_PASSPHRASE=(\S+)", quickstart_commands(), re.M)
    assert match, "the Quickstart no longer exports the lab passphrase"
    return match.group(1)


def readme_stack() -> str:
    """The reader's own stack, which the Quickstart creates from a copy of the dev stack file."""
    match = re.search(r"^pulumi stack select (\S+) --create", quickstart_commands(), re.M)
    assert match, "the Quickstart no longer creates a stack"
    return match.group(1)


def checkout_copy(target: Path) -> Path:
    """The repository's tracked files, as a fresh clone would have them."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True,
                           capture_output=True, text=True).stdout.split("\0")  # fmt: skip
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    stack_file = target / "Pulumi.dev.yaml"
    stack = yaml.safe_load(stack_file.read_text())
    stack["config"]["regstack:skip_await"] = True  # no kubelet here: workloads never get ready
    stack_file.write_text(yaml.safe_dump(stack, sort_keys=False))
    return target


@pytest.fixture(scope="module")
def quickstart(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("quickstart")
    checkout = checkout_copy(root / "regstack")
    dev_stack_file = (checkout / "Pulumi.dev.yaml").read_text()
    home, stand_ins, log = root / "home", root / "stand-ins", root / "microk8s.log"
    (home / ".kube").mkdir(parents=True)
    stand_ins.mkdir()
    microk8s = stand_ins / "microk8s"
    microk8s.write_text(STAND_IN.format(log=log, kubeconfig=engine.cluster.kubeconfig))
    microk8s.chmod(0o755)
    env = {
        "PATH": f"{stand_ins}:{engine.bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        # The reader's own Pulumi home; the CLI would otherwise take /etc/passwd's home, not $HOME.
        "PULUMI_HOME": str(home / ".pulumi"),
        "LAB_PASSWORD": LAB_PASSWORD,
        # This machine's network rules, not the reader's: loopback only.
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", quickstart_commands()],
        cwd=checkout, env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    try:
        yield {"run": run, "microk8s": log.read_text() if log.exists() else "",
               "checkout": checkout, "dev_stack_file": dev_stack_file}  # fmt: skip
    finally:
        # The reader's shell kept these exported; the teardown's shell must say them again, or
        # the destroy fails and the stack's pull secrets stay to conflict with later tests.
        teardown_env = env | {"PULUMI_CONFIG_PASSPHRASE": readme_passphrase(),
                              "KUBECONFIG": str(engine.cluster.kubeconfig)}  # fmt: skip
        stack = readme_stack()
        destroyed = subprocess.run(["bash", "-c", f"pulumi destroy --yes --skip-preview -s {stack} && "
                                    f"pulumi stack rm --yes --force -s {stack}"],
                                   cwd=checkout, env=teardown_env, capture_output=True, text=True,
                                   timeout=900)  # fmt: skip
        assert destroyed.returncode == 0, destroyed.stdout[-3000:] + destroyed.stderr[-3000:]
        # `pulumi destroy` leaves the namespaces regstack created; the dev stack of
        # test_stacks_e2e creates them again on this cluster.
        for namespace in ("container-registry", "dev", "staging"):
            engine.cluster.delete_namespace(namespace)


def test_the_quickstart_runs_to_its_end(quickstart: dict) -> None:
    run = quickstart["run"]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


def test_it_ends_with_the_login_command_for_the_registry_s_real_address(quickstart: dict) -> None:
    last_line = quickstart["run"].stdout.strip().splitlines()[-1]
    assert last_line == "docker login registry.lab.local:32000 -u dev"


def test_the_registry_accepts_the_password_the_reader_set(quickstart: dict, engine: Engine) -> None:
    status, secret = engine.cluster.get(HTPASSWD)
    assert status == 200, (secret, quickstart["run"].stdout[-3000:])
    data = secret["data"]["htpasswd"]
    user, hashed = base64.b64decode(data).decode().strip().split(":", 1)
    assert user == "dev" and bcrypt.checkpw(LAB_PASSWORD.encode(), hashed.encode())


def test_the_committed_dev_stack_file_is_left_as_it_was(quickstart: dict) -> None:
    # The reader's password went into their own stack file, a copy of the dev stack's.
    checkout = quickstart["checkout"]
    assert (checkout / "Pulumi.dev.yaml").read_text() == quickstart["dev_stack_file"]
    assert (checkout / f"Pulumi.{readme_stack()}.yaml").exists()


def test_it_enables_the_addons_the_dev_stack_needs(quickstart: dict) -> None:
    assert (
        "microk8s enable dns hostpath-storage cert-manager observability" in quickstart["microk8s"]
    )
