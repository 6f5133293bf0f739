"""The config model as TypedDicts, for Pulumi's component provider to infer a schema from.

The provider (pulumi.provider.experimental) reads a component's `args` annotation: TypedDicts of
str, int, float, bool, lists, string-keyed dicts and `pulumi.Input[...]`, nothing else. The
TypedDicts here are made from the pydantic models, field by field, so the schema other languages
see cannot drift from what `load_config` accepts:

- a secret (`SecretStr`) and a field marked `MayBeOutput` (a namespace, an issuer) become
  `pulumi.Input[str]`, and so does each item of a list whose items are marked (host names):
  they may come from another resource (config/deferred.py);
- every other value is plain, as `load_config` needs it to decide what to build before any
  resource is registered;
- a `Literal` is a str (its description lists the choices), `Annotated` drops to its type;
- a field without a default is `Required`, the rest may be left out (total=False).

No `from __future__ import annotations` here: the provider reads annotations as objects.
"""

import types
import typing
from typing import Any, Literal, Required, TypedDict, Union

import pulumi
from pydantic import BaseModel, SecretStr

from .stack import RegstackConfig
from .types import MayBeOutput

SCHEMA_TYPES = (str, int, float, bool)

Made = dict[str, tuple[type, type[BaseModel]]]
"""Each TypedDict by name, with the model it was made from."""


def _value_type(annotation: Any, made: Made) -> Any:
    """The TypedDict-side type of one pydantic field annotation."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        inner = _value_type(args[0], made)
        marked = any(isinstance(m, MayBeOutput) for m in annotation.__metadata__)
        return pulumi.Input[inner] if marked else inner  # type: ignore[misc,valid-type]
    if origin in (Union, types.UnionType):
        present = [arg for arg in args if arg is not type(None)]
        if len(present) != 1:
            raise TypeError(f"{annotation}: a union other than `X | None` has no schema type")
        return _value_type(present[0], made)
    if origin is Literal:
        return str
    if origin is list:
        return list[_value_type(args[0], made)]  # type: ignore[misc]
    if origin is dict:
        return dict[str, _value_type(args[1], made)]  # type: ignore[misc]
    if annotation is Any:
        return Any
    if isinstance(annotation, type) and issubclass(annotation, SecretStr):
        return pulumi.Input[str]  # type: ignore[misc]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return typed_dict(annotation, made)
    if annotation in SCHEMA_TYPES:
        return annotation
    raise TypeError(f"{annotation}: no schema type for it")


def typed_dict(model: type[BaseModel], made: Made, name: str | None = None) -> type:
    """`model` as a TypedDict named after it; `made` holds those made so far, one per model."""
    name = name or model.__name__
    if name in made:
        return made[name][0]
    fields = {}
    for field_name, field in model.model_fields.items():
        value = _value_type(field.annotation, made)
        # Pydantic moves a field's own `Annotated` metadata to `field.metadata`.
        if any(isinstance(m, MayBeOutput) for m in field.metadata):
            value = pulumi.Input[value]  # type: ignore[misc,valid-type]
        fields[field_name] = Required[value] if field.is_required() else value
    # The functional form: the class statement cannot take computed fields.
    result: type = TypedDict(name, fields, total=False)  # type: ignore[misc]
    result.__doc__ = model.__doc__
    made[name] = (result, model)
    return result


ARGS_TYPES: Made = {}
RegistryArgs = typed_dict(RegstackConfig, ARGS_TYPES, name="RegistryArgs")
"""The Registry component's args: a stack's `regstack:` keys (docs/reference/config.md)."""
