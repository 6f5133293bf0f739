"""The microk8s-addon backend's wiring: the MicroK8s registry addon enabled on its node, as
RegistryPlatform's child (backend.py). The addon has its own namespace, Service and volume, and
no certificate or logins (the config model refuses them)."""

from __future__ import annotations

import pulumi

from .backend import Backend, Wiring
from .microk8s_addon import MicroK8sRegistryAddon, MicroK8sRegistryAddonArgs
from .outputs import secret


def addon_backend(wiring: Wiring) -> Backend:
    cfg = wiring.cfg
    if cfg.gc.enabled:  # the default: validation refuses only a `gc` section asked for
        pulumi.log.warn(
            "the MicroK8s addon's registry gets no garbage collection from regstack: run "
            "`registry garbage-collect` in its pod by hand as the chapter does, or take its "
            "images over with backend: distribution (docs/guides/lab.md: Taking over the addon's images); "
            "set gc.enabled: false to say you know",
            resource=wiring.platform,
        )
    addon = MicroK8sRegistryAddon(
        f"{wiring.name}-addon",
        MicroK8sRegistryAddonArgs(
            size=cfg.registry.storage.size,
            storage_class=cfg.registry.storage.storage_class,
            node=cfg.microk8s,
            private_key=secret(cfg.microk8s.private_key),
            protect=cfg.profile == "prod",
        ),
        opts=wiring.child,
    )
    return Backend(addon.endpoint, addon.in_cluster_endpoint)
