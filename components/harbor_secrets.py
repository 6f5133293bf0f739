"""Harbor's internal secrets, derived deterministically from one secret seed.

Left empty, the goharbor chart draws `core.secret`, `core.xsrfKey`, `jobservice.secret`,
`registry.secret`, the registry htpasswd salt and the token-signing key pair afresh on every
render, so every `pulumi up` would replace Secrets and restart Harbor, and `secretKey` and the
database password fall back to public defaults. Each value here is HMAC-SHA256(seed, its name)
stretched to the length and alphabet Harbor expects: the same seed gives the same values on every
run, and one value reveals nothing about the seed or the others.

The seed must never change once Harbor has run: `secretKey` encrypts credentials Harbor stores in
its database, and the internal PostgreSQL keeps the password it was initialised with.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from . import htpasswd

MIN_SEED_LENGTH = 32
_ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# The chart's own default user name; only its password is secret.
REGISTRY_USER = "harbor_registry_user"
TOKEN_KEY_BITS = 2048
_BCRYPT_COST = 10  # Harbor core checks this hash on every registry call; the password is random


def _stream(seed: str, name: str) -> Iterator[int]:
    """An endless byte stream: HMAC-SHA256(seed, name || counter) blocks."""
    counter = 0
    while True:
        block = hmac.new(
            seed.encode(), f"regstack-harbor:{name}:{counter}".encode(), hashlib.sha256
        )
        yield from block.digest()
        counter += 1


def derive(seed: str, name: str, length: int) -> str:
    """`length` letters and digits for the value called `name`, unbiased (rejection sampling)."""
    limit = 256 - 256 % len(_ALPHANUMERIC)
    chars: list[str] = []
    for byte in _stream(seed, name):
        if byte < limit:
            chars.append(_ALPHANUMERIC[byte % len(_ALPHANUMERIC)])
            if len(chars) == length:
                return "".join(chars)
    raise AssertionError("unreachable: the stream is endless")  # pragma: no cover


# --- token-signing key pair ---------------------------------------------------------------------
# Harbor core signs registry tokens with an RSA key (RS256); the registry trusts the matching
# certificate. Both must stay the same across renders, so the key comes from the seed stream and
# the certificate is assembled in DER by hand below. `cryptography` could build the key from
# these primes and write the certificate, but it is not a dependency of the installed package,
# it cannot do the seeded prime search, and its DER need not match these bytes: a stack that
# already runs Harbor would get a new token certificate, and Harbor would restart, on upgrade.

_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % d for d in range(2, int(p**0.5) + 1))]
_E = 65537


def _random_int(stream: Iterator[int], bits: int) -> int:
    return int.from_bytes(bytes(next(stream) for _ in range(bits // 8)), "big")


def _is_probable_prime(n: int, stream: Iterator[int]) -> bool:
    if any(n % p == 0 for p in _SMALL_PRIMES):
        return False
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(40):  # error below 4^-40 per candidate
        x = pow(2 + _random_int(stream, 256) % (n - 3), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(stream: Iterator[int], bits: int) -> int:
    while True:
        # Top two bits set so the product has exactly 2 * bits bits; odd.
        candidate = _random_int(stream, bits) | (0b11 << (bits - 2)) | 1
        if (candidate - 1) % _E and _is_probable_prime(candidate, stream):
            return candidate


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _integer(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _sequence(*parts: bytes) -> bytes:
    return _der(0x30, b"".join(parts))


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(n) for n in dotted.split("."))
    body = bytearray([40 * first + second])
    for number in rest:
        chunk = [number & 0x7F]
        while number := number >> 7:
            chunk.append(0x80 | (number & 0x7F))
        body += bytes(reversed(chunk))
    return _der(0x06, bytes(body))


_NULL = b"\x05\x00"
_SHA256_WITH_RSA = _sequence(_oid("1.2.840.113549.1.1.11"), _NULL)
_RSA_ENCRYPTION = _sequence(_oid("1.2.840.113549.1.1.1"), _NULL)
_SHA256 = _sequence(_oid("2.16.840.1.101.3.4.2.1"), _NULL)
# Fixed validity keeps the certificate byte-identical between runs; the registry only uses
# its public key to check token signatures.
_NOT_BEFORE, _NOT_AFTER = b"250101000000Z", b"491231235959Z"
TOKEN_CERT_SUBJECT = "harbor-token-ca"


def _pem(label: str, der: bytes) -> str:
    text = base64.b64encode(der).decode()
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]) + "\n"


@lru_cache(maxsize=4)
def token_key_pair(seed: str) -> tuple[str, str]:
    """(PKCS#1 RSA private key PEM, self-signed certificate PEM) for Harbor's token service."""
    stream = _stream(seed, "core.tokenKey")
    half = TOKEN_KEY_BITS // 2
    p = _prime(stream, half)
    q = _prime(stream, half)
    while q == p:  # pragma: no cover - a 1024-bit collision
        q = _prime(stream, half)
    n = p * q
    d = pow(_E, -1, (p - 1) * (q - 1))
    key = _sequence(
        *(_integer(v) for v in (0, n, _E, d, p, q, d % (p - 1), d % (q - 1))),
        _integer(pow(q, -1, p)),
    )

    name = _sequence(
        _der(0x31, _sequence(_oid("2.5.4.3"), _der(0x0C, TOKEN_CERT_SUBJECT.encode())))
    )
    public_key = _sequence(
        _RSA_ENCRYPTION, _der(0x03, b"\x00" + _sequence(_integer(n), _integer(_E)))
    )
    serial = _random_int(stream, 128) >> 1  # positive, at most 20 bytes
    tbs = _sequence(
        _der(0xA0, _integer(2)),  # X.509 v3
        _integer(serial),
        _SHA256_WITH_RSA,
        name,
        _sequence(_der(0x17, _NOT_BEFORE), _der(0x17, _NOT_AFTER)),
        name,
        public_key,
    )
    # RSASSA-PKCS1-v1_5: 00 01 FF.. 00 || DigestInfo(SHA-256(tbs)), raised to d mod n.
    digest_info = _sequence(_SHA256, _der(0x04, hashlib.sha256(tbs).digest()))
    size = (n.bit_length() + 7) // 8
    padded = b"\x00\x01" + b"\xff" * (size - len(digest_info) - 3) + b"\x00" + digest_info
    signature = pow(int.from_bytes(padded, "big"), d, n).to_bytes(size, "big")
    certificate = _sequence(tbs, _SHA256_WITH_RSA, _der(0x03, b"\x00" + signature))
    return _pem("RSA PRIVATE KEY", key), _pem("CERTIFICATE", certificate)


@dataclass(frozen=True)
class HarborSecrets:
    """Every value the chart would otherwise generate; lengths are what Harbor requires."""

    secret_key: str  # `secretKey`: exactly 16 characters (AES key for stored credentials)
    core_secret: str  # `core.secret`: 16 characters
    xsrf_key: str  # `core.xsrfKey`: 32 characters
    jobservice_secret: str  # `jobservice.secret`: 16 characters
    registry_http_secret: str  # `registry.secret`: 16 characters
    registry_password: str  # `registry.credentials.password`
    registry_htpasswd: str  # `registry.credentials.htpasswdString`: stable bcrypt
    database_password: str  # `database.internal.password`
    token_key: str  # `core.tokenKey`
    token_cert: str  # `core.tokenCert`


def harbor_secrets(seed: str) -> HarborSecrets:
    """All of Harbor's internal secrets from `seed` (at least 32 characters)."""
    if len(seed) < MIN_SEED_LENGTH:
        raise ValueError(
            f"harbor.secret_seed must be at least {MIN_SEED_LENGTH} characters, got {len(seed)}; "
            "generate one with: openssl rand -base64 32"
        )
    registry_password = derive(seed, "registry.credentials.password", 32)
    token_key, token_cert = token_key_pair(seed)
    return HarborSecrets(
        secret_key=derive(seed, "secretKey", 16),
        core_secret=derive(seed, "core.secret", 16),
        xsrf_key=derive(seed, "core.xsrfKey", 32),
        jobservice_secret=derive(seed, "jobservice.secret", 16),
        registry_http_secret=derive(seed, "registry.secret", 16),
        registry_password=registry_password,
        # Salted from the seed, never from the password (which the salt would then give away).
        registry_htpasswd=htpasswd.entry(
            REGISTRY_USER, registry_password, _BCRYPT_COST, derive(seed, "htpasswd.salt", 32)
        ),
        database_password=derive(seed, "database.internal.password", 32),
        token_key=token_key,
        token_cert=token_cert,
    )
