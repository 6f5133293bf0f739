"""A stack's Kubernetes manifests as the provider itself writes them (`make render`,
`scripts/render.py`; the Harbor chart's objects for `make scan`).

Runs `pulumi up` with the Kubernetes provider's render-to-directory mode
(`kubernetes:renderYamlToDirectory`) in a throwaway copy of the project with its own local state,
so nothing is applied to any cluster and the repository is left untouched. Every `secure:` value
is replaced by a placeholder first: the rendered Secrets hold no real credential.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from secrets import token_hex
from typing import Any

import yaml

from components.harbor import deep_merge
from components.stack_config import replace_secure
from devkit.stacks import stack_file
from devkit.vendor import harbor_chart

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = "rendered-placeholder-not-a-secret-0123456789abcdef"  # long enough for every field


def secure_paths(value: Any, path: str = "") -> Iterator[str]:
    """The `pulumi config --path` paths of every `secure:` value in a stack's config."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from secure_paths(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from secure_paths(item, f"{path}[{index}]")


def renders_a_chart(stack: str) -> bool:
    """Whether the stack deploys the Harbor chart, whose render needs the chart and an API server
    (Helm's `lookup`)."""
    config = yaml.safe_load(stack_file(stack).read_text())["config"]
    return bool(config.get("regstack:backend") == "harbor")


def offline_overrides(stack: str) -> dict[str, Any]:
    """What keeps a render offline: a harbor stack's chart from the vendor directory (the pinned
    version, devkit/vendor.py) instead of its Helm repository on the internet."""
    if not renders_a_chart(stack):
        return {}
    return {"regstack:harbor": {"chart": {"path": str(harbor_chart())}}}


def render(
    stack: str,
    out_dir: Path,
    overrides: dict[str, Any] | None = None,
    kubeconfig: Path | None = None,
) -> Path:
    """The stack's manifests in `out_dir`; `overrides` are merged over its config key by key.
    A chart that calls Helm's `lookup` (Harbor's does) needs an API server even in render mode:
    `kubeconfig` names one (nothing is applied to it)."""
    work = ROOT / "build" / ".render" / stack
    shutil.rmtree(work, ignore_errors=True)
    (work / "state").mkdir(parents=True)
    shutil.rmtree(out_dir, ignore_errors=True)
    (work / "Pulumi.yaml").write_text(
        "name: regstack\nruntime:\n  name: python\n  options:\n"
        f"    toolchain: pip\n    virtualenv: {ROOT / '.venv'}\n"
    )
    shutil.copy(ROOT / "__main__.py", work / "__main__.py")
    document = yaml.safe_load(stack_file(stack).read_text())
    config = replace_secure(document["config"], PLACEHOLDER)
    config = deep_merge(config, overrides or {})
    config["kubernetes:renderYamlToDirectory"] = str(out_dir)
    (work / "Pulumi.render.yaml").write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    # The program refuses a secret given in plaintext, so the placeholders go in as secrets.
    secrets = " ".join(
        f"--secret {shlex.quote(path + '=' + PLACEHOLDER)}"
        for path in secure_paths(document["config"])
    )
    script = (
        f'source "{ROOT / "scripts" / "pulumi-env.sh"}" && '
        f'export PULUMI_BACKEND_URL="file://{work / "state"}" && '
        # A throwaway stack of placeholders: a passphrase of its own, never the published lab
        # one, which the program refuses for a prod profile.
        f"unset PULUMI_CONFIG_PASSPHRASE_FILE && export PULUMI_CONFIG_PASSPHRASE={token_hex(16)} && "
        "pulumi stack init render --non-interactive >/dev/null && "
        + (f"pulumi config set-all --path {secrets} --stack render && " if secrets else "")
        + "pulumi up --yes --skip-preview --non-interactive --suppress-outputs --stack render"
    )
    env = dict(os.environ, **({"KUBECONFIG": str(kubeconfig)} if kubeconfig else {}))
    subprocess.run(["bash", "-c", script], cwd=work, env=env, check=True, stdout=subprocess.DEVNULL)
    return out_dir
