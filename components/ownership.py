"""Objects regstack creates where other people keep theirs: namespaces, and pull Secrets in a
team's namespace.

Two rules hold for them:

- regstack never takes over an object it did not create. pulumi-kubernetes 4.25 creates by
  server-side apply, an upsert: an existing namespace or Secret of the same name would silently
  become the stack's, and be deleted with it. 4.29 creates by a plain POST instead, which fails
  with AlreadyExists (pulumi/pulumi-kubernetes#4278), but the Go module proxy serves that provider
  module at no version after 4.25. So these objects go through a provider of their own with
  server-side apply off: its create is the POST that 4.29 makes (in preview too, as a dry run),
  its updates are client-side merges, which is all a namespace or a Secret needs. An error hook
  turns AlreadyExists into regstack's own message, which says what to do.
- A namespace regstack created is never deleted: Kubernetes deletes everything in it, and teams
  put their Deployments, claims and Secrets there. `pulumi destroy`, a namespace dropped from the
  config, or a flag turned off only forget it (`retain_on_delete`).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi.runtime.settings import get_monitor

# The default provider's settings that decide where and how objects are written. Passing them on
# keeps the two providers on one cluster: the engine compares kubeconfig, context and cluster
# between a resource's old and new provider and replaces the resource when they differ.
_PASSED_ON = {
    "cluster": str,
    "clusterIdentifier": str,
    "context": str,
    "kubeconfig": str,
    "namespace": str,
    "renderYamlToDirectory": str,
    "deleteUnreachable": bool,
    "enableConfigMapMutable": bool,
    "enableSecretMutable": bool,
    "skipUpdateUnreachable": bool,
}


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


# One provider per program run, keyed by the run's resource monitor (unit tests run many).
_PROVIDERS: weakref.WeakKeyDictionary[Any, k8s.Provider] = weakref.WeakKeyDictionary()


def create_only_provider() -> k8s.Provider:
    """The provider whose create fails on an existing object, configured like the default one."""
    run = get_monitor()
    if run not in _PROVIDERS:
        _PROVIDERS[run] = _new_create_only_provider()
    return _PROVIDERS[run]


def _new_create_only_provider() -> k8s.Provider:
    config = pulumi.Config("kubernetes")
    settings: dict[str, Any] = {}
    for key, kind in _PASSED_ON.items():
        value = config.get_bool(key) if kind is bool else config.get(key)
        if value is not None:
            settings[_snake(key)] = value
    return k8s.Provider("regstack-create-only", enable_server_side_apply=False, **settings)


def already_exists_message(inputs: Mapping[str, Any], what_to_do: str) -> str:
    """What regstack says when the object it was to create is already there."""
    metadata = inputs.get("metadata") or {}
    where = f" in namespace {metadata['namespace']}" if metadata.get("namespace") else ""
    return (
        f"regstack: {inputs.get('kind', 'object')} {metadata.get('name')}{where} already exists, "
        "and regstack never takes over an object it did not create (deleting it later would "
        f"delete what is yours). Nothing was changed. {what_to_do}"
    )


def _already_exists_hook(name: str, what_to_do: str) -> pulumi.ErrorHook:
    def explain(args: pulumi.ErrorHookArgs) -> bool:
        if args.failed_operation == "create" and any("already exists" in e for e in args.errors):
            raise RuntimeError(already_exists_message(args.new_inputs or {}, what_to_do))
        return False  # any other failure: the provider's own error, no retry

    return pulumi.ErrorHook(f"{name}-already-exists", explain)


def created_here(
    name: str, parent: pulumi.ResourceOptions, what_to_do: str, keep: bool
) -> pulumi.ResourceOptions:
    """Options for an object regstack creates and never adopts: `what_to_do` ends the error when
    it already exists; `keep` leaves it in the cluster when the stack lets go of it."""
    component = parent.parent
    explicit = component.get_provider("kubernetes::") if component is not None else None
    if explicit is not None:
        # A program that hands regstack a provider of its own (another cluster, say) keeps it:
        # the default one's settings could point elsewhere. Its create is whatever it was given.
        pulumi.log.warn(
            "regstack creates namespaces and pull secrets with the Kubernetes provider it was "
            "given; give that provider enable_server_side_apply=False, or an existing object of "
            "the same name is taken over instead of refused",
            resource=component,
        )
    return pulumi.ResourceOptions.merge(
        parent,
        pulumi.ResourceOptions(
            provider=explicit or create_only_provider(),
            retain_on_delete=keep or None,
            hooks=pulumi.ResourceHookBinding(on_error=[_already_exists_hook(name, what_to_do)]),
        ),
    )
