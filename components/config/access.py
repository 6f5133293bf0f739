"""`regstack:tls`, `regstack:auth` and `regstack:pull_secrets`: who may reach the registry, and how."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr

from ..token_server_config import check_pattern
from .types import (
    DnsLabel,
    DnsSubdomain,
    Duration,
    Hostname,
    HttpUrl,
    ImageVersion,
    IpAddress,
    MayBeOutput,
    Section,
    UserName,
    check_password,
    grammar,
)

TOKEN_SERVER_IMAGE = "docker.io/cesanta/docker_auth"
TOKEN_SERVER_VERSION = "1.14.0"
"""The same as scripts/token-server.env, which the real-software tests build (a unit test keeps
the two equal)."""

RepositoryPattern = Annotated[str, AfterValidator(check_pattern)]


PUBLIC_ACME = re.compile(r"letsencrypt|lets-encrypt|zerossl|buypass", re.IGNORECASE)
"""Issuer names that look like a public ACME CA, which certifies public DNS names only."""


def _public_acme_refusal(name: str) -> str | None:
    # The certificate's names were chosen for an issuer of one's own CA (cluster names and
    # localhost included), which a public ACME CA would refuse the whole order for.
    if PUBLIC_ACME.search(name) is None:
        return None
    return (
        f"{name!r} looks like a public ACME CA, whose certificate regstack gives public names "
        "only; it must know that before deploying: give tls.issuer.name as a plain value"
    )


class IssuerRef(Section):
    """A cert-manager issuer that already exists in the cluster."""

    name: Annotated[
        DnsSubdomain, MayBeOutput("regstack-issuer-output", refuse=_public_acme_refusal)
    ] = Field(description="Issuer name, e.g. letsencrypt-prod.")
    kind: Literal["Issuer", "ClusterIssuer"] = Field("ClusterIssuer", description="Issuer kind.")


class TlsConfig(Section):
    """Registry TLS via cert-manager."""

    mode: Literal["none", "self-signed", "issuer"] = Field(
        "none",
        description="`none`, `self-signed` (a lab CA chain made here) or `issuer` (existing one).",
    )
    issuer: IssuerRef | None = Field(None, description="Required when mode is `issuer`.")
    dns_names: list[Hostname] = Field(
        default_factory=list, description="Extra SANs besides the hostnames and service names."
    )
    ip_addresses: list[IpAddress] = Field(
        default_factory=list,
        description="IP address SANs besides 127.0.0.1, for clients that pull by a node's address.",
    )
    duration: Duration = Field("2160h", description="Certificate lifetime (90 days).")
    renew_before: Duration = Field("360h", description="Renew this long before expiry (15 days).")


class UserConfig(Section):
    """A registry user; the password comes from secret config."""

    name: UserName = Field(description="Login name.")
    password: Annotated[SecretStr, AfterValidator(check_password)] = Field(
        description="Set with `pulumi config set --secret --path 'auth.users[N].password'`."
    )
    role: Literal["push", "maintenance", "admin"] | None = Field(
        None,
        description="With `auth.mode: token` (required there): `push` pulls and pushes the "
        "`repositories` only (CI), `maintenance` lists, pulls and deletes everything "
        "(retention) and pushes GC's reserved `regstack-gc-*` tags (the token server cannot "
        "limit a push to tag names), `admin` does everything. htpasswd cannot tell users apart: "
        "each may do everything.",
    )
    repositories: list[RepositoryPattern] = Field(
        default_factory=list,
        description="`push` users only: repository globs they may push to, e.g. `team/*` "
        "(`*` stays within one path component).",
    )


class TokenServerConfig(Section):
    """cesanta/docker_auth, which signs the tokens that `auth.mode: token` makes the registry
    trust; it serves HTTPS with the registry's certificate."""

    image: str = Field(TOKEN_SERVER_IMAGE, description="Token server image repository.")
    version: ImageVersion = Field(TOKEN_SERVER_VERSION, description="Token server image tag.")
    realm: HttpUrl | None = Field(
        None,
        description="The token server's URL as every client reaches it. Default: "
        "`https://<first hostname>/auth` behind the Ingress (the Ingress routes `/auth` to "
        "it), else `https://<first hostname, or localhost>:<node_port>/auth`. The CLI takes a "
        "key naming `token` for a secret: `pulumi config set --plaintext --path ...`.",
    )
    node_port: int = Field(
        32001, ge=30000, le=32767, description="Its node port when the registry's is NodePort."
    )
    expiration: Duration = Field(
        "5m", description="Token lifetime: how long a removed identity may keep using a token."
    )


class AuthConfig(Section):
    """htpasswd authentication."""

    enabled: bool = Field(False, description="Require a login for every request.")
    mode: Literal["htpasswd", "token"] = Field(
        "htpasswd",
        description="`htpasswd`: every user may pull, push and delete everything (dev). "
        "`token` (required by the prod profile on the distribution backend): a token server "
        "grants each user its `role`, and each pull secret namespace its own pull-only "
        "identity.",
    )
    token_server: TokenServerConfig = Field(
        default_factory=TokenServerConfig, description="The token server of `mode: token`."
    )
    # Quoted in the WWW-Authenticate header: no quote, backslash or control character.
    realm: Annotated[
        str,
        AfterValidator(grammar(r"[ !#-\[\]-~]+", 128, "printable ASCII without '\"' or '\\'")),
    ] = Field("regstack", description="Basic-auth realm.")
    users: list[UserConfig] = Field(default_factory=list, description="Users (htpasswd entries).")
    bcrypt_cost: int = Field(12, ge=10, le=15, description="bcrypt cost of htpasswd entries.")

    def maintainer(self) -> str | None:
        """Who retention logs in as by default: with htpasswd the first user (all are alike),
        with tokens the first `maintenance` user, else the first `admin`."""
        if self.mode == "htpasswd":
            return self.users[0].name if self.users else None
        for role in ("maintenance", "admin"):
            found = [u.name for u in self.users if u.role == role]
            if found:
                return found[0]
        return None


class PullSecretsConfig(Section):
    """`kubernetes.io/dockerconfigjson` secrets for workloads in other namespaces."""

    namespaces: list[DnsLabel] = Field(
        default_factory=list, description="Namespaces that get a pull secret."
    )
    create_namespaces: bool = Field(
        False,
        description="Create those namespaces too: none may exist yet. regstack never deletes them.",
    )
    secret_name: DnsLabel = Field("regstack-pull", description="Name of each pull secret.")
    user: UserName | None = Field(
        None,
        description="htpasswd only: whose credentials; the first user if unset. With "
        "`auth.mode: token` each namespace gets its own pull-only identity, `pull-<namespace>`.",
    )
