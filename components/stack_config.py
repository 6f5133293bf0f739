"""Reading the raw `regstack:` config, from a stack file or from the running Pulumi program."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from components.config import SECRET_PLACEHOLDER, ConfigError, Problem

NAMESPACE = "regstack"
# A `secure:` value is opaque without the stack's secrets provider; validation only needs to
# know that one is there, so SECRET_PLACEHOLDER stands in for it.


def _strip_namespace(key: str) -> str | None:
    """`regstack:tls` -> `tls`; keys without a namespace belong to the project (regstack)."""
    namespace, sep, name = key.partition(":")
    if not sep:
        return key
    return name if namespace == NAMESPACE else None


def replace_secure(value: Any, replacement: str) -> Any:
    """`value` with every `secure:` mapping (an encrypted config value) replaced."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return replacement
        return {k: replace_secure(v, replacement) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_secure(v, replacement) for v in value]
    return value


def read_stack_file(path: str | Path, secret: str = SECRET_PLACEHOLDER) -> dict[str, Any]:
    """The `regstack:` part of a `Pulumi.<stack>.yaml`, each secure value replaced by `secret`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError([Problem("", f"cannot read {path}: {err.strerror or err}")]) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise ConfigError([Problem("", f"{path} is not valid YAML{where}: {problem}")]) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError([Problem("", f"{path} must be a mapping with a `config:` key")])
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError([Problem("", f"`config:` in {path} must be a mapping")])
    raw: dict[str, Any] = {}
    for key, value in config.items():
        name = _strip_namespace(str(key))
        if name is not None:
            raw[name] = replace_secure(value, secret)
    return raw


def _decode(value: Any) -> Any:
    """Pulumi passes structured config as JSON text and scalars as plain strings."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def read_program_config() -> dict[str, Any]:
    """The `regstack:` config the engine handed to this Pulumi program, decrypted."""
    from pulumi.runtime import config as runtime_config

    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    raw: dict[str, Any] = {}
    for key, value in merged.items():
        name = _strip_namespace(key)
        if name is not None:
            raw[name] = _decode(value)
    return raw
