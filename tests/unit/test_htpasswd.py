"""htpasswd entries are real bcrypt, identical across runs of a stack while the password is
unchanged, and salted by the stack key, never by the password."""

from __future__ import annotations

import bcrypt
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from components import htpasswd

NAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}", fullmatch=True)
PASSWORDS = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=36
)  # at most 72 UTF-8 bytes, bcrypt's limit
FAST = 10  # the lowest cost we allow keeps property tests quick
KEY = "0123456789abcdef" * 4  # a stack key (components/stack_key.py)
OTHER_KEY = "fedcba9876543210" * 4


def test_an_entry_verifies_with_bcrypt() -> None:
    user, hashed = htpasswd.entry("alice", "s3cret", FAST, KEY).split(":", 1)
    assert user == "alice" and bcrypt.checkpw(b"s3cret", hashed.encode())


def test_the_cost_is_written_into_the_hash() -> None:
    assert htpasswd.entry("alice", "pw", 11, KEY).startswith("alice:$2b$11$")


def test_a_cost_below_ten_is_refused() -> None:
    with pytest.raises(ValueError, match="between 10 and 31"):
        htpasswd.entry("alice", "pw", 9, KEY)


def test_the_file_has_one_line_per_user_in_order() -> None:
    text = htpasswd.htpasswd([("b", "1"), ("a", "2")], FAST, KEY)
    assert [line.split(":")[0] for line in text.splitlines()] == ["b", "a"]


@settings(max_examples=15, deadline=None)
@given(NAMES, PASSWORDS)
def test_the_same_password_gives_the_same_entry(user: str, password: str) -> None:
    assert htpasswd.entry(user, password, FAST, KEY) == htpasswd.entry(user, password, FAST, KEY)


@settings(max_examples=15, deadline=None)
@given(NAMES, PASSWORDS, PASSWORDS)
def test_a_changed_password_changes_the_hash_but_not_the_salt(
    user: str, old: str, new: str
) -> None:
    assume(old != new)
    old_hash = htpasswd.entry(user, old, FAST, KEY).split(":", 1)[1]
    new_hash = htpasswd.entry(user, new, FAST, KEY).split(":", 1)[1]
    assert old_hash != new_hash and old_hash[:29] == new_hash[:29]


@settings(max_examples=10, deadline=None)
@given(NAMES, PASSWORDS)
def test_another_stack_key_gives_another_entry(user: str, password: str) -> None:
    assert htpasswd.entry(user, password, FAST, KEY) != htpasswd.entry(
        user, password, FAST, OTHER_KEY
    )


@settings(max_examples=10, deadline=None)
@given(NAMES, PASSWORDS)
def test_every_entry_verifies_its_own_password(user: str, password: str) -> None:
    hashed = htpasswd.entry(user, password, FAST, KEY).split(":", 1)[1]
    assert bcrypt.checkpw(password.encode(), hashed.encode())


def test_two_users_with_one_password_get_different_hashes() -> None:
    assert (
        htpasswd.entry("a", "pw", FAST, KEY).split(":")[1]
        != htpasswd.entry("b", "pw", FAST, KEY).split(":")[1]
    )
