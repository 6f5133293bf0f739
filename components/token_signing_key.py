"""TokenSigningKey: the token server's signing key and certificate, made once per stack and kept
in Pulumi state as secrets.

The token server signs every token with the key; the registry trusts the certificate
(`auth.token.rootcertbundle`). Like the stack key (components/stack_key.py) it is drawn once
and never changed by a diff, so no `pulumi up` shows a change or rolls a pod while nothing
changed. To rotate it (a leaked key lets its holder mint any token): `pulumi up --replace` the
resource's URN; both pods then roll, since their checksums include the certificate.

Rejected: cert-manager issuing it (a renewal changes the key under running pods, which read it
only at start, so every token fails until something restarts them); a key derived from the
stack key (one secret leaking would give the other).
"""

from __future__ import annotations

import datetime
import secrets
from typing import Any

import pulumi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

VALIDITY_DAYS = 3650
"""Distribution checks the chain only up to this certificate, whose lifetime bounds the key's;
rotation is by replacement, not by expiry."""


RSA_BITS = 3072


def key_pair(common_name: str = "regstack token signer") -> tuple[str, str]:
    """A fresh RSA private key and its self-signed certificate, both PEM.

    RSA, not EC: docker_auth 1.14.0 computes the `kid` of an EC key from the curve's generator
    point instead of the key (server/config.go, getRFC7638Thumbprint), so Distribution 3.x,
    which looks the key up by its true thumbprint, refuses every token signed with one
    ("token signed by untrusted key"). Its RSA thumbprint is right."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem_key.decode(), certificate.public_bytes(serialization.Encoding.PEM).decode()


class _TokenSigningKeyProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        key, certificate = key_pair()
        return CreateResult(id_=secrets.token_hex(8), outs={"key": key, "certificate": certificate})

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        # Never replaced by a run: every token in flight would fail and both pods would roll.
        return DiffResult(changes=False)


class TokenSigningKey(Resource, module="regstack", name="TokenSigningKey"):
    """The signing key (PEM, secret) and its certificate (PEM, secret as well: no reason to
    publish it in outputs)."""

    key: pulumi.Output[str]
    certificate: pulumi.Output[str]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        # Drawn by the program as the stack key is, so that programs under mocks get a pair.
        key, certificate = key_pair()
        super().__init__(
            _TokenSigningKeyProvider(),
            name,
            {
                "key": pulumi.Output.secret(key),
                "certificate": pulumi.Output.secret(certificate),
            },
            pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(additional_secret_outputs=["key", "certificate"])
            ),
        )
