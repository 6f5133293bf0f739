"""Reading the raw `regstack:` config, from a stack file or from the running Pulumi program."""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import re
from pathlib import Path
from typing import Any

import yaml

from .config import SECRET_PLACEHOLDER, SECRET_UNSET, ConfigError, Problem
from .strict_yaml import strict_load

NAMESPACE = "regstack"
# A `secure:` value is opaque without the stack's secrets provider; validation only needs to
# know that one is there, so SECRET_PLACEHOLDER stands in for it.


def _strip_namespace(key: str) -> str | None:
    """`regstack:tls` -> `tls`; keys without a namespace belong to the project (regstack).
    A near miss (`regstak:tls`) stays whole, for load_config to ask "did you mean"."""
    namespace, sep, name = key.partition(":")
    if not sep:
        return key
    if namespace == NAMESPACE:
        # Pulumi reads its old form `regstack:config:tls` as `regstack:tls` and refuses any
        # other second colon (`regstack:tls:mode`): that key stays whole, for load_config.
        if name.startswith("config:") and name.count(":") == 1:
            return name.removeprefix("config:")
        return key if ":" in name else name
    return key if difflib.get_close_matches(namespace, [NAMESPACE], cutoff=0.75) else None


# The passphrase provider writes `v1:<nonce>:<ciphertext>`, the others (cloud KMS, Vault, the
# Pulumi service) base64 ciphertext; AES-GCM alone adds a 16-byte tag to every value.
_CIPHERTEXT = re.compile(r"(?:v1:[A-Za-z0-9+/]+={0,2}:)?(?P<data>[A-Za-z0-9+/]+={0,2})")


def is_ciphertext(text: Any) -> bool:
    """Whether a `secure:` value can be something a secrets provider encrypted."""
    match = _CIPHERTEXT.fullmatch(text) if isinstance(text, str) else None
    try:
        return match is not None and len(base64.b64decode(match["data"], validate=True)) >= 16
    except (binascii.Error, ValueError):
        return False


def replace_secure(value: Any, replacement: str, unset: str | None = None) -> Any:
    """`value` with every `secure:` mapping (an encrypted config value) replaced; with `unset`,
    one that holds no ciphertext (`v1:PLACEHOLDER`) is replaced by that instead."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            fake = unset is not None and not is_ciphertext(value["secure"])
            return unset if fake else replacement
        return {k: replace_secure(v, replacement, unset) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_secure(v, replacement, unset) for v in value]
    return value


def _is_project_file(document: Any) -> bool:
    return isinstance(document, dict) and {"name", "runtime"} <= set(document)


def _not_a_stack_file(path: str | Path, document: Any) -> str:
    """Why `document` holds no stack config: nothing in it would be read, so nothing is valid."""
    if _is_project_file(document):
        return (
            f"{path} is a Pulumi project file (it has name: and runtime:), not a stack file: "
            "validate Pulumi.<stack>.yaml"
        )
    if document is None:
        document = {}
    if not isinstance(document, dict):
        return f"{path} must be a mapping with a `config:` key"
    if any(str(key).startswith(f"{NAMESPACE}:") for key in document):
        return (
            f"{path} has regstack: keys at the top level, where Pulumi never reads them: "
            "indent them under `config:`"
        )
    if document.get("config") is not None:
        return f"`config:` in {path} must be a mapping"
    return (
        f"{path} has no `config:` mapping, so nothing in it would be read: a stack file holds "
        "its settings under `config:` as regstack:<key> (see Pulumi.dev.yaml)"
    )


def read_stack_file(path: str | Path, secret: str = SECRET_PLACEHOLDER) -> dict[str, Any]:
    """The `regstack:` part of a `Pulumi.<stack>.yaml`, each secure value replaced by `secret`.
    For validation (`secret` left as SECRET_PLACEHOLDER), one that is no ciphertext becomes
    SECRET_UNSET; a caller's own stand-in replaces every secure value."""
    unset = SECRET_UNSET if secret == SECRET_PLACEHOLDER else None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError([Problem("", f"cannot read {path}: {err.strerror or err}")]) from None
    try:
        document = strict_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise ConfigError([Problem("", f"{path} is not valid YAML{where}: {problem}")]) from None
    config = document.get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict) or _is_project_file(document):
        raise ConfigError([Problem("", _not_a_stack_file(path, document))])
    raw: dict[str, Any] = {}
    for key, value in config.items():
        name = _strip_namespace(str(key))
        if name is not None:
            raw[name] = replace_secure(value, secret, unset)
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


def program_secret_sections() -> set[str]:
    """The top-level `regstack:` keys the engine holds encrypted (`--secret` anywhere in them)."""
    from pulumi.runtime import config as runtime_config

    keys = {*runtime_config.get_config_env(), *runtime_config.CONFIG.get()}
    secret = set(runtime_config.get_config_secret_keys_env())
    secret |= {key for key in keys if runtime_config.is_config_secret(key)}
    return {name for key in secret if (name := _strip_namespace(key)) is not None}
