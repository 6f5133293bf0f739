"""The component package: `Registry` served to every Pulumi language (provider/__main__.py).

Pulumi's component provider (pulumi.provider.experimental) infers the schema from Registry's
args and builds the component for a YAML, TypeScript, Go... program. This provider adds:

- secret flags in the schema on the passwords and keys (config/args.py makes them Inputs, as it
  does the values that may come from another resource, a namespace or an issuer: those are no
  secrets), so the generated SDKs mark them secret; and the config model's descriptions on every
  key;
- invalid args reported as invalid inputs, each `regstack:<path>: <what to do>` line as the
  engine shows a property's problem, instead of an exception with the component's stack frames.

A secret reaches Registry as the Output the engine sends in its place, nested where the program
put it (`auth.users[0].password`), and so does a value from another resource; any other key given
an Output, secret or from a resource, is refused by `load_config` at its path.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from typing import Any

import pulumi
from pulumi.errors import InputPropertiesError, InputPropertyErrorDetails
from pulumi.provider import main
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.server import ComponentInitError

from .config.args import ARGS_TYPES
from .config.deferred import output_marker
from .registry import Registry, RegistryArgsError

NAME = "regstack"
"""The package name: the component's type token is `regstack:index:Registry`."""
NAMESPACE = "regstack"
"""The SDKs' publisher: without one the generated TypeScript SDK is `@pulumi/regstack`, a name in
Pulumi's own npm scope; with it, `@regstack/regstack`."""


class RegstackProvider(ComponentProvider):
    """The component provider for Registry: secrets marked, invalid args shown as inputs."""

    def __init__(self, version: str) -> None:
        super().__init__([Registry], NAME, NAMESPACE, version=version)
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
                secret = "plain" not in prop and output_marker(field) is None
                if secret and prop.get("type") == "string":
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
        try:
            return super().construct(name, resource_type, inputs, options)
        except ComponentInitError as failed:
            error = failed.inner
            if not isinstance(error, RegistryArgsError):
                raise
            # Invalid inputs, as the engine shows them: each line, with no stack trace (any
            # other exception from the component comes with the component's frames).
            lines = [
                InputPropertyErrorDetails(property_path=p.path, reason=str(p))
                for p in error.problems
            ]
            raise InputPropertiesError("invalid Registry args", lines) from None


def serve() -> None:
    """Run the provider: the engine starts it and talks to it over gRPC."""
    main(RegstackProvider(version("regstack")), sys.argv[1:])
