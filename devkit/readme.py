"""The README's runnable blocks, as the tests that run them read them."""

from __future__ import annotations

import re

from devkit.pulumi_mocks import ROOT


def _block(heading: str, language: str) -> str:
    """The first `language` code block after the README's `heading`."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(heading) :]
    match = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert match, f"{heading!r} has no {language} block"
    return match.group(1)


def quickstart_commands() -> str:
    """The bash block of the README's Quickstart."""
    return _block("## Quickstart on a MicroK8s lab", "bash")


def library_example() -> str:
    """The Python block of the README's section on using the components from another program."""
    return _block("## Using the components from another program", "python")
