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
RETENTION = {
    "CKV_K8S_43": "the image is pinned to a release tag set in config (retention.image); the "
    "prod-image-tags policy accepts a tag or a digest",
    "CKV_K8S_15": "a public image on a pinned release tag: Always checks no pull credential and "
    "makes every run of the retention job depend on Docker Hub",
}
# Added when retention.protect_in_use keeps the images the cluster's Pods run.
RETENTION_IN_USE = {
    "CKV_K8S_38": "the job lists Pods and every kind with a pod template cluster-wide (a "
    "ClusterRole with the verb list only) to keep every image the cluster runs",
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
# Secrets Harbor 2.15.2 reads only from environment variables (no *_FILE variant, no config-file
# key): who reads what, and where in Harbor's source.
_HARBOR_ENV_ONLY = {
    "core": ("core reads CORE_SECRET, JOBSERVICE_SECRET, REGISTRY_CREDENTIAL_PASSWORD, "
             "HARBOR_ADMIN_PASSWORD and POSTGRESQL_PASSWORD",
             "os.Getenv in src/lib/config/systemconfig.go, EnvKey in "
             "src/lib/config/metadata/metadatalist.go"),
    "jobservice": ("jobservice reads CORE_SECRET, JOBSERVICE_SECRET and REGISTRY_CREDENTIAL_PASSWORD",
                   "os.Getenv in src/lib/config/systemconfig.go"),
    "registry": ("registryctl reads CORE_SECRET and JOBSERVICE_SECRET",
                 "os.Getenv in src/registryctl/config/config.go; the registry's "
                 "REGISTRY_HTTP_SECRET and storage keys could only move into its config file, "
                 "which the chart keeps in a ConfigMap"),
    "exporter": ("the exporter reads HARBOR_DATABASE_PASSWORD and HARBOR_ADMIN_PASSWORD",
                 "viper.AutomaticEnv in src/cmd/exporter/main.go"),
    "trivy": ("the Trivy adapter reads SCANNER_REDIS_URL and SCANNER_TRIVY_GITHUB_TOKEN",
              "harbor-scanner-trivy's envconfig"),
    "database": ("the image's /docker-healthcheck.sh, which the chart's probes run, reads "
                 "POSTGRES_PASSWORD",
                 "its entrypoint also takes POSTGRES_PASSWORD_FILE, the healthcheck does not"),
}  # fmt: skip
_HARBOR_LOW_UID = {
    "database": "UID 999 owns the existing PostgreSQL data (the chart's runAsUser and fsGroup); "
    "MicroK8s hostpath volumes ignore fsGroup, so another UID would lose access to it; initdb "
    "also refuses a UID the image's /etc/passwd does not name",
    "redis": "UID 999 owns the existing Valkey data (the chart's runAsUser and fsGroup); "
    "MicroK8s hostpath volumes ignore fsGroup, so another UID would lose access to it",
}
HARBOR: dict[str, dict[str, str]] = {
    component: {
        **_HARBOR_IMAGES,
        **({"CKV_K8S_35": f"{_HARBOR_ENV_ONLY[component][0]} only from environment "
            f"variables ({_HARBOR_ENV_ONLY[component][1]}); the chart takes them from its "
            "Secrets, never from a ConfigMap"} if component in _HARBOR_ENV_ONLY else {}),
        **({"CKV_K8S_40": _HARBOR_LOW_UID[component]} if component in _HARBOR_LOW_UID else {}),
    }
    for component in ("core", "jobservice", "registry", "exporter", "trivy", "database", "redis",
                      "portal", "nginx")
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
