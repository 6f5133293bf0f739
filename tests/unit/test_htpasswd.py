"""htpasswd entries are real bcrypt, and identical across runs while the password is unchanged."""

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


def test_an_entry_verifies_with_bcrypt() -> None:
    user, hashed = htpasswd.entry("alice", "s3cret", FAST).split(":", 1)
    assert user == "alice" and bcrypt.checkpw(b"s3cret", hashed.encode())


def test_the_cost_is_written_into_the_hash() -> None:
    assert htpasswd.entry("alice", "pw", 11).startswith("alice:$2b$11$")


def test_a_cost_below_ten_is_refused() -> None:
    with pytest.raises(ValueError, match="between 10 and 31"):
        htpasswd.entry("alice", "pw", 9)


def test_the_file_has_one_line_per_user_in_order() -> None:
    text = htpasswd.htpasswd([("b", "1"), ("a", "2")], FAST)
    assert [line.split(":")[0] for line in text.splitlines()] == ["b", "a"]


@settings(max_examples=15, deadline=None)
@given(NAMES, PASSWORDS)
def test_the_same_password_gives_the_same_entry(user: str, password: str) -> None:
    assert htpasswd.entry(user, password, FAST) == htpasswd.entry(user, password, FAST)


@settings(max_examples=15, deadline=None)
@given(NAMES, PASSWORDS, PASSWORDS)
def test_a_changed_password_changes_the_salt_too(user: str, old: str, new: str) -> None:
    assume(old != new)
    assert htpasswd.stable_salt(user, old, FAST) != htpasswd.stable_salt(user, new, FAST)


@settings(max_examples=10, deadline=None)
@given(NAMES, PASSWORDS)
def test_every_entry_verifies_its_own_password(user: str, password: str) -> None:
    hashed = htpasswd.entry(user, password, FAST).split(":", 1)[1]
    assert bcrypt.checkpw(password.encode(), hashed.encode())


def test_two_users_with_one_password_get_different_hashes() -> None:
    assert (
        htpasswd.entry("a", "pw", FAST).split(":")[1]
        != htpasswd.entry("b", "pw", FAST).split(":")[1]
    )
