"""What the README shows a command printing is what the command prints."""

from __future__ import annotations

import re
import subprocess
import sys

from devkit.pulumi_mocks import ROOT

README = (ROOT / "README.md").read_text()
# The README and the pages moved out of it into docs/ (each keeps its `## ` section headings).
DOCS = "\n".join([README, *(page.read_text() for page in sorted((ROOT / "docs").rglob("*.md")))])


def test_the_validate_example_prints_what_validate_prints() -> None:
    block = re.search(r"```bash\n(\.venv/bin/python -m components validate [^\n]+)\n(.*?)```",
                      README, re.DOTALL)  # fmt: skip
    assert block is not None
    arguments, shown = block[1].split()[1:], block[2]
    result = subprocess.run([sys.executable, *arguments], cwd=ROOT, capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.stdout + result.stderr == shown


def test_the_layout_table_names_every_module_of_components() -> None:
    layout = DOCS[DOCS.index("## Layout") :].split("\n## ", 1)[0]
    named = set()
    for row in (line for line in layout.splitlines() if line.startswith("| `")):
        cells = re.findall(r"`([^`]+)`", row.split("|")[1])
        for cell in cells:
            named.add(cell if cell.startswith("components/") else f"components/{cell}")
    modules = {f"components/{path.name}" for path in (ROOT / "components").glob("*.py")}
    packages = {f"components/{path.name}/" for path in (ROOT / "components").iterdir()
                if (path / "__init__.py").exists()}  # fmt: skip
    missing = {m for m in modules - {"components/__init__.py"} if m not in named}
    missing |= {p for p in packages if not any(n.startswith(p) for n in named)}
    assert not missing, sorted(missing)


def test_the_images_example_prints_what_the_command_prints() -> None:
    line = next(
        text for text in DOCS.splitlines() if text.startswith("python -m components.images tags")
    )
    command = line.replace("python", sys.executable, 1)
    result = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True,
                            check=True, env={"GITHUB_SHA": "0" * 40})  # fmt: skip
    assert [ref.rsplit(":", 1)[1] for ref in result.stdout.split()][1:] == [
        "v1.2.3", "build-42", "prod", "stable", "latest",
    ]  # fmt: skip
