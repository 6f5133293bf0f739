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

# The Harbor chart's workloads, by their `component` label (components/harbor_hardening.py
# writes them on each Deployment and StatefulSet).
_HARBOR_IMAGES = {
    "CKV_K8S_43": "the chart pins Harbor's images to its release tag (chart 1.19.2, v2.15.2) and "
    "writes repository:tag; regstack pins no digest it could not pull and check here (a tag value "
    "'v2.15.2@sha256:...' per image through harbor.extra_values adds one)",
    "CKV_K8S_15": "images on the chart's pinned release tag: Always checks no pull credential and "
    "makes every restart of Harbor depend on Docker Hub (and on a node with local images fail)",
}
_HARBOR_ENV = (
    "Harbor {what} only from environment variables (no *_FILE variant or config-file key in "
    "Harbor 2.15.2: {where}); the chart takes them from its Secrets, never from a ConfigMap"
)
_HARBOR_DATA_UID = (
    "UID 999 owns the existing {what} data (the chart's runAsUser and fsGroup); MicroK8s "
    "hostpath volumes ignore fsGroup, so another UID would lose access to it{more}"
)
HARBOR: dict[str, dict[str, str]] = {
    "core": {**_HARBOR_IMAGES, "CKV_K8S_35": _HARBOR_ENV.format(
        what="core reads CORE_SECRET, JOBSERVICE_SECRET, REGISTRY_CREDENTIAL_PASSWORD, "
        "HARBOR_ADMIN_PASSWORD and POSTGRESQL_PASSWORD",
        where="os.Getenv in src/lib/config/systemconfig.go, EnvKey in "
        "src/lib/config/metadata/metadatalist.go")},
    "jobservice": {**_HARBOR_IMAGES, "CKV_K8S_35": _HARBOR_ENV.format(
        what="jobservice reads CORE_SECRET, JOBSERVICE_SECRET and REGISTRY_CREDENTIAL_PASSWORD",
        where="os.Getenv in src/lib/config/systemconfig.go")},
    "registry": {**_HARBOR_IMAGES, "CKV_K8S_35": _HARBOR_ENV.format(
        what="registryctl reads CORE_SECRET and JOBSERVICE_SECRET, and its registry "
        "REGISTRY_HTTP_SECRET and storage keys,",
        where="os.Getenv in src/registryctl/config/config.go; Distribution's REGISTRY_* "
        "variables")},
    "exporter": {**_HARBOR_IMAGES, "CKV_K8S_35": _HARBOR_ENV.format(
        what="the exporter reads HARBOR_DATABASE_PASSWORD and HARBOR_ADMIN_PASSWORD",
        where="viper.AutomaticEnv in src/cmd/exporter/main.go")},
    "trivy": {**_HARBOR_IMAGES, "CKV_K8S_35": _HARBOR_ENV.format(
        what="the Trivy adapter reads SCANNER_REDIS_URL and SCANNER_TRIVY_GITHUB_TOKEN",
        where="harbor-scanner-trivy's envconfig")},
    "database": {**_HARBOR_IMAGES,
        "CKV_K8S_35": "the image's /docker-healthcheck.sh, which the chart's probes run, reads "
        "POSTGRES_PASSWORD from the environment to sign in over TCP",
        "CKV_K8S_40": _HARBOR_DATA_UID.format(what="PostgreSQL",
            more="; initdb also refuses a UID the image's /etc/passwd does not name")},
    "redis": {**_HARBOR_IMAGES, "CKV_K8S_40": _HARBOR_DATA_UID.format(what="Valkey", more="")},
    "portal": dict(_HARBOR_IMAGES),
    "nginx": dict(_HARBOR_IMAGES),
}  # fmt: skip


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
