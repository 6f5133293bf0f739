"""The config that cesanta/docker_auth (the token server behind Distribution's `auth.token`) reads.

Distribution's htpasswd has no rights: every login may pull, push, overwrite any tag and delete.
With `auth.token` the registry instead trusts short-lived tokens signed by the token server,
and each token carries only the actions its holder's ACL grants on the repository it asked for.
This module renders docker_auth's file from regstack's identities; kept apart from the
component (components/token_server.py) so tests start the real docker_auth with exactly it.

docker_auth reads the ACL top to bottom and the first entry that matches decides. Each
identity's entries name its account literally, so one identity's entries never decide for
another, and a request that matches none of them is refused (docker_auth grants nothing on no
match). Repository patterns are Go `path.Match` globs: `*` stays within one path segment
(`team/*` matches `team/app`, not `team/app/sub` nor `other`).

No secret goes in clear: the users' passwords are bcrypt hashes, and the signing key is a file
the pod mounts from a Secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

TOKEN_DIR = "/etc/token-server/keys"
CONFIG_DIR = "/etc/token-server/config"
TLS_DIR = "/etc/token-server/tls"
PORT = 5001
REALM_PATH = "/auth"
"""docker_auth answers token requests on this path."""

Action = Literal["pull", "push", "delete"]
Role = Literal["pull", "push", "maintenance", "admin"]

# A repository name (Distribution's grammar: lowercase components split by '/') with the glob
# characters '*' and '?'; '[' ranges and a leading '/' (docker_auth's regex form) are not
# accepted, so a pattern means the same to a reader as to path.Match.
REPOSITORY_PATTERN = re.compile(r"[a-z0-9*?]+(?:(?:[._/]|__|-+)[a-z0-9*?]+)*")


@dataclass(frozen=True)
class Identity:
    """One login and what it may do. The hash is bcrypt, as htpasswd's."""

    name: str
    password_hash: str
    role: Role
    repositories: tuple[str, ...] = ()
    """Push identities only: the repository patterns they may push to (and pull from)."""


@dataclass(frozen=True)
class TokenServerSettings:
    issuer: str
    """The `iss` of every token; the registry's `auth.token.issuer` must be the same."""
    addr: str = f":{PORT}"
    key_dir: str = TOKEN_DIR
    """Where the signing key (`tls.key`) and its certificate (`tls.crt`) are mounted."""
    tls_dir: str | None = TLS_DIR
    """The serving certificate (`tls.crt`, `tls.key`) for HTTPS; None serves plain HTTP (only
    behind something that terminates TLS: clients send their passwords here)."""
    expiration_seconds: int = 300
    """Token lifetime: how long a revoked identity may still use a token it holds."""


def check_pattern(pattern: str) -> str:
    """A push pattern, or ValueError saying what is allowed."""
    if not REPOSITORY_PATTERN.fullmatch(pattern) or len(pattern) > 255:
        raise ValueError(
            f"{pattern!r} is not a repository pattern: lowercase repository path components "
            "('a-z', '0-9', '.', '_', '-', split by '/') with '*' (within one component) and '?'"
        )
    return pattern


def _entry(account: str, actions: list[str], **match: str) -> dict[str, object]:
    return {"match": {"account": account, **match}, "actions": actions}


def _acl(identity: Identity) -> list[dict[str, object]]:
    """The identity's ACL entries, in the order docker_auth tries them."""
    name = identity.name
    if identity.role == "pull":
        return [_entry(name, ["pull"], type="repository")]
    if identity.role == "push":
        return [
            _entry(name, ["pull", "push"], type="repository", name=check_pattern(pattern))
            for pattern in identity.repositories
        ]
    # Retention walks the catalog, reads manifests and deletes them. GC's protection puts a
    # reserved tag (regstack-gc-*) on every in-use manifest before it collects, and docker_auth
    # cannot scope a right to tag names: so maintenance may push, and is the admin minus nothing
    # but the name; SECURITY.md says what that leaves open.
    catalog = _entry(name, ["*"], type="registry", name="catalog")
    return [catalog, _entry(name, ["pull", "push", "delete"], type="repository")]


def token_server_config(
    settings: TokenServerSettings, identities: list[Identity]
) -> dict[str, object]:
    """docker_auth's configuration as a mapping (dump it as YAML)."""
    names = [i.name for i in identities]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"identity names must be unique; repeated: {', '.join(duplicates)}")
    server: dict[str, object] = {"addr": settings.addr}
    if settings.tls_dir is not None:
        server |= {
            "certificate": f"{settings.tls_dir}/tls.crt",
            "key": f"{settings.tls_dir}/tls.key",
        }
    return {
        "server": server,
        "token": {
            "issuer": settings.issuer,
            "expiration": settings.expiration_seconds,
            "certificate": f"{settings.key_dir}/tls.crt",
            "key": f"{settings.key_dir}/tls.key",
            # Distribution 3.x finds the signing key by its RFC 7638 thumbprint in the token's
            # `kid`; docker_auth's default, libtrust's key ID, is refused by 3.x as untrusted.
            "disable_legacy_key_id": True,
        },
        "users": {i.name: {"password": i.password_hash} for i in identities},
        "acl": [entry for identity in identities for entry in _acl(identity)],
    }
