"""The component package: `Registry` served to every Pulumi language (provider/__main__.py).

Pulumi's component provider (pulumi.provider.experimental) infers the schema from Registry's
args and builds the component for a YAML, TypeScript, Go... program. This provider adds two
things it does not do:

- the schema marks the secrets (the inputs that take an Output: config/args.py makes only
  secrets so), and carries the config model's descriptions;
- a secret nested in an input (`auth.users[0].password`) reaches Registry as a secret. The engine
  sends the whole `auth` mapping as one secret Output (secretness moves up to the top key), which
  the stock mapping reads as empty. The engine has sent its value, so the mapping comes out of
  the Output and only the secrets stay Outputs: still secret, still depending on whatever the
  program made them from. A top-level value marked secret that holds no secret key (a host name
  given as `fn::secret`) is refused: putting it in plain sight would break the user's marking.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from typing import Any

import pulumi
from pulumi.provider import main
from pulumi.provider.experimental.analyzer import PropertyDefinition, PropertyType
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.runtime.rpc import contains_unknowns

from .config import ConfigError, Problem
from .config.args import ARGS_TYPES
from .registry import Registry

NAME = "regstack"
"""The package name: the component's type token is `regstack:index:Registry`."""

Path = tuple[str | int, ...]


def _is_secret(prop: PropertyDefinition) -> bool:
    # Only a secret may be an Output (config/args.py): every other input is plain.
    return prop.type == PropertyType.STRING and not prop.plain


def _at(value: Any, path: Path) -> Any:
    for part in path:
        value = value[part]
    return value


def _part(whole: pulumi.Output[Any], path: Path) -> pulumi.Output[Any]:
    """The value at `path` in `whole`, as secret as `whole` and depending on what it does."""
    return whole.apply(lambda value: _at(value, path))


def _dotted(path: Path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


class RegstackProvider(ComponentProvider):
    """The component provider for Registry, with secrets marked and nested secrets kept."""

    def __init__(self, version: str) -> None:
        super().__init__([Registry], NAME, version=version)
        self.schema = json.dumps(self._described(json.loads(self.schema or "{}")))

    def _described(self, schema: dict[str, Any]) -> dict[str, Any]:
        """`schema` with secrets marked and each config key's description."""
        for name, (_, model) in ARGS_TYPES.items():
            if name == "RegistryArgs":
                properties = schema["resources"][f"{NAME}:index:Registry"]["inputProperties"]
            else:
                spec = schema["types"][f"{NAME}:index:{name}"]
                properties = spec["properties"]
            mapping = {py: camel for camel, py in self._python_names(name).items()}
            for field_name, field in model.model_fields.items():
                prop = properties[mapping[field_name]]
                if field.description:
                    prop["description"] = field.description
                if "plain" not in prop and prop.get("type") == "string":
                    prop["secret"] = True
        return schema

    def _python_names(self, type_name: str) -> dict[str, str]:
        if type_name == "RegistryArgs":
            return self._component_defs["Registry"].inputs_mapping
        return self._type_defs[type_name].properties_mapping

    def construct(
        self,
        name: str,
        resource_type: str,
        inputs: pulumi.Inputs,
        options: pulumi.ResourceOptions | None = None,
    ) -> Any:
        properties = self._component_defs["Registry"].inputs
        problems: list[Problem] = []
        opened = {
            key: self._opened(value, properties.get(key), (key,), problems)
            for key, value in inputs.items()
        }
        if problems:
            raise pulumi.RunError(f"invalid Registry args:\n{ConfigError(problems)}")
        return super().construct(name, resource_type, opened, options)

    def _opened(
        self,
        value: Any,
        prop: PropertyDefinition | None,
        path: Path,
        problems: list[Problem],
    ) -> Any:
        """A top-level input out of its Output, the secrets in it left as Outputs."""
        if not isinstance(value, pulumi.Output) or prop is None or _is_secret(prop):
            return value
        # The server made this Output from a value the engine sent: its data is already there,
        # and reading it now is the only way to have it while the component is constructed.
        data = value._data.result()
        secrets: list[Path] = []
        plain = self._walk(data.value, prop, (), secrets, problems, path)
        if data.is_secret and not secrets:
            problems.append(
                Problem(
                    _dotted(path),
                    "is a secret, and nothing in it is a password or a key: give it as a plain "
                    "value, as regstack puts it in resource names and outputs",
                )
            )
        for inner in secrets:
            _at(plain, inner[:-1])[inner[-1]] = _part(value, inner)
        return plain

    def _walk(
        self,
        value: Any,
        prop: PropertyDefinition,
        inner: Path,
        secrets: list[Path],
        problems: list[Problem],
        top: Path,
    ) -> Any:
        """`value` copied, each secret's path in `secrets`, unknown plain values reported."""
        if _is_secret(prop):
            secrets.append(inner)
            return value
        type_def = self.get_type_definition(prop) if prop.ref else None
        if type_def is not None and isinstance(value, dict):
            return {
                key: self._walk(item, type_def.properties[key], (*inner, key), secrets,
                                problems, top)
                if key in type_def.properties else item
                for key, item in value.items()
            }  # fmt: skip
        if prop.items is not None and isinstance(value, list):
            items = prop.items
            return [
                self._walk(item, items, (*inner, index), secrets, problems, top)
                for index, item in enumerate(value)
            ]
        values = prop.additional_properties
        if values is not None and values.ref and isinstance(value, dict):
            return {
                key: self._walk(item, values, (*inner, key), secrets, problems, top)
                for key, item in value.items()
            }
        if contains_unknowns(value):
            problems.append(
                Problem(
                    _dotted((*top, *inner)),
                    "is not known until another resource is created: regstack checks it before "
                    "it creates anything, so give a value known beforehand",
                )
            )
        return value


def serve() -> None:
    """Run the provider: the engine starts it and talks to it over gRPC."""
    main(RegstackProvider(version("regstack")), sys.argv[1:])
