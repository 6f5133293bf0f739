"""How validation speaks: `Problem` (`regstack:<path>: message`), `ConfigError` holding
every problem, and pydantic's errors rewritten into that form."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from .stack import RegstackConfig


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a stack's config, at a dotted path below `regstack:`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"regstack:{self.path}: {self.message}" if self.path else f"regstack: {self.message}"


class ConfigError(Exception):
    """The config is invalid; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def dotted(loc: tuple[int | str, ...]) -> str:
    path = ""
    # pydantic ends the location of a bad mapping key with "[key]"; the key itself says enough.
    for part in (p for p in loc if p != "[key]"):
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _field_model(annotation: Any) -> type[BaseModel] | None:
    candidates = [annotation, *getattr(annotation, "__args__", ())]
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)


def model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model that holds the key at the end of `loc`."""
    current: type[BaseModel] | None = RegstackConfig
    for part in (p for p in loc[:-1] if not isinstance(p, int)):
        field = current.model_fields.get(part) if current else None
        current = _field_model(field.annotation) if field else None
    return current


def _key_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every key below `model`, dotted: where a misplaced key may belong."""
    paths = []
    for name, field in model.model_fields.items():
        paths.append(prefix + name)
        nested = _field_model(field.annotation)
        if nested is not None:
            paths += _key_paths(nested, f"{prefix}{name}.")
    return paths


# Keys users bring from other registries' settings that regstack has no place for.
REMOVED_KEYS = {
    "chartmuseum": "Harbor 2.8 removed ChartMuseum (Helm charts are pushed as OCI artifacts to "
    "any project); remove it",
}


def nesting_hint(parts: list[str]) -> str:
    """Where a key written as a path (`tls.mode`, `tls:mode`) belongs: nested in its section."""
    section, below = parts[0], ".".join(parts[1:])
    return (
        f"did you mean `{below}` nested under `regstack:{section}:`? (`pulumi config set --path "
        f"'regstack:{section}.{below}' VALUE` writes it so)"
    )


def _unknown_key_message(loc: tuple[int | str, ...]) -> str:
    key, model = str(loc[-1]), model_at(loc)
    if key in REMOVED_KEYS:
        return f"unknown key: {REMOVED_KEYS[key]}"
    if len(loc) == 1 and "." in key:
        # `regstack:tls.mode: x` is one flat key named `tls.mode` to Pulumi and to the program.
        return f"unknown key (a key is not a path): {nesting_hint(key.split('.'))}"
    allowed = sorted(model.model_fields) if model else []
    parent = dotted(tuple(p for p in loc[:-1] if not isinstance(p, int)))

    def plain(text: str) -> str:
        return text.lower().replace("_", "").replace("-", "")

    paths = _key_paths(model) if model else []
    matches = [p for p in paths if plain(p.rsplit(".", 1)[-1]) == plain(key)]
    matches = matches or difflib.get_close_matches(key, allowed, n=1, cutoff=0.75)
    hint = f"did you mean {parent + '.' if parent else ''}{matches[0]}? " if matches else ""
    return f"unknown key; {hint}allowed keys here: {', '.join(allowed)}"


def pydantic_message(error: Any) -> str:
    kind, message, given = error["type"], error["msg"], error.get("input")
    if kind == "extra_forbidden":
        return _unknown_key_message(error["loc"])
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    if kind in ("model_type", "dict_type"):
        return "must be a mapping of keys to values"
    if kind == "string_type" and isinstance(given, int | float) and not isinstance(given, bool):
        return f'YAML reads an unquoted {given!r} as a number; quote it: "{given}"'
    return f"{message[0].lower()}{message[1:]} (got {given!r})"
