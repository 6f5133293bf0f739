"""Upstream sources no reachable registry serves (the vendor directory, see its README).

Scripts read the same `REGSTACK_VENDOR` variable; its default is `../shared/vendor` beside the
repository.
"""

from __future__ import annotations

import os
from pathlib import Path

from components.config import HARBOR_CHART_VERSION

ROOT = Path(__file__).resolve().parents[2]
VENDOR = Path(os.environ.get("REGSTACK_VENDOR", ROOT.parent / "shared" / "vendor"))


def harbor_chart() -> Path:
    """The goharbor chart archive at the version regstack pins."""
    chart = VENDOR / f"harbor-{HARBOR_CHART_VERSION}.tgz"
    if not chart.is_file():
        raise FileNotFoundError(f"{chart} is missing: set REGSTACK_VENDOR to the vendor directory")
    return chart
