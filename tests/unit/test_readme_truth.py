"""What the README shows a command printing is what the command prints."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.helpers.pulumi_mocks import ROOT

README = (ROOT / "README.md").read_text()


def test_the_validate_example_prints_what_validate_prints() -> None:
    block = re.search(r"```bash\n(\.venv/bin/python -m components validate [^\n]+)\n(.*?)```",
                      README, re.DOTALL)  # fmt: skip
    assert block is not None
    arguments, shown = block[1].split()[1:], block[2]
    result = subprocess.run([sys.executable, *arguments], cwd=ROOT, capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.stdout + result.stderr == shown
