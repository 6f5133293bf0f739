"""A deliberately bad stack, as the resources a careless program would register.

Props are in the form the mock harness records: Kubernetes field names, secrets (none here)
wrapped in Pulumi's secret envelope.
"""

from __future__ import annotations

from typing import Any

BAD_RESOURCES: list[tuple[str, dict[str, Any]]] = [
    (
        "kubernetes:apps/v1:Deployment",
        {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "template": {
                    "spec": {
                        "hostNetwork": True,
                        "containers": [
                            {
                                "name": "nginx",
                                "image": "docker.io/nginx:latest",
                                "securityContext": {"privileged": True},
                            }
                        ],
                        "volumes": [{"name": "docker", "hostPath": {"path": "/var/run"}}],
                    }
                }
            },
        },
    ),
    (
        "kubernetes:core/v1:Secret",
        {
            "metadata": {"name": "db", "namespace": "default"},
            "stringData": {"password": "hunter2"},
        },
    ),
    ("kubernetes:core/v1:Namespace", {"metadata": {"name": "scratch"}}),
]
