"""Rewrite the package's own absolute imports (`from components.x import y`) as relative ones.

The folder is `components/`, but installed the package is `regstack` (pyproject.toml maps it), so
an absolute `components` import inside it would load a consumer's own `components` package, or
nothing. Relative imports resolve to whichever name the package was imported under.

    python3 scripts/relative_imports.py components          # rewrite in place
    python3 scripts/relative_imports.py --check components  # list what is left, exit 1 if any

Deterministic and idempotent: only the module part of each `from components... import` statement
changes; the names, their order, comments and formatting stay as they were.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "components"


def relative_module(package: list[str], target: str) -> str:
    """`target` (dotted, absolute) as seen from a module whose package path is `package`."""
    parts = target.split(".")
    common = 0
    while common < min(len(package), len(parts)) and package[common] == parts[common]:
        common += 1
    return "." * (len(package) - common + 1) + ".".join(parts[common:])


def absolute_imports(path: Path, root: Path) -> Iterator[tuple[int, str, str]]:
    """(line number, absolute module, relative module) of each own-package import in `path`."""
    package = [PACKAGE, *path.parent.relative_to(root).parts]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == PACKAGE or node.module.startswith(PACKAGE + "."):
                yield node.lineno, node.module, relative_module(package, node.module)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    raise SystemExit(
                        f"{path}:{node.lineno}: `import {alias.name}`: rewrite by hand"
                    )


def rewrite(path: Path, root: Path) -> int:
    lines = path.read_text().splitlines(keepends=True)
    found = list(absolute_imports(path, root))
    for lineno, module, relative in found:
        pattern = re.compile(rf"^(\s*from\s+){re.escape(module)}(\s+import\b)")
        new, count = pattern.subn(rf"\g<1>{relative}\g<2>", lines[lineno - 1])
        if count != 1:
            raise SystemExit(f"{path}:{lineno}: cannot rewrite {lines[lineno - 1]!r}")
        lines[lineno - 1] = new
    if found:
        path.write_text("".join(lines))
    return len(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the package folder (components)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if any left")
    args = parser.parse_args()
    files = sorted(args.root.rglob("*.py"))
    if args.check:
        left = [
            f"{path}:{lineno}: from {module} import ... -> from {relative} import ..."
            for path in files
            for lineno, module, relative in absolute_imports(path, args.root)
        ]
        print("\n".join(left) or "no absolute imports of the package left")
        return 1 if left else 0
    total = sum(rewrite(path, args.root) for path in files)
    print(f"rewrote {total} imports in {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
