"""Stable bcrypt htpasswd entries.

bcrypt normally draws a fresh random salt per hash, so every `pulumi up` would see a new Secret
and roll the registry. Deriving the salt from the user and password keeps the entry identical
while the password is unchanged, and changes it (salt included) as soon as the password does.
The salt stays secret-derived, so it reveals nothing that the hash itself does not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import bcrypt

_STANDARD = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TO_BCRYPT_ALPHABET = bytes.maketrans(_STANDARD, _BCRYPT)
MIN_COST = 10


def stable_salt(user: str, password: str, cost: int) -> bytes:
    """A bcrypt salt (`$2b$<cost>$` + 22 characters) derived from user and password."""
    if not MIN_COST <= cost <= 31:
        raise ValueError(f"bcrypt cost must be between {MIN_COST} and 31, got {cost}")
    digest = hmac.new(password.encode(), f"regstack-htpasswd:{user}".encode(), hashlib.sha256)
    encoded = base64.b64encode(digest.digest()[:16]).rstrip(b"=").translate(_TO_BCRYPT_ALPHABET)
    return b"$2b$%02d$" % cost + encoded


def entry(user: str, password: str, cost: int) -> str:
    """One `user:hash` htpasswd line."""
    hashed = bcrypt.hashpw(password.encode(), stable_salt(user, password, cost))
    return f"{user}:{hashed.decode()}"


def htpasswd(users: list[tuple[str, str]], cost: int) -> str:
    """The whole htpasswd file for (user, password) pairs, in the order given."""
    return "".join(entry(user, password, cost) + "\n" for user, password in users)
