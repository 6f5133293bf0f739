"""Where regstack's pods run: `registry.placement` as PodSpec fields.

The registry, its GC and retention Jobs and its Redis cache share one placement, so a registry
pinned to storage nodes (or to tainted, dedicated ones) brings the pods that serve it along.
"""

from __future__ import annotations

from typing import Any

import pulumi_kubernetes as k8s

from .config import PlacementConfig


def pod_placement(placement: PlacementConfig) -> dict[str, Any]:
    """`node_selector` and `tolerations` for `k8s.core.v1.PodSpecArgs(**...)`; None when unset."""
    tolerations = [
        k8s.core.v1.TolerationArgs(
            key=t.key,
            operator=t.operator,
            value=t.value or None,
            effect=t.effect,
            toleration_seconds=t.toleration_seconds,
        )
        for t in placement.tolerations
    ]
    return {"node_selector": placement.node_selector or None, "tolerations": tolerations or None}
