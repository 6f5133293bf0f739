"""The architecture diagram the README and the site show is the render of its committed source."""

from __future__ import annotations

import subprocess

from devkit.pulumi_mocks import ROOT

SOURCE = ROOT / "docs" / "img" / "architecture.dot"
RENDERED = ROOT / "docs" / "img" / "architecture.svg"


def test_the_committed_svg_is_the_render_of_the_diagram_source() -> None:
    # `dot` comes from Debian's graphviz (scripts/system-deps.sh).
    render = subprocess.run(
        ["dot", "-Tsvg", str(SOURCE)], capture_output=True, text=True, check=True
    )
    assert render.stdout == RENDERED.read_text(), "run: make diagram"


def test_the_readme_and_the_site_show_the_diagram() -> None:
    assert "(docs/img/architecture.svg)" in (ROOT / "README.md").read_text()
    assert "(img/architecture.svg)" in (ROOT / "docs" / "index.md").read_text()
