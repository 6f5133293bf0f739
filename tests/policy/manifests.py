"""Hand-written workload props for the rule tests, in the form the provider receives them."""

from __future__ import annotations

from typing import Any

DEPLOYMENT = "kubernetes:apps/v1:Deployment"

# Meets `restricted` and regstack's own pod rules.
SAFE_CONTEXT = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
LIMITS = {"limits": {"cpu": "1", "memory": "512Mi"}}


def container(image: Any = "registry.example.com/app:1.2.3", **fields: Any) -> dict[str, Any]:
    return {"name": "app", "image": image, "securityContext": SAFE_CONTEXT,
            "resources": LIMITS, **fields}  # fmt: skip


def deployment(*containers: dict[str, Any], **pod: Any) -> dict[str, Any]:
    spec = {"containers": list(containers), **pod}
    return {"metadata": {"name": "app"}, "spec": {"template": {"spec": spec}}}
