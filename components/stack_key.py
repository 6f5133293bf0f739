"""StackKey: 32 random bytes drawn once per stack and kept in Pulumi state as a secret.

Values that must stay the same on every `pulumi up` yet must not be a searchable function of a
password are keyed by it: the htpasswd salts (HMAC(key, user)) and the rollout checksums
(HMAC(key, what changed)). Whoever holds an htpasswd line or reads a Deployment sees values that
no password guess can be checked against without the key, and the same user and password give
different lines in different stacks.

Rejected: a salt derived from the password (the salt is stored in clear, so one HMAC per guess
tests it and skips bcrypt); a fresh random salt on every run (a new Secret and a registry
rollout on every `pulumi up`); a key in stack config (one more secret for people to set, and
easy to copy from stack to stack). A pulumi dynamic resource keeps the key in state: made on
the first `up`, never changed by a diff, gone with the stack.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

KEY_BYTES = 32


class _StackKeyProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=secrets.token_hex(8), outs={"key": secrets.token_hex(KEY_BYTES)})

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        # The key is never replaced by a run: that would re-salt every user and roll the registry.
        return DiffResult(changes=False)


class StackKey(Resource, module="regstack", name="StackKey"):
    """The stack's random key (hex), a secret from the moment it is made."""

    key: pulumi.Output[str]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__(
            _StackKeyProvider(),
            name,
            # Drawn by the program rather than inside `create`, so that programs under test mocks,
            # which never run `create`, still get a key.
            {"key": pulumi.Output.secret(secrets.token_hex(KEY_BYTES))},
            pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(additional_secret_outputs=["key"])
            ),
        )

    @property
    def secret(self) -> pulumi.Output[str]:
        """The key, marked secret whatever the engine (mocks included) does with outputs."""
        return pulumi.Output.secret(self.key)


def keyed_digest(key: str, *parts: str) -> str:
    """HMAC-SHA256 of `parts` under the stack key, hex: stable per stack, and no function of the
    parts that anyone without the key can search."""
    message = b"\0".join(part.encode() for part in parts)
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def rollout_checksum(key: pulumi.Input[str], *parts: pulumi.Input[str]) -> pulumi.Output[str]:
    """A pod annotation that changes whenever one of `parts` does; readable in previews (so not
    secret) because it reveals nothing about them."""
    return pulumi.Output.unsecret(
        pulumi.Output.all(key, *parts).apply(lambda values: keyed_digest(*values))
    )
