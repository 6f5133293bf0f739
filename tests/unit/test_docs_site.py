"""The documentation site builds with MkDocs in strict mode: a broken link or anchor, or a page
under docs/ left out of the nav, fails here (mkdocs.yml's `validation` makes each a warning)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from devkit.pulumi_mocks import ROOT


def build(site: Path, config: Path = ROOT / "mkdocs.yml") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip


def test_the_docs_site_builds_in_strict_mode(tmp_path: Path) -> None:
    result = build(tmp_path / "site")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "getting-started" / "index.html").exists()


def test_a_broken_link_fails_the_strict_build(tmp_path: Path) -> None:
    # The same site with one page linking to a page that does not exist.
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\nSee [the guide](nowhere.md).\n")
    config = tmp_path / "mkdocs.yml"
    text = (ROOT / "mkdocs.yml").read_text().split("\nnav:", 1)[0]
    config.write_text(
        text.replace("docs_dir: docs", f"docs_dir: {docs}") + "\nnav:\n  - index.md\n"
    )
    result = build(tmp_path / "site", config)
    assert result.returncode != 0
    assert "nowhere.md" in result.stderr
