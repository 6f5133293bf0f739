"""Values that arrive as Pulumi Outputs: a secret from `pulumi.Config().require_secret(...)`, a
password from another resource, a namespace or an issuer made in the same program. Their value
is unknown while the config is checked, so such a field takes the Output, the rest of the config
is checked as usual, and the field's own rules run on the value once it resolves, failing the
deployment with the same `regstack:<path>: message` line.

Which fields take an Output: every secret (`SecretStr`), the fields marked `MayBeOutput`
(config/types.py), and each item of a list whose items are marked (`registry.hostnames[0]`; the
list itself is plain: how many items it has is decided on). Elsewhere an Output is a problem at
its path: the value decides what is built, which must be known before any resource is
registered. The cross-field rules see a placeholder in its place: a secret's is never read, a
marked field's is a valid value on which no decision turns (the field's `refuse` catches a
resolved value that would have turned one; `check_when_resolved` applies a cross-field rule that
still holds, config/rules.py's `resolved_rules`).

The components read such a field through `outputs.secret` or `outputs.input_of`, which hand on
the Output; reading it as text raises (`OutputStr`), so a plain string never stands in silently.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import pulumi
from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from .errors import ConfigError, Problem, dotted, model_at, pydantic_message
from .harbor import SECRET_PLACEHOLDER
from .types import MayBeOutput

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


class OutputStr(str):
    """A `MayBeOutput` field given as an Output: its placeholder as text, to the checks that ran
    before it was put back; `output` is its value, checked when it resolves."""

    output: pulumi.Output[str]

    def __new__(cls, placeholder: str, output: pulumi.Output[str]) -> OutputStr:
        text = super().__new__(cls, placeholder)
        text.output = output
        return text

    def _refuse(self, *_: Any) -> Any:
        raise TypeError(
            f"this value is a pulumi Output (the placeholder {str.__str__(self)!r} stands in for "
            "it): read it through regstack's `outputs.input_of`, which keeps it an Output"
        )

    __str__ = __format__ = __add__ = __radd__ = __mod__ = _refuse


def _field(loc: Location) -> FieldInfo | None:
    """The field a value at `loc` is given for; None for a list item or a key of no model."""
    model = model_at(loc) if loc and isinstance(loc[-1], str) else None
    return model.model_fields.get(str(loc[-1])) if model else None


def _marker_in(annotation: Any) -> MayBeOutput | None:
    found = [m for m in getattr(annotation, "__metadata__", ()) if isinstance(m, MayBeOutput)]
    return found[0] if found else None


def output_marker(field: FieldInfo) -> MayBeOutput | None:
    """The field's `MayBeOutput`, in its metadata or inside an optional's `Annotated` (not a
    list's: its items may be Outputs, the list itself may not)."""
    found = [m for m in field.metadata if isinstance(m, MayBeOutput)]
    if typing.get_origin(field.annotation) in (typing.Union, types.UnionType):
        found += [m for arg in typing.get_args(field.annotation) if (m := _marker_in(arg))]
    return found[0] if found else None


def _item_type(field: FieldInfo) -> Any:
    """The type of the items of a list field (its `Annotated`, with its rules), else None."""
    if typing.get_origin(field.annotation) is not list:
        return None
    return typing.get_args(field.annotation)[0]


def item_output_marker(field: FieldInfo) -> MayBeOutput | None:
    """The `MayBeOutput` of a list field's items (host names), else None."""
    return _marker_in(_item_type(field))


def _rules_at(loc: Location) -> tuple[Any, MayBeOutput | None] | None:
    """The type (with its rules) of the value at `loc`, and its marker: a field's, or a list
    item's (`registry.hostnames[0]`); None where `loc` names neither."""
    if loc and isinstance(loc[-1], int):
        field = _field(loc[:-1])
        item = _item_type(field) if field else None
        return (item, _marker_in(item)) if item is not None else None
    field = _field(loc)
    if field is None:
        return None
    # mypy reads no TypeForm in a computed Annotated; Annotated needs one annotation at least.
    annotated: Any = (
        Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    )
    return annotated, output_marker(field)


def take_outputs(raw: Any, loc: Location = ()) -> tuple[Any, dict[Location, pulumi.Output[Any]]]:
    """`raw` with each Output replaced by a placeholder, and the Outputs by location."""
    if isinstance(raw, pulumi.Output):
        rules = _rules_at(loc)
        marker = rules[1] if rules else None
        return (marker.placeholder if marker else SECRET_PLACEHOLDER), {loc: raw}
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


def _owner(model: BaseModel, loc: Location) -> tuple[BaseModel | list[Any], int | str] | None:
    """The model holding the field at `loc` and the field's name, or the list holding the item
    at `loc` and its index; None if `loc` names neither."""
    node: Any = model
    for part in loc[:-1]:
        node = node[part] if isinstance(part, int) else getattr(node, str(part), None)
    name = loc[-1] if loc else None
    if isinstance(node, BaseModel) and isinstance(name, str) and name in type(node).model_fields:
        return node, name
    if isinstance(node, list) and isinstance(name, int) and name < len(node):
        return node, name
    return None


def _put(owner: tuple[BaseModel | list[Any], int | str], value: Any) -> None:
    holder, key = owner
    if isinstance(holder, list):
        holder[int(key)] = value
    else:
        # The models are frozen: nothing else may change a checked config.
        object.__setattr__(holder, str(key), value)


def _invalid(problems: list[Problem]) -> pulumi.RunError:
    # RunError: Pulumi prints these lines and ends the deployment, with no traceback.
    return pulumi.RunError(f"invalid stack configuration:\n{ConfigError(problems)}")


def _checked(
    annotated: Any, marker: MayBeOutput | None, path: str, output: pulumi.Output[Any]
) -> pulumi.Output[str]:
    """`output`, with the rules of its type `annotated` (and `marker.refuse`) applied to what
    it resolves to."""
    adapter: TypeAdapter[Any] = TypeAdapter(annotated)

    def check(value: Any) -> str:
        try:
            valid = adapter.validate_python(value)
        except ValidationError as err:
            raise _invalid([Problem(path, pydantic_message(e)) for e in err.errors()]) from None
        if marker is None:  # a secret: its value as given, never SecretStr's mask
            return str(value)
        refusal = marker.refuse(valid) if marker.refuse else None
        if refusal is not None:
            raise _invalid([Problem(path, refusal)])
        return str(valid)  # as a plain value is kept: an endpoint without its trailing slash

    return output.apply(check)


def _no_secret(path: str, output: pulumi.Output[str]) -> pulumi.Output[str]:
    """`output`, refused when it is a secret: a field that is no secret is shown in plain (a
    namespace in every object's metadata), and regstack does not unwrap a secret into one."""

    async def known() -> bool:
        if await output.is_secret():
            raise _invalid(
                [
                    Problem(
                        path,
                        "is a pulumi secret, but this value is shown in plain (in the cluster's "
                        "objects and in outputs): give it as a value that is no secret",
                    )
                ]
            )
        return await output.is_known()

    # `future()` is None while the value is unknown (a preview): `known()` is then False, and
    # nothing reads the value.
    value = typing.cast(Awaitable[str], output.future())
    return pulumi.Output(output.resources(), value, known())


def check_when_resolved(value: OutputStr, rule: Callable[[str], Problem | None]) -> None:
    """Apply `rule`, a cross-field rule (config/rules.py, resolved_rules), to what `value`
    resolves to as well: its problem ends the deployment as the field's own do."""

    def check(text: str) -> str:
        problem = rule(text)
        if problem is not None:
            raise _invalid([problem])
        return text

    value.output = value.output.apply(check)


def _is_secret(annotated: Any) -> bool:
    """Whether a type (an optional's, an `Annotated`'s) is a secret's."""
    if isinstance(annotated, type):
        return issubclass(annotated, SecretStr)
    return any(_is_secret(arg) for arg in typing.get_args(annotated))


def put_outputs(
    cfg: BaseModel, taken: dict[Location, pulumi.Output[Any]], whole: bool = True
) -> list[Problem]:
    """Put each Output back into its field of `cfg`; a problem for a field that takes none.

    `whole`: whether `cfg` holds every value given. When values were dropped for their problems
    (load.py's `_rest_of`), a list item may stand at another index, and `cfg` is refused anyway:
    only the Outputs at keys that take none are reported then."""
    problems = []
    for loc, output in taken.items():
        rules = _rules_at(loc)
        marker = rules[1] if rules else None
        owner = _owner(cfg, loc) if whole else None
        if rules is None or not (marker or _is_secret(rules[0])) or (whole and owner is None):
            problems.append(
                Problem(
                    dotted(loc),
                    "is a pulumi Output, which only a secret (a password, a key) and the keys the "
                    "config reference marks `may be an Output` take: give this value as a plain one",
                )
            )
            continue
        if owner is None:  # not `whole`: the config has problems of its own
            continue
        path, annotated = dotted(loc), rules[0]
        value: str | SecretStr = (
            OutputSecret(_checked(annotated, None, path, output))
            if marker is None
            else OutputStr(
                marker.placeholder,
                _checked(
                    annotated,
                    marker,
                    path,
                    output if marker.secret_ok else _no_secret(path, output),
                ),
            )
        )
        _put(owner, value)
    return problems
