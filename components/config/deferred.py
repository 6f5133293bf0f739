"""Secrets that arrive as Pulumi Outputs: `pulumi.Config().require_secret(...)`, a password from
another resource. Their value is unknown while the config is checked, so a secret field takes
the Output, the rest of the config is checked as usual, and the field's own rules run on the
value once it resolves, failing the deployment with the same `regstack:<path>: message` line.

Only secret fields (`SecretStr`) take an Output; elsewhere one is a problem at its path. The
cross-field rules see a placeholder in its place: they never read a secret's value.
"""

from __future__ import annotations

from typing import Annotated, Any

import pulumi
from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError

from .errors import ConfigError, Problem, dotted, pydantic_message
from .harbor import SECRET_PLACEHOLDER

Location = tuple[int | str, ...]


class OutputSecret(SecretStr):
    """A secret field given as an Output; `output` is its value, checked when it resolves."""

    def __init__(self, output: pulumi.Output[str]):
        super().__init__(SECRET_PLACEHOLDER)
        self.output = output

    def get_secret_value(self) -> str:
        raise TypeError(
            "this secret is a pulumi Output: read it through regstack's `outputs.secret`, "
            "which keeps it an Output"
        )


def take_outputs(raw: Any, loc: Location = ()) -> tuple[Any, dict[Location, pulumi.Output[Any]]]:
    """`raw` with each Output replaced by a placeholder, and the Outputs by location."""
    if isinstance(raw, pulumi.Output):
        return SECRET_PLACEHOLDER, {loc: raw}
    taken: dict[Location, pulumi.Output[Any]] = {}
    if isinstance(raw, dict):
        plain = {}
        for key, value in raw.items():
            plain[key], found = take_outputs(value, (*loc, key))
            taken |= found
        return plain, taken
    if isinstance(raw, list):
        items = []
        for index, value in enumerate(raw):
            item, found = take_outputs(value, (*loc, index))
            items.append(item)
            taken |= found
        return items, taken
    return raw, taken


def _field_owner(model: BaseModel, loc: Location) -> tuple[BaseModel, str] | None:
    """The model holding the field at `loc`, and the field's name; None if `loc` names none."""
    node: Any = model
    for part in loc[:-1]:
        node = node[part] if isinstance(part, int) else getattr(node, str(part), None)
    name = loc[-1] if loc else None
    if isinstance(node, BaseModel) and isinstance(name, str) and name in type(node).model_fields:
        return node, name
    return None


def _checked(owner: BaseModel, name: str, path: str, output: pulumi.Output[Any]) -> OutputSecret:
    """`output` as the field's value, its rules applied to what it resolves to."""
    field = type(owner).model_fields[name]
    # mypy reads no TypeForm in a computed Annotated; Annotated needs one annotation at least.
    annotated: Any = (
        Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    )
    adapter: TypeAdapter[Any] = TypeAdapter(annotated)

    def check(value: Any) -> str:
        try:
            adapter.validate_python(value)
        except ValidationError as err:
            problems = [Problem(path, pydantic_message(e)) for e in err.errors()]
            # RunError: Pulumi prints these lines and ends the deployment, with no traceback.
            raise pulumi.RunError(
                f"invalid stack configuration:\n{ConfigError(problems)}"
            ) from None
        return str(value)

    return OutputSecret(output.apply(check))


def put_outputs(cfg: BaseModel, taken: dict[Location, pulumi.Output[Any]]) -> list[Problem]:
    """Put each Output back into its secret field of `cfg`; a problem for any other field."""
    problems = []
    for loc, output in taken.items():
        owner = _field_owner(cfg, loc)
        if owner is None or not isinstance(getattr(*owner), SecretStr):
            problems.append(
                Problem(
                    dotted(loc),
                    "is a pulumi Output, which only a secret (a password, a key) may be: "
                    "give this value as a plain one",
                )
            )
            continue
        model, name = owner
        # The models are frozen: nothing else may change a checked config.
        object.__setattr__(model, name, _checked(model, name, dotted(loc), output))
    return problems
