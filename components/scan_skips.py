"""checkov findings regstack accepts, written on the objects they concern with the reason.

checkov reads `checkov.io/skip<N>: <check id>=<reason>` annotations from an object's metadata,
so each accepted finding is explained where a reviewer of the manifest sees it.
"""

from __future__ import annotations

from collections.abc import Mapping

# The registry and its garbage collector run the same images on the same data volume.
REGISTRY_DATA = {
    "CKV_K8S_43": "images are pinned to release tags set in config (registry.version and "
    "gc.helper_image); the prod-image-tags policy accepts a tag or a digest",
    "CKV_K8S_15": "public images on pinned release tags: Always checks no pull credential and "
    "makes every restart of the registry depend on Docker Hub",
    "CKV_K8S_40": "UID 1000 owns existing registry data (the twuni chart's UID too); MicroK8s "
    "hostpath volumes ignore fsGroup, so another UID would lose access to the blobs",
}
GARBAGE_COLLECTION = {
    **REGISTRY_DATA,
    "CKV_K8S_38": "the stop and restore containers use the token to switch the registry "
    "Deployment to read-only or scale it, and to hold the GC Lease (Role registry-gc, this "
    "namespace only)",
}
REDIS_CACHE = {
    "CKV_K8S_43": "the image is pinned to a release tag set in config (registry.cache.version); "
    "the prod-image-tags policy accepts a tag or a digest",
    "CKV_K8S_15": REGISTRY_DATA["CKV_K8S_15"].replace("registry", "cache"),
}
TOKEN_SERVER = {
    "CKV_K8S_43": "the image is pinned to a release tag set in config "
    "(auth.token_server.version); the prod-image-tags policy accepts a tag or a digest",
    "CKV_K8S_15": REGISTRY_DATA["CKV_K8S_15"].replace("the registry", "the token server"),
}
# Added where the registry gets its secret environment (object storage, replicas, Redis).
SECRET_ENV = {
    "CKV_K8S_35": "Distribution reads S3 keys, http.secret and the Redis password only from its "
    "config file or REGISTRY_* variables; variables from a Secret keep them out of the ConfigMap",
}


def checkov_skips(reasons: Mapping[str, str]) -> dict[str, str]:
    """Annotations skipping each check with its reason."""
    for check, reason in reasons.items():
        # checkov splits the value on '=' and expects exactly two parts.
        if "=" in reason:
            raise ValueError(f"the reason for skipping {check} must not contain '='")
    return {
        f"checkov.io/skip{number}": f"{check}={reason}"
        for number, (check, reason) in enumerate(reasons.items(), start=1)
    }
