"""The config reference table in docs/reference/config.md, generated from the models so it
cannot drift."""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from .config import RegstackConfig
from .config.deferred import item_output_marker, output_marker

BEGIN = "<!-- config-reference:begin -->"
END = "<!-- config-reference:end -->"
CONFIG_PAGE = Path(__file__).resolve().parents[1] / "docs" / "reference" / "config.md"


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    candidates = [annotation, *typing.get_args(annotation)]
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(annotation))
    if typing.get_origin(annotation) is typing.Annotated:
        base = typing.get_args(annotation)[0]
        return _type_name(base)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return " \\| ".join(_type_name(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    origin = typing.get_origin(annotation)
    if origin is not None:
        inner = ", ".join(_type_name(a) for a in typing.get_args(annotation))
        return f"{origin.__name__}[{inner}]"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()
        return "" if isinstance(value, BaseModel) else f"`{json.dumps(value)}`"
    return f"`{json.dumps(field.default)}`"


def rows(model: type[BaseModel] = RegstackConfig, prefix: str = "") -> list[str]:
    lines = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        nested = _nested_model(field.annotation)
        if nested is not None and typing.get_origin(field.annotation) is not list:
            lines += rows(nested, f"{path}.")
            continue
        item = (
            _nested_model(typing.get_args(field.annotation)[0])
            if typing.get_origin(field.annotation) is list
            else None
        )
        kind = f"list of {item.__name__}" if item else _type_name(field.annotation)
        if output_marker(field) is not None:
            kind += ", may be an Output"  # from another resource: config/deferred.py
        if item_output_marker(field) is not None:
            kind += ", each may be an Output"
        lines.append(f"| `{path}` | {kind} | {_default(field)} | {field.description or ''} |")
        if item is not None:
            lines += rows(item, f"{path}[].")
    return lines


def table() -> str:
    header = ["| key (under `regstack:`) | type | default | meaning |", "|---|---|---|---|"]
    return "\n".join([BEGIN, *header, *rows(), END])


def update(page: str) -> str:
    """Markdown text with the generated table in place of the marked block."""
    start, end = page.index(BEGIN), page.index(END) + len(END)
    return page[:start] + table() + page[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m components.reference",
        description="Regenerate the config reference table between its markers in "
        "docs/reference/config.md (or --file) from the config models.",
    )
    parser.add_argument("--file", type=Path, default=CONFIG_PAGE, help="default: %(default)s")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the table is out of date"
    )
    args = parser.parse_args(argv)
    text = args.file.read_text()
    fresh = update(text)
    if args.check:
        if fresh != text:
            print(f"{args.file}: the config reference is out of date", file=sys.stderr)
        return int(fresh != text)
    if fresh != text:
        args.file.write_text(fresh)
        print(f"{args.file}: config reference updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
