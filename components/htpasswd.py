"""Stable bcrypt htpasswd entries whose salt reveals nothing about the password.

bcrypt normally draws a fresh random salt per hash, so every `pulumi up` would see a new Secret
and roll the registry. The salt here is HMAC-SHA256(key, user) with a random per-stack key
(components/stack_key.py, or Harbor's secret seed): the entry stays identical while the password
is unchanged, and the same user and password give different entries in different stacks.

The salt is never derived from the password: it is stored in clear in the hash, so a
password-derived salt lets anyone holding the line test a guess with one HMAC instead of one
bcrypt (issue 14).
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
MIN_KEY_LENGTH = 32


def keyed_salt(key: str, user: str, cost: int) -> bytes:
    """A bcrypt salt (`$2b$<cost>$` + 22 characters) from the stack key and the user name."""
    if not MIN_COST <= cost <= 31:
        raise ValueError(f"bcrypt cost must be between {MIN_COST} and 31, got {cost}")
    if len(key) < MIN_KEY_LENGTH:
        raise ValueError(f"the salt key must be at least {MIN_KEY_LENGTH} characters")
    digest = hmac.new(key.encode(), f"regstack-htpasswd:{user}".encode(), hashlib.sha256)
    encoded = base64.b64encode(digest.digest()[:16]).rstrip(b"=").translate(_TO_BCRYPT_ALPHABET)
    return b"$2b$%02d$" % cost + encoded


def hashed(user: str, password: str, cost: int, key: str) -> str:
    """The stable bcrypt hash of one user's password (the token server's users take it too)."""
    return bcrypt.hashpw(password.encode(), keyed_salt(key, user, cost)).decode()


def entry(user: str, password: str, cost: int, key: str) -> str:
    """One `user:hash` htpasswd line."""
    return f"{user}:{hashed(user, password, cost, key)}"


def htpasswd(users: list[tuple[str, str]], cost: int, key: str) -> str:
    """The whole htpasswd file for (user, password) pairs, in the order given."""
    return "".join(entry(user, password, cost, key) + "\n" for user, password in users)
