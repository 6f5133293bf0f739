"""regstack's conventions as pure functions: (resource type, props, settings) -> violation messages.

The policy pack (`policy/__main__.py`) runs these inside `pulumi preview`/`up`; the tests run the
same functions over props dicts and over every resource the mock harness records, no engine
needed. Props use the Kubernetes field names the provider receives (camelCase). Every message
says how to fix the problem, because it is all a failing pull request shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

from components import images
from policy.pod_security import CONTAINER_KINDS, Level, PodTemplate, findings
from policy.pod_security import get_in as _get

# --- image references ------------------------------------------------------------------------
# components.images is the one reader of image references and tags; the pack reads them as a
# container runtime does, and also accepts third-party release tags (`2.8.3`, `1.27.3-alpine`).

DOCKER_HUB = images.DOCKER_HUB


class ImageRef(NamedTuple):
    registry: str
    repository: str
    tag: str | None
    digest: str | None


def parse_image(text: str) -> ImageRef:
    """`[host[:port]/]path[:tag][@digest]` as a container runtime reads it (Docker Hub default,
    `index.docker.io` read as `docker.io`); never refuses, the rules judge the parts."""
    registry, repository, tag, digest = images.split_reference(text, legacy_hub=True)
    return ImageRef(registry or DOCKER_HUB, repository, tag, digest)


def same_registry(registry: str, host: str) -> bool:
    """Host names are case-insensitive; ports and IPv6 literals compare as written."""
    return registry.lower() == host.lower()


def is_release_tag(tag: str) -> bool:
    """A final release version: `X.Y.Z` or `vX.Y.Z`, maybe with an image variant; never a
    pre-release (`-rc1`, `-beta`, `-alpha.2`)."""
    return images.is_release_tag(tag, bare=True, variants=True)


# --- settings ----------------------------------------------------------------------------------

NAMESPACE_LAYOUT = ["container-registry", "base", "dev", "staging", "prod", "monitoring",
                    "observability"]  # fmt: skip


@dataclass(frozen=True)
class Settings:
    """Pack config, one policy's properties at a time (Pulumi scopes config to each policy)."""

    registry_hosts: tuple[str, ...] = ()
    allowed_image_prefixes: tuple[str, ...] = (
        "docker.io/library/registry",
        "docker.io/library/python",
        "docker.io/library/redis",
        # The token server of `auth.mode: token` (components/token_server.py).
        "docker.io/cesanta/docker_auth",
        # Docker Hub images as the canonical reference, so both `goharbor/x` and
        # `docker.io/goharbor/x` (how the goharbor chart writes them) match.
        "docker.io/goharbor/",
    )
    profile: str = "dev"
    namespaces: tuple[str, ...] = tuple(NAMESPACE_LAYOUT)
    baseline_namespaces: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k in known
        }
        return cls(**values)


_DESCRIPTIONS = {
    "registry_hosts": "Host[:port] of the stack's registry; workload images must come from one.",
    "allowed_image_prefixes": "System images allowed from elsewhere (prefix of the reference "
    "as written or of its canonical registry/repository form).",
    "profile": "`prod` turns on the release-tag rule.",
    "namespaces": "The namespace layout every Namespace must follow.",
    "baseline_namespaces": "Namespaces held to the `baseline` Pod Security Standard only "
    "(as their Pod Security Admission label says), e.g. for a third-party chart like Harbor's; "
    "regstack's own pod rules (limits, read-only root) do not apply there.",
}


def config_schema(keys: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """JSON schema of `keys`, defaults taken from Settings (the engine fills them in)."""
    defaults = Settings()
    schema: dict[str, dict[str, Any]] = {}
    for key in keys:
        default = getattr(defaults, key)
        if isinstance(default, tuple):
            schema[key] = {"type": "array", "items": {"type": "string"}, "default": list(default)}
        else:
            schema[key] = {"type": "string", "default": default}
        schema[key]["description"] = _DESCRIPTIONS[key]
    return schema


# --- workloads ---------------------------------------------------------------------------------

# Where each workload kind keeps its pod spec.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:ReplicationController": ("spec", "template", "spec"),
    "kubernetes:core/v1:PodTemplate": ("template", "spec"),
}


def _kind_and_name(resource_type: str, props: Mapping[str, Any]) -> str:
    kind = resource_type.rsplit(":", 1)[-1]
    name = _get(props, "metadata", "name")
    return f"{kind} {name}" if name else kind


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    path = POD_SPEC_PATHS.get(resource_type)
    spec = _get(props, *path) if path else None
    return spec if isinstance(spec, Mapping) else None


def containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Init containers, containers, then ephemeral containers."""
    for key, _ in CONTAINER_KINDS:
        yield from spec.get(key) or []


def _has_prefix(text: str, prefix: str) -> bool:
    """`prefix` ends where a path component does: `.../registry` allows `registry:2` only."""
    if not text.startswith(prefix):
        return False
    rest = text[len(prefix) :]
    return not rest or prefix.endswith("/") or rest[0] in "/:@"


def _allowed(image: str, ref: ImageRef, prefixes: tuple[str, ...]) -> bool:
    canonical = f"{ref.registry}/{ref.repository}"
    return any(_has_prefix(image, p) or _has_prefix(canonical, p) for p in prefixes)


def _short_repository(ref: ImageRef) -> str:
    return ref.repository.removeprefix("library/") if ref.registry == DOCKER_HUB else ref.repository


def registry_images(resource_type: str, props: Mapping[str, Any], settings: Settings) -> list[str]:
    """Workload images come from the stack's registry, or from the system allow-list."""
    spec = pod_spec(resource_type, props)
    if spec is None:
        return []
    hosts = settings.registry_hosts
    messages = []
    for container in containers(spec):
        image = container.get("image") or ""
        ref = parse_image(image)
        if any(same_registry(ref.registry, h) for h in hosts) or _allowed(
            image, ref, settings.allowed_image_prefixes
        ):
            continue
        where = f"{_kind_and_name(resource_type, props)}, container {container.get('name')}"
        if not hosts:
            messages.append(
                f"{where}: image {image} cannot be checked: set registry_hosts in the "
                "registry-images policy config to the stack's registry host(s)"
            )
            continue
        tag = ref.tag if ref.tag and is_release_tag(ref.tag) else "<version X.Y.Z>"
        target = f"{hosts[0]}/{_short_repository(ref)}:{tag}"
        messages.append(
            f"{where}: image {image} is not from {' or '.join(hosts)}; push it there and "
            f"reference {target} (or add a prefix to allowed_image_prefixes if it is a system image)"
        )
    return messages


def prod_image_tags(resource_type: str, props: Mapping[str, Any], settings: Settings) -> list[str]:
    """In prod, every image is a release version or pinned by digest; never `latest`."""
    spec = pod_spec(resource_type, props)
    if spec is None or settings.profile != "prod":
        return []
    messages = []
    for container in containers(spec):
        image = container.get("image") or ""
        ref = parse_image(image)
        # The digest is what the runtime pulls, whatever tag sits next to it.
        if ref.digest or (ref.tag and is_release_tag(ref.tag)):
            continue
        if ref.tag is None:
            problem = "has no tag, which means latest"
        elif ref.tag == "latest":
            problem = "uses latest, which moves under you"
        else:
            problem = f"has tag {ref.tag}, which is not a release version"
        name = f"{ref.registry}/{ref.repository}"
        messages.append(
            f"{_kind_and_name(resource_type, props)}, container {container.get('name')}: image "
            f"{image} {problem}; in prod use a release tag ({name}:1.2.3 or :v1.2.3) or pin a "
            f"digest ({name}@sha256:<digest>, see `skopeo inspect docker://{name}:<tag>`)"
        )
    return messages


def pod_template(resource_type: str, props: Mapping[str, Any]) -> PodTemplate | None:
    """The pod a workload makes, with the metadata beside its spec (annotations count too)."""
    spec = pod_spec(resource_type, props)
    if spec is None:
        return None
    metadata = _get(props, *POD_SPEC_PATHS[resource_type][:-1], "metadata")
    return PodTemplate(_kind_and_name(resource_type, props),
                       metadata if isinstance(metadata, Mapping) else {}, spec)  # fmt: skip


def _held_to_baseline(props: Mapping[str, Any], settings: Settings) -> bool:
    return _get(props, "metadata", "namespace") in settings.baseline_namespaces


def pod_security_findings(
    resource_type: str, props: Mapping[str, Any], settings: Settings
) -> list[tuple[str, str]]:
    """(Kubernetes check ID, message) for each control of the namespace's standard broken."""
    pod = pod_template(resource_type, props)
    if pod is None:
        return []
    level: Level = "baseline" if _held_to_baseline(props, settings) else "restricted"
    return findings(pod, level)


def restricted_pod_security(
    resource_type: str, props: Mapping[str, Any], settings: Settings
) -> list[str]:
    """Every control of the `restricted` Pod Security Standard (policy/pod_security.py); in
    `baseline_namespaces`, every control of `baseline`. Nothing else."""
    return [message for _, message in pod_security_findings(resource_type, props, settings)]


def resource_limits(resource_type: str, props: Mapping[str, Any], settings: Settings) -> list[str]:
    """regstack's own: every container has CPU and memory limits (not part of the standard)."""
    pod = pod_template(resource_type, props)
    if pod is None or _held_to_baseline(props, settings):
        return []
    messages = []
    # The API server refuses resources on ephemeral containers.
    for where, container in pod.containers(("initContainers", "containers")):
        limits = _get(container, "resources", "limits") or {}
        missing = [r for r in ("cpu", "memory") if r not in limits]
        if missing:
            messages.append(f"{where}: set resources.limits.{' and '.join(missing)}")
    return messages


def read_only_root_filesystem(
    resource_type: str, props: Mapping[str, Any], settings: Settings
) -> list[str]:
    """regstack's own: containers write only to volumes (not part of the standard)."""
    pod = pod_template(resource_type, props)
    if pod is None or _held_to_baseline(props, settings):
        return []
    return [
        f"{where}: set securityContext.readOnlyRootFilesystem: true (mount an emptyDir where it "
        "must write)"
        for where, container in pod.containers()
        if _get(container, "securityContext", "readOnlyRootFilesystem") is not True
    ]


def namespace_layout(resource_type: str, props: Mapping[str, Any], settings: Settings) -> list[str]:
    """Namespaces are the configured layout's, named explicitly (never auto-named)."""
    if resource_type != "kubernetes:core/v1:Namespace":
        return []
    layout = ", ".join(settings.namespaces)
    name = _get(props, "metadata", "name")
    if not name:
        return [f"Namespace has no metadata.name, so Pulumi would add a random suffix; "
                f"name it after one of: {layout}"]  # fmt: skip
    if name in settings.namespaces:
        return []
    return [
        f"Namespace {name} is not in the namespace layout ({layout}); use one of those, or add "
        "it to the namespaces list of the namespace-layout policy config"
    ]


# --- secrets -----------------------------------------------------------------------------------

# How Pulumi marks a secret value on the wire (sdk/go/common/resource/properties.go).
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def is_secret(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get(SECRET_SIG_KEY) == SECRET_SIG


def reveal(value: Any) -> Any:
    """`value` with every secret envelope replaced by its content: what the analyzer sees."""
    if is_secret(value):
        return reveal(value.get("value"))
    if isinstance(value, Mapping):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def secret_values(resource_type: str, props: Mapping[str, Any], settings: Settings) -> list[str]:
    """A Secret's data is a Pulumi secret, per map or per key, so state never holds it in clear.

    Needs props as the program registered them, secret envelopes included. A policy pack cannot
    run it: the Kubernetes provider's Check marks every Secret's data secret before analyzers
    see it, and pulumi-policy's validation hands policies the values with the marks removed.
    """
    if resource_type != "kubernetes:core/v1:Secret":
        return []
    messages = []
    for field in ("data", "stringData"):
        value = props.get(field)
        if value is None or is_secret(value):
            continue
        plain = sorted(k for k, v in value.items() if not is_secret(v))
        if plain:
            messages.append(
                f"{_kind_and_name(resource_type, props)}: {field} key(s) {', '.join(plain)} come "
                "from plain values; wrap them in pulumi.Output.secret(...) or read them from "
                "secret config (pulumi config set --secret) so state stores them encrypted"
            )
    return messages


# --- the rule table ----------------------------------------------------------------------------

Check = Callable[[str, Mapping[str, Any], Settings], list[str]]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    check: Check
    enforcement: str = "mandatory"
    config_keys: tuple[str, ...] = ()
    in_pack: bool = True
    """False: needs secret marks the engine hides from policy packs; tests run it."""


RULES = (
    Rule("registry-images", "Workload images come from the stack's registry or the allow-list.",
         registry_images, config_keys=("registry_hosts", "allowed_image_prefixes")),
    Rule("prod-image-tags", "In prod, images use a release tag or a digest, never latest.",
         prod_image_tags, config_keys=("profile",)),
    Rule("namespace-layout", "Namespaces follow the configured layout.", namespace_layout,
         enforcement="advisory", config_keys=("namespaces",)),
    Rule("restricted-pod-security", "Pods meet the restricted Pod Security Standard of "
         "Kubernetes 1.34 (baseline in baseline_namespaces), every control of it and nothing "
         "more.", restricted_pod_security, config_keys=("baseline_namespaces",)),
    Rule("resource-limits", "Containers set CPU and memory limits (outside "
         "baseline_namespaces).", resource_limits, config_keys=("baseline_namespaces",)),
    Rule("read-only-root-filesystem", "Containers have a read-only root filesystem (outside "
         "baseline_namespaces).", read_only_root_filesystem,
         config_keys=("baseline_namespaces",)),
    Rule("secret-values", "Secret data comes from Pulumi secrets, not plain values.",
         secret_values, in_pack=False),
)  # fmt: skip


class Violation(NamedTuple):
    rule: str
    enforcement: str
    message: str


def _rule_config(pack_config: Mapping[str, Any], rule: Rule) -> tuple[str, Mapping[str, Any]]:
    """Enforcement level and properties of `rule` from a `--policy-pack-config` document."""
    level = rule.enforcement
    everything = pack_config.get("all")
    if isinstance(everything, str):
        level = everything
    elif isinstance(everything, Mapping):
        level = everything.get("enforcementLevel", level)
    entry = pack_config.get(rule.name, {})
    if isinstance(entry, str):
        return entry, {}
    properties = {k: v for k, v in entry.items() if k != "enforcementLevel"}
    return entry.get("enforcementLevel", level), properties


def evaluate(
    resource_type: str, props: Mapping[str, Any], pack_config: Mapping[str, Any] | None = None
) -> list[Violation]:
    """Every rule, configured as the engine would from a `--policy-pack-config` document.

    `props` may carry Pulumi secret envelopes (the mock harness records them); rules the pack
    runs see them removed, as in the engine.
    """
    revealed = reveal(props)
    violations = []
    for rule in RULES:
        level, properties = _rule_config(pack_config or {}, rule)
        if level == "disabled":
            continue
        seen = revealed if rule.in_pack else props
        for message in rule.check(resource_type, seen, Settings.from_config(properties)):
            violations.append(Violation(rule.name, level, message))
    return violations
