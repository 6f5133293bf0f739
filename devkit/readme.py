"""The README's runnable blocks, as the tests that run them read them."""

from __future__ import annotations

import re

from devkit.pulumi_mocks import ROOT


def quickstart_commands() -> str:
    """The bash block of the README's Quickstart."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Quickstart on a MicroK8s lab") :]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "the Quickstart has no bash block"
    return match.group(1)


def library_example() -> str:
    """The Python block of the README's section on using the components from another program."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Using the components from another program") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the library section has no python block"
    return match.group(1)
