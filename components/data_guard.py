"""Refuses, before anything changes, a config that would delete the claim holding the images.

A Distribution registry on the filesystem keeps every image on the claim regstack created for it.
Point the stack at another backend, at object storage or at an existing claim, and the program no
longer registers that claim: the engine deletes what the program no longer registers, and every
image goes with it (the MicroK8s addon's own claim is never at risk: its Command never disables
it). The program cannot see its previous config, but it can read its own stack's last outputs
through a StackReference to itself, and `data_claim` names the claim the last run created.

The refusal is a RunError from an apply, so it ends `pulumi preview` as well as `pulumi up`. An up
deletes unregistered resources only once the program has finished without error, so the claim is
never deleted on the way.
"""

from __future__ import annotations

import pulumi

from components import kube
from components.config import RegstackConfig

OUTPUT = "data_claim"


def created_claim(cfg: RegstackConfig) -> str | None:
    """`<namespace>/<name>` of the claim this config has regstack create, or None."""
    storage = cfg.registry.storage
    if cfg.backend != "distribution" or storage.type != "filesystem" or storage.existing_claim:
        return None
    return f"{cfg.registry.namespace}/{kube.DATA_CLAIM}"


def refusal(previous: str | None, cfg: RegstackConfig) -> str | None:
    """Why this config may not replace the last run's, or None when no image would be lost."""
    if not previous or previous == created_claim(cfg):
        return None
    namespace, name = previous.split("/", 1)
    return (
        f"regstack: this change would delete the claim {name} in namespace {namespace}, and every "
        "image the stack's Distribution registry stored on it: the last run created it, this "
        f"config (backend: {cfg.backend}, registry.storage.type: {cfg.registry.storage.type}) no "
        "longer does. Nothing was changed. To keep the images, keep backend: distribution with "
        f"registry.namespace: {namespace} and registry.storage.type: filesystem. To move them, "
        "copy them to the new registry first (skopeo sync), then run `pulumi destroy` on this "
        "stack, which deletes the claim, and `pulumi up` with the new config."
    )


def refuse_dropping_the_data_claim(cfg: RegstackConfig) -> None:
    """Fail the run when the last one created a data claim that this config would delete."""
    stack = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    last_run = pulumi.StackReference("regstack-last-run", stack_name=stack)

    def check(previous: object) -> None:
        if problem := refusal(previous if isinstance(previous, str) else None, cfg):
            raise pulumi.RunError(problem)

    last_run.get_output(OUTPUT).apply(check)
