"""The README keeps its promises: two commands first, and a config table that matches the models."""

from __future__ import annotations

import re

from components.reference import CONFIG_PAGE, update
from devkit.pulumi_mocks import ROOT

README = (ROOT / "README.md").read_text()


def test_the_config_reference_matches_the_models() -> None:
    page = CONFIG_PAGE.read_text()
    assert update(page) == page, "run: .venv/bin/python -m components.reference"


def test_the_readme_opens_with_the_demo_and_test_commands() -> None:
    commands = [line.split("#")[0].strip() for line in README.splitlines()[2:4]]
    assert commands == ["make demo", "make test"]


def test_both_readme_commands_are_make_targets() -> None:
    makefile = (ROOT / "Makefile").read_text() + "".join(
        p.read_text() for p in (ROOT / "mk").glob("*.mk")
    )
    for target in ("demo", "test"):
        assert f"\n{target}:" in makefile, target


def test_every_relative_link_of_the_readme_and_contributing_names_a_file() -> None:
    # Outside docs/, the strict site build does not see these pages' links.
    for page in ("README.md", "CONTRIBUTING.md"):
        text = (ROOT / page).read_text()
        links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text)
        assert links, page
        missing = [link for link in links if not (ROOT / link).exists()]
        assert not missing, (page, missing)
