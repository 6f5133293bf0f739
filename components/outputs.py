"""Small helpers for Pulumi outputs shared by several components."""

from __future__ import annotations

from typing import TypeVar

import pulumi

T = TypeVar("T")


def known_after(resource: pulumi.Resource, value: T) -> pulumi.Output[T]:
    """`value`, carrying a dependency on `resource`.

    The URN is known even during preview, so consumers see the value in `pulumi preview` and
    still wait for the resource on `pulumi up`.
    """
    return pulumi.Output.all(resource.urn, value).apply(lambda parts: parts[1])


def as_secret(value: pulumi.Output[T]) -> pulumi.Output[T]:
    """`value` marked secret, whatever the caller passed in (a typed `Output.secret`)."""
    return pulumi.Output.secret(value)
