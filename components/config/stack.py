"""The whole `regstack:` namespace of a stack: every section, the backend and the profile."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .access import AuthConfig, PullSecretsConfig, TlsConfig
from .harbor import HarborConfig
from .maintenance import GcConfig, RetentionConfig
from .monitoring import MonitoringConfig
from .nodes import MicroK8sConfig, NodeTrustConfig
from .registry import RegistryConfig
from .types import Section

Backend = Literal["microk8s-addon", "distribution", "harbor"]


Profile = Literal["dev", "prod"]


class RegstackConfig(Section):
    """One stack's configuration."""

    profile: Profile = Field("dev", description="`dev` (lab) or `prod` (production-like).")
    backend: Backend = Field("distribution", description="Which registry to deploy.")
    allow_insecure: bool = Field(
        False, description="Let a prod profile run without TLS or auth (explicit opt-out)."
    )
    skip_await: bool = Field(
        False, description="Don't wait for workloads to become ready (clusters without nodes)."
    )
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    tls: TlsConfig = Field(default_factory=TlsConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    pull_secrets: PullSecretsConfig = Field(default_factory=PullSecretsConfig)
    gc: GcConfig = Field(default_factory=GcConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    microk8s: MicroK8sConfig = Field(default_factory=MicroK8sConfig)
    harbor: HarborConfig = Field(default_factory=HarborConfig)
    node_trust: NodeTrustConfig = Field(default_factory=NodeTrustConfig)

    @property
    def protect_data(self) -> bool:
        """Production profiles protect registry storage from `pulumi destroy`."""
        return self.profile == "prod"

    @property
    def advertises_registry(self) -> bool:
        """Whether the stack publishes KEP-1755's ConfigMap: a lab's tools look for it."""
        advertise = self.registry.advertise
        return self.profile == "dev" if advertise is None else advertise
