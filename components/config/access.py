"""`regstack:tls`, `regstack:auth` and `regstack:pull_secrets`: who may reach the registry, and how."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr

from components.config.types import (
    DnsLabel,
    DnsSubdomain,
    Duration,
    Hostname,
    IpAddress,
    Section,
    UserName,
    check_password,
    grammar,
)


class IssuerRef(Section):
    """A cert-manager issuer that already exists in the cluster."""

    name: DnsSubdomain = Field(description="Issuer name, e.g. letsencrypt-prod.")
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


class AuthConfig(Section):
    """htpasswd authentication."""

    enabled: bool = Field(False, description="Require a login for every request.")
    # Quoted in the WWW-Authenticate header: no quote, backslash or control character.
    realm: Annotated[
        str,
        AfterValidator(grammar(r"[ !#-\[\]-~]+", 128, "printable ASCII without '\"' or '\\'")),
    ] = Field("regstack", description="Basic-auth realm.")
    users: list[UserConfig] = Field(default_factory=list, description="Users (htpasswd entries).")
    bcrypt_cost: int = Field(12, ge=10, le=15, description="bcrypt cost of htpasswd entries.")


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
    user: UserName | None = Field(None, description="Whose credentials; the first user if unset.")
