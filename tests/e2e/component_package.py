"""regstack's component package (provider/) as a YAML or TypeScript program's engine meets it."""

from __future__ import annotations

import re

from engine import REPO, Engine

PACKAGE = REPO / "provider"


def provider_plugins(engine: Engine) -> None:
    """Put the toolchain's provider binaries in the engine's plugin cache.

    The package's requirements (pulumi-kubernetes, pulumi-command, as installed in the venv) are
    plugins the CLI looks for in its home before it uses the package; offline, it would try to
    download them. The binaries it would download are the ones beside the CLI."""
    pins = dict(re.findall(r"^pulumi-(kubernetes|command)==(\S+)$", (REPO / "constraints.txt")
                           .read_text(encoding="utf-8"), re.MULTILINE))  # fmt: skip
    for name, version in pins.items():
        binary = engine.bin_dir / f"pulumi-resource-{name}"
        engine.pulumi("plugin", "install", "resource", name, version, "--file", str(binary),
                      cwd=REPO)  # fmt: skip
