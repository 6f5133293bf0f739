"""The code blocks of README.md and docs/, as tests/unit/test_doc_snippets.py checks them.

A block is checked by its language unless an HTML comment on the line before its fence says
otherwise, so that nothing is skipped without a word in the page itself:

- `<!-- snippet: stack-fragment -->`: YAML written as it sits under a stack file's `config:`;
  it is validated wrapped in one, or merged into a stack file: `stack-fragment: added to FILE`
  (optionally `in place of regstack:section.key`).
- `<!-- snippet: session -->`: a command, then what it prints; run, and its output compared.
- `<!-- snippet: excerpt: WHY -->`: not run (WHY says why), only parsed in its language.
- `<!-- snippet: known-broken: WHY -->`: run, and expected to fail until WHY is dealt with
  (the test is a strict xfail: once it passes, the marker must go).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devkit.pulumi_mocks import ROOT

PAGES = [
    *(
        ROOT / name
        for name in ("README.md", "CONTRIBUTING.md", "SECURITY.md", "examples/README.md")
    ),
    # Not what `pulumi install` leaves in a TypeScript example run in place (the SDK it
    # generates, the npm packages): the docs' pages only.
    *sorted(
        page
        for page in (ROOT / "docs").rglob("*.md")
        if not {"node_modules", "sdks"} & set(page.relative_to(ROOT).parts)
    ),
]
MARKERS = ("stack-fragment", "session", "excerpt", "known-broken")
_BLOCK = re.compile(
    r"(?:^<!--\s*snippet:\s*(?P<marker>[^:>]+?)(?::\s*(?P<why>.*?))?\s*-->\n)?"
    r"^(?P<indent> *)```(?P<language>\w*)\n(?P<body>.*?)^(?P=indent)```",
    re.M | re.S,
)


@dataclass(frozen=True)
class Snippet:
    page: Path
    line: int
    language: str
    body: str
    marker: str | None = None
    why: str | None = None

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def snippets(pages: list[Path] = PAGES) -> Iterator[Snippet]:
    for page in pages:
        text = page.read_text()
        for match in _BLOCK.finditer(text):
            fence = match.start("indent")
            yield Snippet(
                page=page,
                line=text.count("\n", 0, fence) + 1,
                language=match["language"],
                body=match["body"],
                marker=match["marker"],
                why=match["why"],
            )


def inline_commands(page: Path) -> list[str]:
    """The commands a page quotes in its prose (`kubectl ...`, `make ...`), one line each."""
    found = re.findall(r"`((?:kubectl|make|pulumi|\.venv/bin/python) [^`]+)`", page.read_text())
    return [command.replace("\n", " ") for command in found]


def commands(script: str) -> Iterator[list[str]]:
    """Each simple command of a shell snippet as words, comments and redirections left out:
    `a | b && c` gives three, and `$(d)` inside a word gives `d` too."""
    for line in script.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        for word in words:
            for inner in re.findall(r"\$\(([^)]*)\)", word):
                yield from commands(inner)
        command: list[str] = []
        redirected = False
        for word in [*words, ";"]:
            if word in ("|", "||", "&&", ";"):
                if command:
                    yield command
                command, redirected = [], False
            elif word in (">", ">>", "<", "2>"):
                redirected = True
            elif redirected:
                redirected = False  # the redirection's file
            else:
                command.append(word)
