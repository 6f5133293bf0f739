"""Upstream sources no reachable registry serves (the vendor directory, see its README).

Scripts read the same `REGSTACK_VENDOR` variable; its default is `../shared/vendor` beside the
repository. A clone elsewhere (CI's clean clone, say) finds the chart in regstack's cache, where
it is copied the first time it is found: the scripts' builds are cached the same way.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from components.config import HARBOR_CHART_VERSION

ROOT = Path(__file__).resolve().parents[1]
VENDOR = Path(os.environ.get("REGSTACK_VENDOR", ROOT.parent / "shared" / "vendor"))
CACHE = Path(os.environ.get("REGSTACK_CACHE", Path.home() / ".cache" / "regstack")) / "vendor"


def harbor_chart() -> Path:
    """The goharbor chart archive at the version regstack pins."""
    name = f"harbor-{HARBOR_CHART_VERSION}.tgz"
    cached = CACHE / name
    if (VENDOR / name).is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        if not cached.is_file():
            shutil.copyfile(VENDOR / name, cached.with_suffix(".partial"))
            cached.with_suffix(".partial").replace(cached)
        return VENDOR / name
    if cached.is_file():
        return cached
    raise FileNotFoundError(
        f"{VENDOR / name} is missing: set REGSTACK_VENDOR to the vendor directory"
    )
