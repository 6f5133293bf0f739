"""docs/reference/outputs.md describes every output the program exports, and only those."""

from __future__ import annotations

import re

from components.data_guard import OUTPUT
from devkit.pulumi_mocks import ROOT


def test_the_outputs_page_has_one_row_per_exported_output() -> None:
    program = (ROOT / "__main__.py").read_text()
    exported = set(re.findall(r'pulumi\.export\("([a-z_]+)"', program)) | {OUTPUT}
    page = (ROOT / "docs" / "reference" / "outputs.md").read_text()
    rows = re.findall(r"^\| `([a-z_]+)` \|", page, re.MULTILINE)
    assert len(exported) >= 9 and sorted(rows) == sorted(exported)
