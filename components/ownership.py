"""Objects regstack creates where other people keep theirs: namespaces, and pull Secrets in a
team's namespace.

Two rules hold for them:

- regstack never takes over an object it did not create. pulumi-kubernetes 4.25 creates by
  server-side apply, an upsert: an existing namespace or Secret of the same name would silently
  become the stack's, and be deleted with it. 4.29 creates by a plain POST instead, which fails
  with AlreadyExists (pulumi/pulumi-kubernetes#4278), but the Go module proxy serves that provider
  module at no version after 4.25. So these objects go through a provider of their own with
  server-side apply off: its create is the POST that 4.29 makes, its updates are client-side
  merges, which is all a namespace or a Secret needs. An error hook turns AlreadyExists into
  regstack's own message, which says what to do. The refusal comes at the create in `pulumi up`,
  not in preview: with server-side apply off, pulumi-kubernetes 4.25 does not dry-run creates.
- A namespace regstack created is never deleted: Kubernetes deletes everything in it, and teams
  put their Deployments, claims and Secrets there. `pulumi destroy`, a namespace dropped from the
  config, or a flag turned off only forget it (`retain_on_delete`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

# The default provider's settings that decide where and how objects are written. Passing them on
# keeps the two providers on one cluster: the engine compares kubeconfig, context and cluster
# between a resource's old and new provider and replaces the resource when they differ.
_PASSED_ON: dict[str, type | str] = {
    "cluster": str,
    "clusterIdentifier": str,
    "context": str,
    "kubeconfig": "secret",  # credentials: read as a secret, so the state keeps them encrypted
    "namespace": str,
    "renderYamlToDirectory": str,
    "deleteUnreachable": bool,
    "enableConfigMapMutable": bool,
    "enableSecretMutable": bool,
    "skipUpdateUnreachable": bool,
}


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def _read(config: pulumi.Config, key: str, kind: type | str) -> Any:
    if kind is bool:
        return config.get_bool(key)
    return config.get_secret(key) if kind == "secret" else config.get(key)


def create_only_provider(name: str, owner: pulumi.Resource) -> pulumi.ProviderResource | None:
    """The provider whose create fails on an existing object, configured like the default one,
    for `owner`'s children. A program that hands `owner` a Kubernetes provider of its own
    (another cluster, say) keeps it: the default one's settings could point elsewhere. None (the
    default provider) when the stack renders YAML: nothing reaches a cluster, nothing is adopted,
    and a second provider would pick up $KUBECONFIG, which rendering refuses."""
    given = owner.get_provider("kubernetes::")
    if given is not None:
        pulumi.log.warn(
            "regstack creates namespaces and pull secrets with the Kubernetes provider it was "
            "given; give that provider enable_server_side_apply=False, or an existing object of "
            "the same name is taken over instead of refused",
            resource=owner,
        )
        return given
    config = pulumi.Config("kubernetes")
    if config.get("renderYamlToDirectory"):
        return None
    settings: dict[str, Any] = {}
    for key, kind in _PASSED_ON.items():
        value = _read(config, key, kind)
        if value is not None:
            settings[_snake(key)] = value
    return k8s.Provider(
        f"{name}-create-only",
        enable_server_side_apply=False,
        opts=pulumi.ResourceOptions(parent=owner),
        **settings,
    )


def already_exists_message(inputs: Mapping[str, Any], what_to_do: str) -> str:
    """What regstack says when the object it was to create is already there."""
    metadata = inputs.get("metadata") or {}
    where = f" in namespace {metadata['namespace']}" if metadata.get("namespace") else ""
    return (
        f"regstack: {inputs.get('kind', 'object')} {metadata.get('name')}{where} already exists, "
        "and regstack never takes over an object it did not create (deleting it later would "
        f"delete what is yours). regstack left it as it is. {what_to_do}"
    )


def _already_exists_hook(name: str, what_to_do: str) -> pulumi.ErrorHook:
    def explain(args: pulumi.ErrorHookArgs) -> bool:
        if args.failed_operation == "create" and any("already exists" in e for e in args.errors):
            raise RuntimeError(already_exists_message(args.new_inputs or {}, what_to_do))
        return False  # any other failure: the provider's own error, no retry

    return pulumi.ErrorHook(f"{name}-already-exists", explain)


def created_here(
    name: str,
    parent: pulumi.ResourceOptions,
    provider: pulumi.ProviderResource | None,
    what_to_do: str,
    keep: bool,
) -> pulumi.ResourceOptions:
    """Options for an object regstack creates and never adopts, through `create_only_provider`:
    `what_to_do` ends the error when it already exists; `keep` leaves it in the cluster when the
    stack lets go of it."""
    return pulumi.ResourceOptions.merge(
        parent,
        pulumi.ResourceOptions(
            provider=provider,
            retain_on_delete=keep or None,
            hooks=pulumi.ResourceHookBinding(on_error=[_already_exists_hook(name, what_to_do)]),
        ),
    )
