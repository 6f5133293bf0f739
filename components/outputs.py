"""Small helpers for Pulumi outputs shared by several components."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar, overload

import pulumi
from pydantic import SecretStr

from .config.deferred import OutputSecret, OutputStr

T = TypeVar("T")


def known_after(resource: pulumi.Resource, value: pulumi.Input[T]) -> pulumi.Output[T]:
    """`value`, carrying a dependency on `resource`.

    The URN is known even during preview, so consumers see the value in `pulumi preview` and
    still wait for the resource on `pulumi up`.
    """
    return pulumi.Output.all(resource.urn, value).apply(lambda parts: parts[1])


def as_secret(value: pulumi.Output[T]) -> pulumi.Output[T]:
    """`Output.secret` of an Output, typed: pulumi's annotations make mypy infer `Never` for
    `Output.secret(Output[T])` unless the result is assigned to an annotated name."""
    return pulumi.Output.secret(value)


@overload
def secret(value: SecretStr) -> pulumi.Output[str]: ...
@overload
def secret(value: None) -> None: ...
def secret(value: SecretStr | None) -> pulumi.Output[str] | None:
    """A config secret as a Pulumi secret, unwrapped only here, so that it never exists as a
    plain string outside Pulumi's secret marking. One given as an Output stays one."""
    if isinstance(value, OutputSecret):
        return as_secret(value.output)
    return None if value is None else pulumi.Output.secret(value.get_secret_value())


@overload
def input_of(value: str) -> pulumi.Input[str]: ...
@overload
def input_of(value: None) -> None: ...
def input_of(value: str | None) -> pulumi.Input[str] | None:
    """A config value that may have been given as an Output (config/deferred.py), as an Input:
    that Output, checked when it resolves, else the plain value."""
    return value.output if isinstance(value, OutputStr) else value


def joined(*parts: pulumi.Input[str]) -> pulumi.Input[str]:
    """The parts as one string, each config value through `input_of`: a plain string when every
    part is plain (a plain config renders as it always did), else an Output."""
    inputs = [input_of(part) if isinstance(part, str) else part for part in parts]
    texts = [part for part in inputs if isinstance(part, str)]
    if len(texts) == len(inputs):
        return "".join(texts)
    return pulumi.Output.concat(*inputs)


def joined_text(*parts: str) -> str:
    """`joined`, kept a str so that it flows where text does: a value given as an Output makes
    it one too (an `OutputStr`, its placeholder the parts' placeholders), which a component
    reads through `input_of` where it uses it."""
    value = joined(*parts)
    if isinstance(value, str):
        return value
    assert isinstance(value, pulumi.Output)
    return OutputStr("".join(str.__str__(part) for part in parts), value)


def distinct(items: Sequence[pulumi.Input[str]]) -> pulumi.Input[list[str]]:
    """`items` without repeats, in order, each config value through `input_of`: a plain list
    when every item is plain, else an Output of one (two Outputs may resolve to the same text)."""
    items = [input_of(item) if isinstance(item, str) else item for item in items]
    texts = [item for item in items if isinstance(item, str)]
    if len(texts) == len(items):
        return list(dict.fromkeys(texts))
    return pulumi.Output.all(*items).apply(lambda values: list(dict.fromkeys(values)))


def shown(value: str, stand_in: str) -> str:
    """`value` for a message, or `stand_in` when it is an Output, whose text is not known yet."""
    return stand_in if isinstance(value, OutputStr) else value
