"""`load_config`: a stack's raw `regstack:` mapping in, a `RegstackConfig` or one `ConfigError`
with every problem out."""

from __future__ import annotations

import copy
import re
from collections.abc import Collection, Iterator
from typing import Any, cast

from pydantic import BaseModel, SecretStr, ValidationError

from .deferred import check_when_resolved, put_outputs, take_outputs
from .errors import (
    ConfigError,
    Problem,
    dotted,
    nesting_hint,
    pydantic_message,
)
from .harbor import SECRET_PLACEHOLDER, SECRET_UNSET
from .rules import cross_field_problems, output_problems, resolved_rules
from .stack import RegstackConfig


def _secrets(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, value) of every secret the config gives, at any depth."""
    if isinstance(value, SecretStr):
        yield path, value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in sorted(value.model_fields_set):
            yield from _secrets(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secrets(item, f"{path}[{index}]")


def _secret_problems(cfg: RegstackConfig, secret_sections: Collection[str]) -> list[Problem]:
    problems = []
    for path, value in _secrets(cfg):
        how = f"pulumi config set --secret --path '{path}'"
        if value == SECRET_UNSET:
            problems.append(Problem(path, f"is a placeholder, not an encrypted value: `{how}`"))
        elif value != SECRET_PLACEHOLDER and re.split(r"[.\[]", path)[0] not in secret_sections:
            problems.append(
                Problem(
                    path,
                    f"is in plaintext in the stack config, so it would be committed in "
                    f"clear: encrypt it with `{how}`",
                )
            )
    return problems


def _without(raw: dict[str, Any], locations: list[tuple[int | str, ...]]) -> dict[str, Any]:
    """`raw` without the values at `locations` (a list item goes whole), to check the rest."""
    rest = copy.deepcopy(raw)
    dropped = object()
    for loc in locations:
        parts = [p for p in loc if p != "[key]"]
        items = [i for i, p in enumerate(parts) if isinstance(p, int)]
        parts = parts[: items[-1] + 1] if items else parts
        container: Any = rest
        for part in parts[:-1]:
            ok = isinstance(container, dict) and part in container
            ok = ok or (
                isinstance(container, list) and isinstance(part, int) and part < len(container)
            )
            if not ok:
                break
            container = container[part]
        else:
            if isinstance(container, dict):
                container.pop(parts[-1], None)
            elif isinstance(container, list) and isinstance(parts[-1], int):
                container[parts[-1]] = dropped

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value if v is not dropped]
        return value

    return cast(dict[str, Any], clean(rest))


# Each round drops at least one value, and a stack file nests a handful of levels deep.
_ROUNDS = 8


def _rest_of(raw: dict[str, Any], err: ValidationError) -> tuple[RegstackConfig | None, set[str]]:
    """The config without the values `err` refused, and the paths dropped to get it.

    The rest may still break cross-field rules or hold a plaintext secret: checking it reports
    those in the same round. Dropping a value can empty its container (a rule whose only glob
    was refused): that is dropped in turn, not reported, as the user wrote neither."""
    dropped: set[str] = set()
    for _ in range(_ROUNDS):
        locations = [e["loc"] for e in err.errors()]
        paths = {dotted(loc) for loc in locations}
        if paths <= dropped:
            return None, dropped
        dropped |= paths
        raw = _without(raw, locations)
        try:
            return RegstackConfig.model_validate(raw), dropped
        except ValidationError as again:
            err = again
    return None, dropped


def _related(path: str, paths: set[str]) -> bool:
    return any(
        path == other
        or other.startswith((path + ".", path + "["))
        or path.startswith((other + ".", other + "["))
        for other in paths
    )


# `config: {regstack: {...}}`: Pulumi reads a key without a namespace as the project's, so the
# whole block becomes one key, `regstack:regstack`, and the program reads none of it.
NESTED_BLOCK = "regstack"


def _stray_key_message(key: str) -> str:
    namespace, _, name = key.partition(":")
    if namespace != NESTED_BLOCK:
        return f"`{key}` is not read (its namespace is not regstack): did you mean regstack:{name}?"
    # `regstack:tls:mode`: Pulumi refuses a key with a second colon (a key is namespace:name).
    return f"`{key}` is not a key Pulumi reads: {nesting_hint(name.split(':'))}"


def _nested_block_message(nested: dict[Any, Any]) -> str:
    keys = ", ".join(f"regstack:{key}" for key in nested)
    return (
        "is one key to Pulumi (a `regstack:` block under `config:`), so the program reads none of "
        f"it: write each key at the top of `config:` instead ({keys})"
    )


def load_config(raw: Any, secret_sections: Collection[str] | None = None) -> RegstackConfig:
    """Validate the `regstack:` config mapping; raise ConfigError naming every problem.

    `secret_sections`: the top-level keys whose values Pulumi holds encrypted (a stack file's
    `secure:` values arrive as SECRET_PLACEHOLDER: pass `()`); a secret anywhere else is in
    plaintext and refused. None skips that check, for config built in code.

    A secret may be a pulumi Output (config/deferred.py): checked when it resolves.
    """
    raw, outputs = take_outputs(raw)
    if not isinstance(raw, dict):
        raise ConfigError([Problem("", "the config must be a mapping of keys to values")])
    # components/stack_config passes keys Pulumi would not hand the program as they are.
    stray = [key for key in raw if ":" in str(key)]
    problems = [Problem("", _stray_key_message(str(key))) for key in stray]
    raw = {key: value for key, value in raw.items() if key not in stray}
    nested = raw.get(NESTED_BLOCK)
    if isinstance(nested, dict):
        problems.append(Problem(NESTED_BLOCK, _nested_block_message(nested)))
        # Checked as if written right, so the same round reports what is wrong inside.
        raw = {**{k: v for k, v in raw.items() if k != NESTED_BLOCK}, **nested}
    try:
        cfg: RegstackConfig | None = RegstackConfig.model_validate(raw)
    except ValidationError as err:
        problems += [Problem(dotted(e["loc"]), pydantic_message(e)) for e in err.errors()]
        cfg, dropped = _rest_of(raw, err)
    else:
        dropped = set()
    if cfg is not None:
        reported = {p.path for p in problems} | dropped
        later = cross_field_problems(cfg)
        if secret_sections is not None:
            later += _secret_problems(cfg, secret_sections)
        problems += [p for p in later if not _related(p.path, reported)]
    if outputs:
        # Where an Output stands, its placeholder's problems are not the user's.
        problems = [p for p in problems if p.path not in {dotted(loc) for loc in outputs}]
        if cfg is not None:
            problems += put_outputs(cfg, outputs, whole=not dropped)
            problems += output_problems(cfg)
            for value, rule in resolved_rules(cfg):
                check_when_resolved(value, rule)
    if problems or cfg is None:
        raise ConfigError(problems)
    return cfg
