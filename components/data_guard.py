"""Refuses, before anything changes, a config that would delete the claim holding the images.

A Distribution registry on the filesystem keeps every image on the claim regstack created for it.
Point the stack at another backend, at object storage or at an existing claim, and the program no
longer registers that claim: the engine deletes what the program no longer registers, and every
image goes with it (the MicroK8s addon's own claim is never at risk: its Command never disables
it). The program cannot see its previous config, but it can read its own stack's last outputs
through a StackReference to itself, and `data_claim` names the claim the last run created with
the fields whose change would replace it.

The refusal is a RunError from an apply, so it ends `pulumi preview` as well as `pulumi up`. An up
deletes unregistered resources only once the program has finished without error, so the claim is
never deleted on the way. Nothing else may be registered before the check has passed either (the
MicroK8s addon's Command would run `microk8s enable` at once): the program's Registry component
waits for it, and every resource below it waits for its parent's URN.
"""

from __future__ import annotations

import pulumi

from . import kube
from .config import RegstackConfig

OUTPUT = "data_claim"


def created_claim(cfg: RegstackConfig) -> dict[str, str] | None:
    """The claim this config has regstack create, with the fields whose change replaces it
    (Kubernetes cannot change a claim's class or access mode in place), or None."""
    storage = cfg.registry.storage
    if cfg.backend != "distribution" or storage.type != "filesystem" or storage.existing_claim:
        return None
    return {
        "namespace": cfg.registry.namespace,
        "name": kube.DATA_CLAIM,
        "access_mode": storage.access_mode,
        "storage_class": storage.storage_class or "",
    }


def refusal(previous: object, cfg: RegstackConfig) -> str | None:
    """Why this config may not replace the last run's, or None when no image would be lost."""
    if not isinstance(previous, dict) or previous == created_claim(cfg):
        return None
    namespace, name = previous.get("namespace"), previous.get("name")
    now = created_claim(cfg)
    if now is not None and (now["namespace"], now["name"]) == (namespace, name):
        change = (
            f"replace the claim {name} in namespace {namespace} (registry.storage.access_mode "
            f"{previous.get('access_mode')} -> {now['access_mode']}, registry.storage."
            f"storage_class {previous.get('storage_class') or 'default'} -> "
            f"{now['storage_class'] or 'default'}: Kubernetes changes neither in place)"
        )
        keep = "put both back as they were"
    else:
        change = (
            f"delete the claim {name} in namespace {namespace}: the last run created it, this "
            f"config (backend: {cfg.backend}, registry.storage.type: "
            f"{cfg.registry.storage.type}) no longer does"
        )
        keep = (
            f"keep backend: distribution with registry.namespace: {namespace} and "
            "registry.storage.type: filesystem"
        )
    return (
        f"regstack: this change would {change}, and with it every image the stack's "
        f"Distribution registry stored there. Nothing was changed. To keep the images, {keep}. "
        "To move them, copy them to the new registry first (skopeo sync), then run "
        "`pulumi destroy` on this stack, which deletes the claim, and `pulumi up` with the new "
        "config."
    )


def after_the_data_claim_check(cfg: RegstackConfig) -> pulumi.ResourceOptions:
    """Options that hold a resource back until the check has passed, and fail the run when the
    last one created a data claim that this config would delete."""
    stack = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    last_run = pulumi.StackReference("regstack-last-run", stack_name=stack)

    def check(previous: object) -> list[pulumi.Resource]:
        if problem := refusal(previous, cfg):
            raise pulumi.RunError(problem)
        return []  # nothing to depend on: the wait for this Output is the point

    return pulumi.ResourceOptions(depends_on=last_run.get_output(OUTPUT).apply(check))
