"""What regstack adds to the Harbor chart so that its pods meet the rules the rest of regstack
meets (`make scan`, checkov): limits, read-only root filesystems, NetworkPolicies, and a reason
on each finding that stays.

Through the chart's values where it has them (`hardening_values`: requests and limits per
container, `readOnlyRootFilesystem` in its shared `containerSecurityContext`); through a Chart v4
transform where it has none (`harden_workload`: the writable directories each image needs as
`emptyDir` volumes, and the checkov skips as annotations); and as objects of regstack's own
(`network_policies`: one per Harbor pod, admitting only the flows Harbor uses).

Which paths each image writes comes from Harbor's Dockerfiles and entrypoints at v2.15.2
(`make/photon/*` in Harbor's source); docs/guides/production.md lists them with the flows.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import rpc

from components import scan_skips
from components.config import HarborConfig

RELEASE = "harbor"
"""The Helm release name: the chart labels every pod `release: harbor` and `app: harbor`."""
_WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, Any]:
    return {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu_limit, "memory": memory_limit},
    }


# Requests are what an idle Harbor with a few users takes; limits leave room for pushes of
# large layers (registry, core) and GC (registryctl, jobservice). Override any of them through
# `harbor.extra_values` (same paths).
RESOURCES: dict[str, Any] = {
    "core": {"resources": _resources("100m", "256Mi", "2", "2Gi")},
    "jobservice": {"resources": _resources("100m", "256Mi", "1", "1Gi")},
    "portal": {"resources": _resources("10m", "32Mi", "500m", "256Mi")},
    "nginx": {"resources": _resources("100m", "64Mi", "1", "512Mi")},
    "registry": {
        "registry": {"resources": _resources("100m", "256Mi", "2", "2Gi")},
        "controller": {"resources": _resources("50m", "64Mi", "1", "512Mi")},
    },
    "database": {
        "internal": {
            "resources": _resources("100m", "256Mi", "2", "2Gi"),
            "initContainer": {
                "permissions": {"resources": _resources("10m", "16Mi", "100m", "64Mi")}
            },
        }
    },
    "redis": {"internal": {"resources": _resources("50m", "64Mi", "1", "1Gi")}},
    "exporter": {"resources": _resources("50m", "64Mi", "500m", "256Mi")},
    # trivy: the chart's own defaults (200m/512Mi, limits 1 CPU/1Gi) already set both.
}
_INIT_RESOURCES = _resources("10m", "16Mi", "100m", "64Mi")


def hardening_values() -> dict[str, Any]:
    """Chart values: limits for every container, and read-only root filesystems (the chart's
    `containerSecurityContext` is shared by all its containers; Helm merges this key into the
    chart's default, which already drops every capability and runs as non-root)."""
    return {
        "containerSecurityContext": {"readOnlyRootFilesystem": True},
        **copy.deepcopy(RESOURCES),
    }


WRITABLE: dict[str, tuple[str, ...]] = {
    # Go binaries: os.TempDir() for uploads in flight and temporary files.
    "core": ("/tmp",),
    "jobservice": ("/tmp",),
    "registry": ("/tmp",),
    "registryctl": ("/tmp",),
    "exporter": ("/tmp",),
    "trivy": ("/tmp",),
    # nginx: the chart's nginx.conf puts the pid file and every *_temp_path under /tmp.
    "portal": ("/tmp",),
    "nginx": ("/tmp",),
    # PostgreSQL's socket directory (the image's unix_socket_directories), and the entrypoint's
    # here-documents and psql during the first initialisation.
    "database": ("/tmp", "/run/postgresql"),
    # Valkey writes its pidfile /var/run/redis_6379.pid; data goes to the /var/lib/redis claim.
    "redis": ("/var/run",),
}
"""Directories each container (by name, unique in the chart) writes outside its volumes."""

CA_TRUST: dict[str, str] = {
    "core": "/harbor",
    "jobservice": "/harbor",
    "exporter": "/harbor",
    "registry": "/home/harbor",
    "registryctl": "/home/harbor",
    "trivy": "/home/scanner",
}
"""Containers whose entrypoint runs Harbor's install_cert.sh, and the directory it sits in.

On every start it saves `ca-bundle.crt.original` beside itself (once) and rewrites
/etc/pki/tls/certs/ca-bundle.crt with the internal-TLS and custom CAs appended. An init
container copies the image's /etc/pki/tls/certs and that original into an emptyDir first, so
both stay writable and start from the image's own bundle."""

CA_TRUST_VOLUME = "regstack-ca-trust"
CA_TRUST_INIT = "regstack-ca-trust"
CERTS = "/etc/pki/tls/certs"
ORIGINAL = "ca-bundle.crt.original"


def writable_volume(container: str, path: str) -> str:
    """`regstack-<container>-<path with dashes>`: one emptyDir per directory and container."""
    return f"regstack-{container}{path.replace('/', '-')}"


def ca_trust_script(
    containers: list[str], certs: str = CERTS, volume: str = f"/{CA_TRUST_VOLUME}"
) -> str:
    """Copies the image's trust store per container, links resolved (install_cert.sh writes
    through ca-bundle.crt, which must not lead back to the read-only image); an image without
    /etc/pki (the script returns early on anything but Photon) gets an empty original so that
    the file mount exists."""
    lines = ["set -e"]
    for name in containers:
        target = f"{volume}/{name}"
        lines += [
            f"mkdir -p {target}/certs",
            f"if [ -d {certs} ]; then cp -RL {certs}/. {target}/certs/; fi",
            f"if [ -f {certs}/ca-bundle.crt ]; then cp {certs}/ca-bundle.crt {target}/{ORIGINAL};"
            f" else : > {target}/{ORIGINAL}; fi",
        ]
    return "\n".join(lines)


def harden_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """A copy of a chart pod spec with an emptyDir per writable directory and the CA trust init
    container; containers not listed here are left as the chart renders them."""
    pod = copy.deepcopy(pod)
    volumes = pod.setdefault("volumes", [])
    trusting = []
    for container in pod.get("containers", []):
        name = container["name"]
        mounts = container.setdefault("volumeMounts", [])
        for path in WRITABLE.get(name, ()):
            volumes.append({"name": writable_volume(name, path), "emptyDir": {}})
            mounts.append({"name": writable_volume(name, path), "mountPath": path})
        if name in CA_TRUST:
            trusting.append(container)
            mounts += [
                {"name": CA_TRUST_VOLUME, "mountPath": CERTS, "subPath": f"{name}/certs"},
                {"name": CA_TRUST_VOLUME, "mountPath": f"{CA_TRUST[name]}/{ORIGINAL}",
                 "subPath": f"{name}/{ORIGINAL}"},
            ]  # fmt: skip
    if trusting:
        first = trusting[0]
        volumes.append({"name": CA_TRUST_VOLUME, "emptyDir": {}})
        init = {
            "name": CA_TRUST_INIT,
            "image": first["image"],
            "command": ["/bin/sh", "-c", ca_trust_script([c["name"] for c in trusting])],
            "resources": copy.deepcopy(_INIT_RESOURCES),
            "volumeMounts": [{"name": CA_TRUST_VOLUME, "mountPath": f"/{CA_TRUST_VOLUME}"}],
            **{k: copy.deepcopy(first[k]) for k in ("imagePullPolicy", "securityContext")
               if k in first},
        }  # fmt: skip
        pod["initContainers"] = [*pod.get("initContainers", []), init]
    return pod


def _plain(value: Any) -> tuple[Any, bool]:
    """A property as sent to the transform: secretness is lifted to top-level properties."""
    return (rpc.unwrap_rpc_secret(value), True) if rpc.is_rpc_secret(value) else (value, False)


def _as_sent(value: Any, secret: bool) -> Any:
    return rpc.wrap_rpc_secret(value) if secret else value


def harden_workload(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Chart v4 transform: writable directories and CA trust on every Harbor pod, and on each
    workload the checkov findings regstack accepts (`scan_skips.HARBOR`), with their reasons."""
    if args.type_ not in _WORKLOADS:
        return None
    props = dict(args.props)
    spec, spec_secret = _plain(props["spec"])
    metadata, metadata_secret = _plain(props["metadata"])
    component = spec["template"]["metadata"]["labels"].get("component", "")
    spec = {**spec, "template": {**spec["template"], "spec": harden_pod(spec["template"]["spec"])}}
    skips = scan_skips.checkov_skips(scan_skips.HARBOR.get(component, {}))
    metadata = {**metadata, "annotations": {**(metadata.get("annotations") or {}), **skips}}
    props["spec"] = _as_sent(spec, spec_secret)
    props["metadata"] = _as_sent(metadata, metadata_secret)
    return pulumi.ResourceTransformResult(props=props, opts=args.opts)


@dataclass(frozen=True)
class Flow:
    """Pods of `sources` (components, or None: any client) may open `ports` on `target`."""

    target: str
    ports: tuple[int, ...]
    sources: tuple[str, ...] | None


METRICS_PORT = 8001
"""The chart's metrics.*.port for core, jobservice, registry and the exporter."""


def flows(harbor: HarborConfig) -> list[Flow]:
    """Every connection Harbor's components make to each other (internal TLS moves the ports),
    from the URLs in the chart's ConfigMaps (CORE_URL, REGISTRY_URL, REGISTRY_CONTROLLER_URL,
    JOBSERVICE_URL, TRIVY_ADAPTER_URL, POSTGRESQL_HOST, the Redis URLs, HARBOR_SERVICE_HOST) and
    the scanner's registry URL (core's internal URL)."""
    tls = harbor.internal_tls.enabled
    http = 8443 if tls else 8080
    registry_port = 5443 if tls else 5000
    internal_db = harbor.database.type == "internal"
    internal_redis = harbor.redis.type == "internal"
    entry = "nginx" if harbor.expose.type != "ingress" else None
    # With an Ingress, the controller (in a namespace regstack does not know, possibly on the
    # host network) reaches core and the portal directly; otherwise the chart's nginx does.
    front: tuple[str, ...] | None = (entry,) if entry else None
    exporter = ("exporter",) if harbor.metrics.enabled else ()
    trivy = ("trivy",) if harbor.trivy else ()
    core_clients = ("jobservice", "registry", *exporter, *trivy)
    result = [
        Flow("core", (http,), None if front is None else (*front, *core_clients)),
        Flow("portal", (http,), front),
        Flow("jobservice", (http,), ("core",)),
        # The pod runs registry (5000) and registryctl (8080): core and GC jobs call both.
        Flow("registry", (registry_port, 8443 if tls else 8080), ("core", "jobservice")),
    ]
    if entry:
        result.append(Flow(entry, (8080, 8443), None))
    if harbor.trivy:
        result.append(Flow("trivy", (http,), ("core", "jobservice")))
    if internal_db:
        users = (
            ("core", "jobservice", "exporter") if harbor.metrics.enabled else ("core", "jobservice")
        )
        result.append(Flow("database", (5432,), users))
    if internal_redis:
        result.append(Flow("redis", (6379,), ("core", "jobservice", "registry", *trivy, *exporter)))
    return result


def pod_selector(component: str) -> dict[str, str]:
    return {"app": RELEASE, "release": RELEASE, "component": component}


def network_policy_spec(
    flow: Flow, metrics: bool, scraper: tuple[str, Mapping[str, str]]
) -> dict[str, Any]:
    """Ingress rules for one component: its flow, and Prometheus on the metrics port."""
    ports = [{"protocol": "TCP", "port": port} for port in flow.ports]
    if flow.sources is None:
        # Any client: pods of every namespace, and node-port, load-balancer or host-network
        # sources that keep their own addresses (as the Distribution registry's policy).
        peers: list[dict[str, Any]] = [
            {"namespaceSelector": {}},
            {"ipBlock": {"cidr": "0.0.0.0/0"}},
        ]
    else:
        peers = [{"podSelector": {"matchLabels": pod_selector(s)}} for s in flow.sources]
    ingress = [{"from": peers, "ports": ports}]
    if metrics and flow.target in ("core", "jobservice", "registry"):
        ingress.append(_scrape(scraper))
    return {
        "podSelector": {"matchLabels": pod_selector(flow.target)},
        "policyTypes": ["Ingress"],
        "ingress": ingress,
    }


def _scrape(scraper: tuple[str, Mapping[str, str]]) -> dict[str, Any]:
    namespace, labels = scraper
    peer = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
        "podSelector": {"matchLabels": dict(labels)},
    }
    return {"from": [peer], "ports": [{"protocol": "TCP", "port": METRICS_PORT}]}


def network_policies(
    harbor: HarborConfig, scraper: tuple[str, Mapping[str, str]]
) -> dict[str, dict[str, Any]]:
    """NetworkPolicy spec per Harbor component the chart runs with this config."""
    specs = {
        f.target: network_policy_spec(f, harbor.metrics.enabled, scraper) for f in flows(harbor)
    }
    if harbor.metrics.enabled:
        # The exporter serves only metrics; the chart runs it when metrics are on.
        specs["exporter"] = {
            "podSelector": {"matchLabels": pod_selector("exporter")},
            "policyTypes": ["Ingress"],
            "ingress": [_scrape(scraper)],
        }
    return specs
