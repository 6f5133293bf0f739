"""The component reference in docs/guides/library.md, generated from the code so it cannot drift:
each ComponentResource of the package, its type token, its args (names, types, defaults and the
docstrings written under them) and its outputs.

    python -m devkit.component_reference           # rewrite the section in the page
    python -m devkit.component_reference --check   # exit 1 if the page is stale
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import inspect
import pkgutil
import re
import sys
import typing
from collections.abc import Iterator
from typing import Any

import pulumi

import components
from devkit.pulumi_mocks import ROOT

PAGE = ROOT / "docs" / "guides" / "library.md"
BEGIN = "<!-- component-reference:begin -->"
END = "<!-- component-reference:end -->"


def component_classes() -> list[type[pulumi.ComponentResource]]:
    """Every ComponentResource defined in the package, by name."""
    found: dict[str, type[pulumi.ComponentResource]] = {}
    for info in pkgutil.walk_packages(components.__path__, "components."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, pulumi.ComponentResource)
                and value.__module__ == module.__name__
            ):
                found[name] = value
    return [found[name] for name in sorted(found)]


def attribute_docs(cls: type) -> dict[str, str]:
    """The docstrings written under a class's annotated attributes."""
    (tree,) = ast.parse(inspect.getsource(cls)).body
    assert isinstance(tree, ast.ClassDef)
    docs = {}
    for item, after in zip(tree.body, tree.body[1:], strict=False):
        if (
            isinstance(item, ast.AnnAssign)
            and isinstance(item.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[item.target.id] = " ".join(after.value.value.split())
    return docs


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _default(item: dataclasses.Field[Any]) -> str:
    if item.default is not dataclasses.MISSING:
        return f"`{item.default!r}`"
    if item.default_factory is not dataclasses.MISSING:
        return f"`{item.default_factory()!r}`"
    return "required"


def _section(cls: type[pulumi.ComponentResource]) -> Iterator[str]:
    init = inspect.signature(cls.__init__)
    args_type = init.parameters["args"].annotation
    # A string under `from __future__ import annotations`; Registry's is the TypedDict itself.
    args_cls: type = (
        args_type
        if isinstance(args_type, type)
        else getattr(sys.modules[cls.__module__], str(args_type))
    )
    token = re.search(r'super\(\).__init__\(\s*"([^"]+)"', inspect.getsource(cls.__init__))
    module = cls.__module__.replace("components.", "regstack.", 1)
    summary = " ".join((cls.__doc__ or "").split("\n\n")[0].split())
    yield f"### {cls.__name__}"
    yield ""
    yield (
        f"`{module}.{cls.__name__}(name, args: {args_cls.__name__}, opts=None)`, "
        f"type `{token[1] if token else '?'}`. {summary}"
    )
    yield ""
    if dataclasses.is_dataclass(args_cls):
        docs = attribute_docs(args_cls)
        yield "| arg | type | default | what |"
        yield "|---|---|---|---|"
        for item in dataclasses.fields(args_cls):
            kind = _cell(str(item.type))
            yield f"| `{item.name}` | `{kind}` | {_cell(_default(item))} | {_cell(docs.get(item.name, ''))} |"
    elif typing.is_typeddict(args_cls):
        yield (
            f"Args: `{args_cls.__name__}`, a mapping of the keys of a stack's `regstack:` config "
            "([the config reference](../reference/config.md)), checked by `load_config`; a secret, "
            "and a key the config reference marks so, may be an Output. In Python it also takes the "
            "`RegstackConfig` that `load_config` returned, as this project's program (`__main__.py`) "
            "does. The component package serves it to other languages (below)."
        )
    else:
        yield (
            f"Args: `{args_cls.__name__}`, the whole validated config (`load_config`; every key "
            "is in [the config reference](../reference/config.md))."
        )
    outputs = [
        name
        for name, kind in inspect.get_annotations(cls).items()
        if "Output" in str(kind) and not name.startswith("_")
    ]
    if outputs:
        yield ""
        yield "Outputs: " + ", ".join(f"`{name}`" for name in outputs) + "."
    yield ""


def render() -> str:
    lines = [line for cls in component_classes() for line in _section(cls)]
    return "\n".join([BEGIN, "", *lines, END])


def page_with_reference(page: str) -> str:
    start, end = page.index(BEGIN), page.index(END) + len(END)
    return page[:start] + render() + page[end:]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.component_reference")
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = parser.parse_args()
    page = PAGE.read_text()
    wanted = page_with_reference(page)
    if args.check:
        print(
            "up to date"
            if wanted == page
            else f"{PAGE} is stale: python -m devkit.component_reference"
        )
        return 0 if wanted == page else 1
    PAGE.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
