"""DistributionRegistry: CNCF Distribution (`registry:3`, or a pinned 2.x) as plain Kubernetes objects.

Works on any cluster. Object names follow the MicroK8s addon (`registry` in
`container-registry`, node port 32000) so that it is a drop-in replacement for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from . import distribution_config as render
from . import kube
from .config import RegistryConfig
from .outputs import input_of
from .placement import pod_placement
from .scan_skips import REGISTRY_DATA, SECRET_ENV, checkov_skips
from .stack_key import rollout_checksum


def _tcp(port: int) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    return [k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=port)]


@dataclass(frozen=True)
class DistributionRegistryArgs:
    namespace: pulumi.Input[str]
    registry: RegistryConfig
    stack_key: pulumi.Input[str]
    """The stack's random key (components/stack_key.py), which keys the rollout checksum."""
    tls_secret_name: pulumi.Input[str] | None = None
    htpasswd_secret_name: pulumi.Input[str] | None = None
    htpasswd_checksum: pulumi.Input[str] | None = None
    """Rolls the pods when the users change: the htpasswd file's, or the token signing
    certificate's with `token`."""
    auth_realm: str | None = None
    token: render.TokenAuthSettings | None = None
    """`auth.token` instead of htpasswd: the registry trusts the token server's tokens."""
    token_ca_secret_name: pulumi.Input[str] | None = None
    """With `token`: the Secret holding the token signing certificate (`tls.crt`)."""
    protect_data: bool = False
    """Protect the volume from `pulumi destroy` (production profiles)."""
    skip_await: bool = False
    """Don't wait for readiness: for API servers without nodes, never on a real cluster."""
    redis_address: str | None = None
    """`host:port` of the Redis blob-descriptor cache, if any."""
    secret_env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Values of `distribution_config.secret_env_names`: S3 keys, http.secret, Redis password."""
    scraper: tuple[str, Mapping[str, str]] = (
        "monitoring",
        {"app.kubernetes.io/name": "prometheus"},
    )
    """(namespace, pod labels) of the Prometheus that alone may reach the debug port."""


def render_settings(args: DistributionRegistryArgs) -> render.RenderSettings:
    """What config.yml says, from the registry's config and what the platform wired in."""
    registry = args.registry
    s3 = registry.storage.s3 if registry.storage.type == "s3" else None
    cache = registry.cache
    numbers = render.release(registry.version)
    assert numbers is not None, "config validation refuses a version that names no release"
    return render.RenderSettings(
        line=numbers[0],
        delete_enabled=registry.storage.delete_enabled,
        tls=args.tls_secret_name is not None,
        auth_realm=args.auth_realm if args.htpasswd_secret_name is not None else None,
        token=args.token,
        s3=None
        if s3 is None
        else render.S3Settings(
            bucket=s3.bucket,
            region=s3.region,
            endpoint=s3.endpoint,
            secure=not (s3.endpoint or "https:").startswith("http:"),
            tls_verify=s3.tls_verify,
            path_style=s3.path_style,
            root_directory=s3.root_directory,
            redirect=s3.redirect,
            static_keys=s3.access_key is not None,
            custom_ca=s3.ca_bundle is not None,
        ),
        redis=None
        if args.redis_address is None
        else render.RedisSettings(
            address=args.redis_address,
            db=cache.db,
            password=cache.password is not None,
        ),
        shared_secret=render.ENV_HTTP_SECRET in args.secret_env,
        proxy=None
        if registry.proxy is None
        else render.ProxySettings(
            remote_url=registry.proxy.remote_url,
            username=registry.proxy.username,
        ),
    )


def config_file(settings: render.RenderSettings) -> pulumi.Input[str]:
    """config.yml's text; an Output when the bucket or its endpoint was given as one (by the
    resource that made the bucket), or the cache's address is one (named after a namespace
    given as one), rendered once they resolve."""

    def text(resolved: render.RenderSettings) -> str:
        return yaml.safe_dump(render.registry_config(resolved), sort_keys=True)

    s3, redis = settings.s3, settings.redis
    given = {
        "bucket": input_of(s3.bucket) if s3 else None,
        "endpoint": input_of(s3.endpoint) if s3 else None,
        "cache": input_of(redis.address) if redis else None,
    }
    if not any(isinstance(value, pulumi.Output) for value in given.values()):
        return text(settings)

    def resolved(values: dict[str, Any]) -> render.RenderSettings:
        return replace(
            settings,
            s3=s3 and replace(s3, bucket=values["bucket"], endpoint=values["endpoint"]),
            redis=redis and replace(redis, address=values["cache"]),
        )

    return pulumi.Output.all(**given).apply(lambda values: text(resolved(values)))


class DistributionRegistry(pulumi.ComponentResource):
    """PVC, config, Deployment, Services and optional Ingress for one registry."""

    service_name: pulumi.Output[str]
    metrics_service_name: pulumi.Output[str]
    in_cluster_endpoint: pulumi.Output[str]
    deployment_name: pulumi.Output[str]
    claim_name: pulumi.Output[str] | None
    """None with object storage (no volume)."""
    config_map_name: pulumi.Output[str]
    s3_ca_bundle: pulumi.Input[str] | None
    """The CA the registry trusts for its S3 endpoint, if any (GC mounts it too); an Output
    when it was given as one (read from a Secret, say)."""

    def __init__(
        self, name: str, args: DistributionRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("regstack:index:DistributionRegistry", name, None, opts)
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        registry = args.registry
        settings = render_settings(args)
        self._settings = settings
        # The pod must get exactly the secrets config.yml leaves out.
        assert sorted(args.secret_env) == sorted(render.secret_env_names(settings))
        self.env_secret = self._env_secret(name)
        config_text = config_file(settings)
        s3 = registry.storage.s3
        self.s3_ca_bundle = (
            input_of(s3.ca_bundle) if settings.s3 is not None and s3 is not None else None
        )
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=self._metadata(f"{kube.REGISTRY}-config"),
            data={
                "config.yml": config_text,
                **({kube.S3_CA_KEY: self.s3_ca_bundle} if self.s3_ca_bundle is not None else {}),
            },
            opts=self._child,
        )
        # Object storage keeps the blobs: no volume then. An existing claim is mounted as it is,
        # never managed, so that no stack operation can delete the images it holds.
        claim_name: pulumi.Input[str] | None = kube.data_claim(registry.storage)
        claim = None
        if claim_name is not None and registry.storage.existing_claim is None:
            claim = self._claim(name)
            claim_name = claim.metadata.name
        self.data_claim = claim
        deployment = self._deployment(name, config_text, claim_name, config_map)
        service = self._service(name, deployment)
        metrics = k8s.core.v1.Service(
            f"{name}-metrics",
            # A separate ClusterIP Service keeps /metrics off the node port clients use.
            metadata=self._metadata(
                kube.METRICS_SERVICE,
                labels={"app.kubernetes.io/component": "metrics"},
                needs_nodes=True,
            ),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=kube.REGISTRY_SELECTOR,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="metrics", port=render.METRICS_PORT, target_port="metrics"
                    )
                ],
            ),
            opts=self._child,
        )
        if registry.ingress.enabled:
            self._ingress(name, service)
        self._network_policy(name)
        if registry.autoscaling.enabled:
            self._autoscaler(name, deployment)
        if registry.most_pods > 1:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata=self._metadata(kube.REGISTRY),
                spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                    min_available=1,
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels=kube.REGISTRY_SELECTOR),
                ),
                opts=self._child,
            )

        self.service_name = service.metadata.name
        self.metrics_service_name = metrics.metadata.name
        self.in_cluster_endpoint = pulumi.Output.concat(
            service.metadata.name,
            ".",
            service.metadata.namespace,
            f".svc.cluster.local:{registry.service.port}",
        )
        self.deployment_name = deployment.metadata.name
        self.claim_name = pulumi.Output.from_input(claim_name) if claim_name is not None else None
        self.config_map_name = config_map.metadata.name
        self.image = f"{registry.image}:{registry.version}"
        self.register_outputs(
            {
                "service_name": self.service_name,
                "metrics_service_name": self.metrics_service_name,
                "in_cluster_endpoint": self.in_cluster_endpoint,
                "deployment_name": self.deployment_name,
                "claim_name": self.claim_name,
            }
        )

    # --- helpers -------------------------------------------------------------------------------

    def _metadata(
        self,
        object_name: str,
        labels: dict[str, str] | None = None,
        needs_nodes: bool = False,
        annotations: dict[str, str] | None = None,
    ) -> k8s.meta.v1.ObjectMetaArgs:
        annotations = dict(annotations or {})
        if self._args.skip_await and needs_nodes:
            annotations.update(kube.SKIP_AWAIT)
        return k8s.meta.v1.ObjectMetaArgs(
            name=object_name,
            namespace=self._args.namespace,
            labels={**kube.REGISTRY_SELECTOR, **kube.MANAGED_BY, **(labels or {})},
            annotations=annotations or None,
        )

    def _env_secret(self, name: str) -> k8s.core.v1.Secret | None:
        if not self._args.secret_env:
            return None
        return k8s.core.v1.Secret(
            f"{name}-env",
            metadata=self._metadata(f"{kube.REGISTRY}-env"),
            type="Opaque",
            string_data={k: pulumi.Output.secret(v) for k, v in self._args.secret_env.items()},
            opts=self._child,
        )

    def env(self) -> list[k8s.core.v1.EnvVarArgs]:
        """The registry's environment beside config.yml (secrets, S3 CA), for its pods and GC's."""
        plain = [
            k8s.core.v1.EnvVarArgs(name=key, value=value)
            for key, value in sorted(render.plain_env(self._settings).items())
        ]
        if self.env_secret is None:
            return plain
        secret_name = self.env_secret.metadata.name
        return plain + [
            k8s.core.v1.EnvVarArgs(
                name=key,
                value_from=k8s.core.v1.EnvVarSourceArgs(
                    secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret_name, key=key)
                ),
            )
            for key in sorted(self._args.secret_env)
        ]

    def _autoscaler(self, name: str, deployment: k8s.apps.v1.Deployment) -> None:
        autoscaling = self._args.registry.autoscaling
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-autoscaler",
            metadata=self._metadata(kube.REGISTRY),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=deployment.metadata.name
                ),
                min_replicas=autoscaling.min_replicas,
                max_replicas=autoscaling.max_replicas,
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Resource",
                        resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="Utilization",
                                average_utilization=autoscaling.target_cpu_percent,
                            ),
                        ),
                    )
                ],
            ),
            opts=self._child,
        )

    def _claim(self, name: str) -> k8s.core.v1.PersistentVolumeClaim:
        storage = self._args.registry.storage
        return k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            metadata=self._metadata(kube.DATA_CLAIM, needs_nodes=True),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=[storage.access_mode],
                storage_class_name=storage.storage_class,
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(
                    requests={"storage": storage.size}
                ),
            ),
            # Registry data is the one thing here that cannot be recreated from code.
            opts=pulumi.ResourceOptions.merge(
                self._child, pulumi.ResourceOptions(protect=self._args.protect_data)
            ),
        )

    def _volumes(
        self, claim_name: pulumi.Input[str] | None, config_map: k8s.core.v1.ConfigMap
    ) -> tuple[list[k8s.core.v1.VolumeArgs], list[k8s.core.v1.VolumeMountArgs]]:
        volumes = [
            k8s.core.v1.VolumeArgs(
                name="config",
                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=config_map.metadata.name),
            ),
            # Read-only root filesystem: uploads in progress need a writable scratch dir.
            k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs()),
        ]
        mounts = [
            k8s.core.v1.VolumeMountArgs(
                name="config", mount_path=render.CONFIG_DIR, read_only=True
            ),
            k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
        ]
        if claim_name is not None:
            volumes.insert(
                0,
                k8s.core.v1.VolumeArgs(
                    name="data",
                    persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                        claim_name=claim_name
                    ),
                ),
            )
            mounts.insert(0, k8s.core.v1.VolumeMountArgs(name="data", mount_path=render.DATA_DIR))
        if self.s3_ca_bundle is not None:
            ca_volume, ca_mount = kube.s3_ca_volume(config_map.metadata.name)
            volumes.append(ca_volume)
            mounts.append(ca_mount)
        for volume, secret, path in (
            ("tls", self._args.tls_secret_name, render.TLS_DIR),
            ("auth", self._args.htpasswd_secret_name, render.AUTH_DIR),
            ("token-ca", self._args.token_ca_secret_name, render.TOKEN_CA_DIR),
        ):
            if secret is None:
                continue
            volumes.append(
                k8s.core.v1.VolumeArgs(
                    name=volume, secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=secret)
                )
            )
            mounts.append(k8s.core.v1.VolumeMountArgs(name=volume, mount_path=path, read_only=True))
        return volumes, mounts

    def _deployment(
        self,
        name: str,
        config_text: pulumi.Input[str],
        claim_name: pulumi.Input[str] | None,
        config_map: k8s.core.v1.ConfigMap,
    ) -> k8s.apps.v1.Deployment:
        registry = self._args.registry
        volumes, mounts = self._volumes(claim_name, config_map)
        # Changing config.yml, the S3 CA or the users must restart Distribution, which reads
        # them once. So are the secret environment's values; only a digest keyed by the stack
        # key shows (a plain one would let a reader test guesses), unsecret so that previews
        # keep the Deployment readable.
        secret_values = [self._args.secret_env[k] for k in sorted(self._args.secret_env)]
        checksum = rollout_checksum(
            self._args.stack_key,
            config_text,
            self._args.htpasswd_checksum or "",
            *secret_values,
            *([self.s3_ca_bundle] if self.s3_ca_bundle is not None else []),
        )
        scheme = "HTTPS" if self._args.tls_secret_name is not None else "HTTP"
        # With auth on, /v2/ answers 401, which a probe counts as a failure; / is always 200.
        authenticated = self._args.htpasswd_secret_name is not None or self._args.token is not None
        probe_path = "/" if authenticated else "/v2/"
        probe = k8s.core.v1.HTTPGetActionArgs(path=probe_path, port="http", scheme=scheme)
        res = registry.resources
        container = k8s.core.v1.ContainerArgs(
            name=kube.REGISTRY,
            image=f"{registry.image}:{registry.version}",
            image_pull_policy="IfNotPresent",
            args=["serve", f"{render.CONFIG_DIR}/config.yml"],
            env=self.env() or None,
            ports=[
                k8s.core.v1.ContainerPortArgs(name="http", container_port=render.HTTP_PORT),
                k8s.core.v1.ContainerPortArgs(name="metrics", container_port=render.METRICS_PORT),
            ],
            volume_mounts=mounts,
            readiness_probe=k8s.core.v1.ProbeArgs(http_get=probe, period_seconds=10),
            liveness_probe=k8s.core.v1.ProbeArgs(
                http_get=probe, initial_delay_seconds=10, period_seconds=20, failure_threshold=6
            ),
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": res.cpu_request, "memory": res.memory_request},
                limits={"cpu": res.cpu_limit, "memory": res.memory_limit},
            ),
            security_context=kube.restricted_container(kube.UID),
        )
        # A ReadWriteOnce volume cannot be attached to the old and the new pod at once.
        strategy = (
            "Recreate"
            if claim_name is not None and registry.storage.access_mode == "ReadWriteOnce"
            else "RollingUpdate"
        )
        return k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=self._metadata(
                kube.REGISTRY,
                needs_nodes=True,
                annotations=checkov_skips(
                    {**REGISTRY_DATA, **(SECRET_ENV if self._args.secret_env else {})}
                ),
            ),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                # Under an autoscaler the count is its business: a value here would take the
                # field back from it, and every `pulumi up` would reset the pods it added.
                replicas=None if registry.autoscaling.enabled else registry.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=kube.REGISTRY_SELECTOR),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(type=strategy),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=kube.REGISTRY_SELECTOR,
                        annotations={"regstack.io/config-checksum": checksum},
                    ),
                    spec=k8s.core.v1.PodSpecArgs(
                        automount_service_account_token=False,
                        security_context=kube.restricted_pod(kube.UID, fs_group=kube.UID),
                        containers=[container],
                        volumes=volumes,
                        **pod_placement(registry.placement),
                        affinity=self._spread() if registry.most_pods > 1 else None,
                    ),
                ),
            ),
            opts=self._child,
        )

    def _spread(self) -> k8s.core.v1.AffinityArgs:
        """Replicas on different nodes where there are enough, so one node down is not an outage.
        Preferred, not required: a cluster with fewer nodes than replicas still runs them all."""
        term = k8s.core.v1.PodAffinityTermArgs(
            topology_key="kubernetes.io/hostname",
            label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=kube.REGISTRY_SELECTOR),
        )
        return k8s.core.v1.AffinityArgs(
            pod_anti_affinity=k8s.core.v1.PodAntiAffinityArgs(
                preferred_during_scheduling_ignored_during_execution=[
                    k8s.core.v1.WeightedPodAffinityTermArgs(weight=100, pod_affinity_term=term)
                ]
            )
        )

    def _service(self, name: str, deployment: k8s.apps.v1.Deployment) -> k8s.core.v1.Service:
        service = self._args.registry.service
        return k8s.core.v1.Service(
            f"{name}-service",
            metadata=self._metadata(kube.REGISTRY, needs_nodes=True),
            spec=k8s.core.v1.ServiceSpecArgs(
                type=service.type,
                selector=kube.REGISTRY_SELECTOR,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="http",
                        port=service.port,
                        target_port="http",
                        node_port=service.node_port if service.type == "NodePort" else None,
                    )
                ],
            ),
            opts=pulumi.ResourceOptions.merge(
                self._child, pulumi.ResourceOptions(depends_on=[deployment])
            ),
        )

    def _network_policy(self, name: str) -> k8s.networking.v1.NetworkPolicy:
        """Clients may reach the registry port; the debug port only Prometheus."""
        service = self._args.registry.service
        exposed = service.type != "ClusterIP" or self._args.registry.ingress.enabled
        # Node-port and load-balancer traffic keeps external source addresses, so an exposed
        # registry port must accept any source; a ClusterIP one only in-cluster namespaces.
        clients = (
            [
                k8s.networking.v1.NetworkPolicyPeerArgs(
                    ip_block=k8s.networking.v1.IPBlockArgs(cidr="0.0.0.0/0")
                )
            ]
            if exposed
            else [
                k8s.networking.v1.NetworkPolicyPeerArgs(
                    namespace_selector=k8s.meta.v1.LabelSelectorArgs()
                )
            ]
        )
        # The debug listener serves pprof, expvar and the command line besides /metrics: one peer
        # (namespace AND pod labels) keeps it to the Prometheus pods monitoring names.
        scraper_namespace, scraper_labels = self._args.scraper
        scraper = [
            k8s.networking.v1.NetworkPolicyPeerArgs(
                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                    match_labels={"kubernetes.io/metadata.name": scraper_namespace}
                ),
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(scraper_labels)),
            )
        ]
        return k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata=self._metadata(kube.REGISTRY),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=kube.REGISTRY_SELECTOR),
                policy_types=["Ingress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=clients, ports=_tcp(render.HTTP_PORT)
                    ),
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=scraper, ports=_tcp(render.METRICS_PORT)
                    ),
                ],
            ),
            opts=self._child,
        )

    def _ingress(self, name: str, service: k8s.core.v1.Service) -> k8s.networking.v1.Ingress:
        registry = self._args.registry
        tls = self._args.tls_secret_name is not None
        annotations = {
            # Image layers are large; ingress-nginx would otherwise cap request bodies at 1m.
            "nginx.ingress.kubernetes.io/proxy-body-size": "0",
            **({"nginx.ingress.kubernetes.io/backend-protocol": "HTTPS"} if tls else {}),
            **registry.ingress.annotations,
        }
        return kube.ingress(
            f"{name}-ingress",
            self._metadata(kube.REGISTRY, needs_nodes=True),
            annotations,
            registry.ingress.class_name,
            [input_of(host) for host in registry.hostnames],
            self._args.tls_secret_name,
            ("/", "Prefix"),
            (service.metadata.name, registry.service.port),
            self._child,
        )
